"""Names that must be unique: what two environments or regions create must not collide in
Google Cloud, and one pipeline may not declare the same trigger twice.

The per-target checks see one environment/region at a time; this check runs once over every
target. Each generated name has a scope in which Google Cloud requires it to be unique (bucket
names are global, dataset and service account ids are per project, key rings per project and
location); two different targets producing the same name in the same scope would fight over
one resource.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from mlopsctl.config import naming
from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.checks.placement import version_aliases
from mlopsctl.config.diagnostics import Diagnostic
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.sourcemap import Path, format_path
from mlopsctl.config.target import Target


@dataclass(frozen=True)
class GeneratedName:
    """A name one target creates in Google Cloud, with the scope it must be unique in."""

    what: str
    """What the name names, as a message says it: ``bucket name``, ``dataset id``."""
    name: str
    scope: tuple[str, ...]
    """Empty for global names; otherwise the GCP project, then the location if it matters."""
    declaration: Path
    field: str | None
    """The key under the declaration that sets the name, if the user wrote it."""
    hint: str

    @property
    def path(self) -> Path:
        return (*self.declaration, self.field) if self.field else self.declaration

    @property
    def where(self) -> str:
        """`` in project P`` or `` in project P, location L``; empty for a global name."""
        if not self.scope:
            return ""
        location = f", location {self.scope[1]}" if len(self.scope) > 1 else ""
        return f" in project {self.scope[0]}{location}"


_BUCKET_HINT = (
    "bucket names are global: put ${env} and ${region} in 'name', "
    "or leave it out to get <project>-<env>-<region>-<key>"
)
_DATASET_HINT = (
    "dataset ids are unique per GCP project: put ${region} (and ${env} if environments share "
    "the project) in 'datasetId', or leave it out to get <key>_<env>_<region>"
)
_ACCOUNT_HINT = "service account ids are unique per GCP project: rename one of the workloads"
_MASTER_CIDR_HINT = (
    "the clusters of one VPC network each need a /28 of their own for the private control plane: "
    "set security.network.masterCidr per region (regionOverrides), or leave it out to get one per "
    "GCP project, environment and region"
)
_KEY_RING_HINT = (
    "a key ring belongs to one environment and region: leave out 'location' so each region gets "
    "its own key, or create the key once and name it with 'key' elsewhere"
)

_METADATA_STORE_HINT = (
    "a GCP project has one Vertex AI metadata store 'default' per region, which tracking.experiments "
    "creates: give each environment its own gcpProject, or turn off tracking.experiments in one of them "
    "(under its overrides)"
)
_MODEL_ID_HINT = (
    "Model Registry model ids (<project>-<model>) are unique per GCP project and region: give each "
    "environment its own gcpProject, or place one environment's endpoints on GKE (placement.endpoints: gke "
    "under its overrides)"
)


def _vertex_names(config: MLOpsConfig, target: Target) -> Iterator[GeneratedName]:
    """What Vertex AI holds once per project and region: the metadata store ``default`` that
    ``tracking.experiments`` creates, and the registry model of each model that endpoints on Vertex AI
    serve. Located at the environment's gcpProject, the setting that makes two environments share them."""
    project = config.environments[target.env].gcp_project
    scope = (project, target.region)
    declaration: Path = ("environments", target.env)
    if config.tracking.experiments:
        yield GeneratedName(
            "Vertex AI metadata store", "default", scope, declaration, "gcpProject", _METADATA_STORE_HINT
        )
    if config.placement.endpoints == "vertex":
        for model in dict.fromkeys(model for model, _ in version_aliases(config)):
            yield GeneratedName(
                "Model Registry model id",
                naming.model_id(config, model),
                scope,
                declaration,
                "gcpProject",
                _MODEL_ID_HINT,
            )


def generated_names(config: MLOpsConfig, target: Target) -> Iterator[GeneratedName]:
    """Every name ``target`` creates that another target could also create."""
    project = config.environments[target.env].gcp_project
    for key, bucket in config.data.buckets.items():
        yield GeneratedName(
            "bucket name",
            naming.bucket_name(config, target, key, bucket),
            (),
            ("data", "buckets", key),
            "name" if bucket.name else None,
            _BUCKET_HINT,
        )
    for key, dataset in config.data.datasets.items():
        yield GeneratedName(
            "dataset id",
            naming.dataset_id(target, key, dataset),
            (project,),
            ("data", "datasets", key),
            "datasetId" if dataset.dataset_id else None,
            _DATASET_HINT,
        )
    for kind, name, source in naming.workloads(config):
        account_id = naming.gsa_account_id(kind, name, target)
        yield GeneratedName("service account id", account_id, (project,), source, None, _ACCOUNT_HINT)
    network = config.security.network
    if network.private_cluster:
        yield GeneratedName(
            "control plane range",
            naming.master_cidr(config, target),
            (naming.network_project(config, target),),
            ("security", "network"),
            "masterCidr" if network.master_cidr else None,
            _MASTER_CIDR_HINT,
        )
    for key, spec in config.security.kms.items():
        if spec.key is None:
            yield GeneratedName(
                "key ring",
                naming.key_ring_name(config, target),
                (project, spec.location or target.region),
                ("security", "kms", key),
                "location" if spec.location else None,
                _KEY_RING_HINT,
            )
    yield from _vertex_names(config, target)


@dataclass(frozen=True)
class Collision:
    """Several targets generate the same name in one scope."""

    targets: tuple[Target, ...]
    """Every target that uses the name, in the order of the configs."""
    diagnostic: Diagnostic
    """Pointing at the declaration in the last of ``targets``."""


def unique_names(configs: Mapping[Target, MLOpsConfig]) -> list[Collision]:
    """An E310 for each name that two or more targets would create in the same scope.

    A name repeated within one target is the per-target checks' concern.
    """
    users: dict[tuple[str, tuple[str, ...], str], dict[Target, GeneratedName]] = {}
    for target, config in configs.items():
        for generated in generated_names(config, target):
            users.setdefault((generated.what, generated.scope, generated.name), {}).setdefault(
                target, generated
            )
    found = []
    for by_target in users.values():
        if len(by_target) < 2:
            continue
        targets = tuple(by_target)
        generated = by_target[targets[-1]]
        named = ", ".join(str(t) for t in targets[:-1]) + f" and {targets[-1]}"
        message = (
            f"{generated.what} '{generated.name}' is used by {named}"
            f"{generated.where} ({format_path(generated.declaration)})"
        )
        found.append(
            Collision(targets, Diagnostic("E310", message, path=generated.path, hint=generated.hint))
        )
    return found


@check
def unique_triggers(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Two identical ``newData`` triggers of one pipeline would be one poller CronJob, named after
    the pipeline, the watched bucket or dataset and a hash of the trigger."""
    for name, pipeline in ctx.config.pipelines.items():
        first: dict[str, int] = {}
        for i, trigger in enumerate(pipeline.triggers):
            if trigger.new_data is None:
                continue
            key = trigger.new_data.model_dump_json()
            earlier = first.setdefault(key, i)
            if earlier != i:
                yield Diagnostic(
                    "E310",
                    f"trigger {i + 1} of pipeline '{name}' repeats trigger {earlier + 1}: "
                    "both would start it from one poller",
                    path=("pipelines", name, "triggers", i),
                    hint="remove one of the two, or watch another prefix, table or dataset",
                )


@check
def unique_regions(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A region listed twice in one environment would be one target, deployed as if listed once."""
    for name, env in ctx.config.environments.items():
        for i, region in enumerate(env.regions):
            if region in env.regions[:i]:
                yield Diagnostic(
                    "E310",
                    f"environment '{name}' lists region '{region}' twice",
                    path=("environments", name, "regions", i),
                    hint="list each region once; its place in the list is its turn in a rollout",
                )
