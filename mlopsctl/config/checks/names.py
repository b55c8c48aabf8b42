"""Names are valid for what they become in Google Cloud and Kubernetes, after prefixes."""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlopsctl.config import naming
from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.checks.parameters import retrained
from mlopsctl.config.checks.references import endpoint_members
from mlopsctl.config.diagnostics import Diagnostic
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.models.compute import SYSTEM_POOL, hosts_system_workloads, needs_system_pool
from mlopsctl.config.resolve import valid_value
from mlopsctl.config.sourcemap import Path

_IP_ADDRESS = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,3}){3}$")
KSERVE_NAME_LIMIT = 45
"""KServe and Knative add suffixes such as '-predictor-00001-private' to an InferenceService name."""
PROJECT_ID_RESTRICTED = ("google", "ssl")


def bucket_name_problem(name: str) -> tuple[str, str] | None:
    """(code, reason) why ``name`` cannot be a Cloud Storage bucket name, or None."""
    parts = name.split(".")
    if len(name) > (222 if len(parts) > 1 else 63) or any(len(p) > 63 for p in parts):
        return "E404", "is longer than Cloud Storage allows (63 characters; 222 with dots, 63 between them)"
    if len(name) < 3:
        return "E304", "is shorter than 3 characters"
    if not naming.BUCKET_NAME.match(name) or ".." in name or ".-" in name or "-." in name:
        return "E304", (
            "may only use lowercase letters, digits, '-', '_' and '.', "
            "and must start and end with a letter or digit"
        )
    if name.startswith("goog") or "google" in name:
        return "E304", "must not start with 'goog' or contain 'google'"
    if _IP_ADDRESS.match(name):
        return "E304", "must not look like an IP address"
    return None


def dns_label_problem(name: str, limit: int = 63) -> tuple[str, str] | None:
    """(code, reason) why ``name`` cannot be a Kubernetes (DNS-1123 label) name, or None."""
    if len(name) > limit:
        return "E404", f"is {len(name)} characters long; the limit is {limit}"
    if not naming.DNS_LABEL.match(name):
        return "E304", "is not a DNS-1123 label (lowercase letters, digits and '-', alphanumeric ends)"
    return None


@check
def buckets(ctx: CheckContext) -> Iterator[Diagnostic]:
    seen: dict[str, str] = {}
    for key, bucket in ctx.config.data.buckets.items():
        name = naming.bucket_name(ctx.config, ctx.target, key, bucket)
        path: Path = ("data", "buckets", key, "name") if bucket.name else ("data", "buckets", key)
        problem = bucket_name_problem(name)
        if problem and (bucket.name or _env_named_validly(ctx)):
            code, reason = problem
            hint = (
                "choose another name"
                if bucket.name
                else "the default name is <project>-<env>-<region>-<key>; set 'name' to choose another"
            )
            yield Diagnostic(
                code, f"bucket name '{name}' of data.buckets.{key} {reason}", path=path, hint=hint
            )
        if name in seen:
            yield Diagnostic(
                "E310",
                f"buckets '{seen[name]}' and '{key}' would both be named '{name}'",
                path=path,
                hint="bucket names are global; give each bucket its own name",
            )
        seen.setdefault(name, key)
    yield from _pipeline_root(ctx, seen)


def _env_named_validly(ctx: CheckContext) -> bool:
    """Whether the target's environment has a valid name: else a default name made of it is wrong for
    that reason alone, which the name's own error says (once, where it is written)."""
    return valid_value("env", ctx.target.env)


def _pipeline_root(ctx: CheckContext, seen: dict[str, str]) -> Iterator[Diagnostic]:
    """The bucket mlopsctl adds for pipeline runs, unless one is declared under its key."""
    if not naming.has_pipeline_root(ctx.config) or naming.PIPELINE_ROOT in ctx.config.data.buckets:
        return
    name = naming.bucket_of(ctx.config, ctx.target, naming.PIPELINE_ROOT)
    declare = f"declare data.buckets.{naming.PIPELINE_ROOT} with a 'name'"
    problem = bucket_name_problem(name)
    if problem and _env_named_validly(ctx):
        code, reason = problem
        yield Diagnostic(
            code,
            f"bucket name '{name}' of the pipeline root, which pipeline runs write to, {reason}",
            path=("project", "name"),
            hint=f"{declare} to choose another",
        )
    if name in seen:
        yield Diagnostic(
            "E310",
            f"bucket '{seen[name]}' would be named '{name}', like the pipeline root",
            path=("data", "buckets", seen[name]),
            hint=f"rename the bucket, or {declare}",
        )


@check
def datasets(ctx: CheckContext) -> Iterator[Diagnostic]:
    seen: dict[str, str] = {}
    for key, dataset in ctx.config.data.datasets.items():
        dataset_id = naming.dataset_id(ctx.target, key, dataset)
        path: Path = ("data", "datasets", key)
        if dataset.dataset_id:
            path = (*path, "datasetId")
        if len(dataset_id) > 1024:
            yield Diagnostic(
                "E404",
                f"dataset id of data.datasets.{key} is longer than 1024 characters",
                path=path,
                hint="choose a shorter datasetId",
            )
        elif not naming.DATASET_ID.match(dataset_id) and (dataset.dataset_id or _env_named_validly(ctx)):
            yield Diagnostic(
                "E304",
                f"dataset id '{dataset_id}' of data.datasets.{key} may only use letters, digits and '_'",
                path=path,
                hint="BigQuery dataset ids cannot contain '-', '.' or spaces; use '_' instead",
            )
        if dataset_id in seen:
            yield Diagnostic(
                "E310",
                f"datasets '{seen[dataset_id]}' and '{key}' would both have the id '{dataset_id}'",
                path=path,
                hint="give each dataset its own datasetId",
            )
        seen.setdefault(dataset_id, key)


@check
def namespace(ctx: CheckContext) -> Iterator[Diagnostic]:
    name = naming.namespace(ctx.config)
    problem = dns_label_problem(name)
    if problem:
        code, reason = problem
        path: Path = ("project", "namespace") if ctx.config.project.namespace else ("project", "name")
        yield Diagnostic(
            code,
            f"namespace '{name}' {reason}",
            path=path,
            hint="set project.namespace to a valid Kubernetes namespace name",
        )


@check
def serving_names(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Each variant (or graph step) becomes an InferenceService named ``<endpoint>-<variant>`` (on GKE)."""
    if ctx.config.placement.endpoints != "gke":
        return
    for e, endpoint in ctx.config.endpoints.items():
        for label, member_name, _, path in endpoint_members(e, endpoint):
            name = f"{e}-{member_name}"
            problem = dns_label_problem(name, KSERVE_NAME_LIMIT)
            if problem:
                code, reason = problem
                yield Diagnostic(
                    code,
                    f"InferenceService name '{name}' of {label} '{member_name}' {reason}",
                    path=path,
                    hint=f"shorten the endpoint or {label} name: KServe appends suffixes such as "
                    f"'-predictor-00001-private' and the result must fit Kubernetes' 63-character limit",
                )


@check
def gcp_project(ctx: CheckContext) -> Iterator[Diagnostic]:
    env = ctx.config.environments.get(ctx.target.env)
    if env is None:
        return
    found = [word for word in PROJECT_ID_RESTRICTED if word in env.gcp_project]
    if found:
        yield Diagnostic(
            "E304",
            f"GCP project id '{env.gcp_project}' contains the restricted word '{found[0]}'",
            path=("environments", ctx.target.env, "gcpProject"),
            hint="Google Cloud project ids cannot contain 'google' or 'ssl'; use an existing project's id",
        )


@check
def cluster_name(ctx: CheckContext) -> Iterator[Diagnostic]:
    """The cluster is named ``<project>-<env>-<region>`` (region shortened, e.g. usc1), if there is one."""
    if not ctx.config.needs_cluster:
        return
    name = naming.cluster_name(ctx.config, ctx.target)
    if len(name) > naming.CLUSTER_NAME_LIMIT:
        yield Diagnostic(
            "E404",
            f"GKE cluster name '{name}' is {len(name)} characters long; the limit is "
            f"{naming.CLUSTER_NAME_LIMIT}",
            path=("project", "name"),
            hint=f"the cluster is named <project>-<env>-<region>: shorten the project name "
            f"or environment '{ctx.target.env}' by {len(name) - naming.CLUSTER_NAME_LIMIT} characters",
        )


@check
def system_pool(ctx: CheckContext) -> Iterator[Diagnostic]:
    """mlopsctl adds a pool named ``system`` when no declared pool can host system workloads."""
    pools = ctx.config.accelerators
    if SYSTEM_POOL in pools and needs_system_pool(pools) and not hosts_system_workloads(pools[SYSTEM_POOL]):
        yield Diagnostic(
            "E310",
            f"node pool '{SYSTEM_POOL}' would share its name with the pool mlopsctl adds for "
            "system workloads (no declared pool is an on-demand CPU pool with minNodes of 1 or more)",
            path=("accelerators", SYSTEM_POOL),
            hint=f"rename the pool, or make '{SYSTEM_POOL}' a CPU pool with spot: false and minNodes >= 1",
        )


PUBSUB_RESERVED_PREFIX = "goog"


@check
def pubsub_topics(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A monitor on Vertex AI that retrains gets a Pub/Sub topic (and subscriptions) named
    ``<project>-<env>-<region>-monitor-<monitor>-retrain``; Pub/Sub refuses names starting with 'goog'."""
    name = ctx.config.project.name
    if ctx.config.placement.monitors != "vertex" or not name.startswith(PUBSUB_RESERVED_PREFIX):
        return
    retraining = [m for m in ctx.config.monitors if retrained(ctx.config, m)]
    if retraining:
        yield Diagnostic(
            "E304",
            f"the Pub/Sub topic of monitor '{retraining[0]}', which carries its alerts to the retraining "
            f"runs, would be named '{name}-...' and Pub/Sub refuses names starting with "
            f"'{PUBSUB_RESERVED_PREFIX}'",
            path=("project", "name"),
            hint="the topic is named <project>-<env>-<region>-monitor-<monitor>-retrain: choose a project "
            f"name that does not start with '{PUBSUB_RESERVED_PREFIX}'",
        )


LABEL_LIMIT = 64
"""Google Cloud takes at most 64 labels on a resource."""
OWN_LABELS = 9
"""The labels mlopsctl puts beside the user's, at most: managed-by, mlops-project, mlops-env,
mlops-region, the provenance's mlops-type, mlops-name and mlops-commit, and up to two of mlops-pipeline,
mlops-model, mlops-endpoint and mlops-monitor."""
RESERVED_LABELS = frozenset(
    {
        "managed-by",
        "mlops-project",
        "mlops-env",
        "mlops-region",
        "mlops-type",
        "mlops-name",
        "mlops-commit",
        "mlops-pipeline",
        "mlops-model",
        "mlops-endpoint",
        "mlops-monitor",
    }
)


def _labelled(cfg: MLOpsConfig) -> Iterator[tuple[str, Path, dict[str, str], dict[str, str]]]:
    """What the user labels beside the project and environment: (what, path of its labels, the labels
    written there, all it carries of its own)."""
    for b, bucket in cfg.data.buckets.items():
        yield f"bucket '{b}'", ("data", "buckets", b, "labels"), bucket.labels, bucket.labels
    for d, dataset in cfg.data.datasets.items():
        yield f"dataset '{d}'", ("data", "datasets", d, "labels"), dataset.labels, dataset.labels
        for t, table in dataset.tables.items():
            path: Path = ("data", "datasets", d, "tables", t, "labels")
            yield f"table '{d}.{t}'", path, table.labels, {**dataset.labels, **table.labels}
    for p, pool in cfg.accelerators.items():
        yield f"node pool '{p}'", ("accelerators", p, "labels"), pool.labels, pool.labels
    for m, model in cfg.models.items():
        for v, version in model.versions.items():
            path = ("models", m, "versions", v, "labels")
            yield f"version '{v}' of model '{m}'", path, version.labels, version.labels
    features = cfg.features
    for key, what, section in (
        ("groups", "feature group", features.groups),
        ("onlineStores", "online store", features.online_stores),
        ("views", "feature view", features.views),
    ):
        for name, spec in section.items():
            yield f"{what} '{name}'", ("features", key, name, "labels"), spec.labels, spec.labels


@check
def labels(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Labels stay within Google Cloud's 64 per resource with mlopsctl's own, whose keys they leave alone."""
    env = ctx.config.environments.get(ctx.target.env)
    env_labels = env.labels if env is not None else {}
    env_path: Path = ("environments", ctx.target.env, "labels")
    yield from _reserved(("project", "labels"), ctx.config.project.labels)
    yield from _reserved(env_path, env_labels)
    shared = {**ctx.config.project.labels, **env_labels}
    if len(shared) + OWN_LABELS > LABEL_LIMIT:
        yield _too_many(
            "every Google Cloud resource", env_path if env_labels else ("project", "labels"), shared
        )
        return
    for what, path, written, own in _labelled(ctx.config):
        yield from _reserved(path, written)
        if len(shared | own) + OWN_LABELS > LABEL_LIMIT:
            yield _too_many(what, path, shared | own)


def _too_many(what: str, path: Path, given: dict[str, str]) -> Diagnostic:
    return Diagnostic(
        "E404",
        f"{what} would carry {len(given)} labels of the config and up to {OWN_LABELS} of mlopsctl's; "
        f"Google Cloud allows {LABEL_LIMIT}",
        path=path,
        hint=f"keep project.labels, the environment's labels and the resource's own to "
        f"{LABEL_LIMIT - OWN_LABELS} distinct keys together",
    )


def _reserved(path: Path, given: dict[str, str]) -> Iterator[Diagnostic]:
    for key in sorted(RESERVED_LABELS & set(given)):
        yield Diagnostic(
            "E310",
            f"label '{key}' is one mlopsctl sets on what it creates, which would replace the config's value",
            path=(*path, key),
            hint=f"rename the label; mlopsctl's own are {', '.join(sorted(RESERVED_LABELS))}",
        )
