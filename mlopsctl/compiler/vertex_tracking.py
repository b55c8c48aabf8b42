"""Experiment tracking on Vertex AI (``tracking``), for pipelines on either placement.

Metadata store. Vertex AI Experiments, and the lineage of every Vertex AI pipeline run, live in the
region's metadata store ``default``, the only one the console and the SDK show experiments of. With
``experiments`` on, mlopsctl creates it (an ``AiMetadataStore``, per environment and region) rather than
leaving Vertex AI to create it on first use: only a store created before that use can be encrypted with
the project's key (``security.defaultKmsKey``, which the Vertex AI service agent is granted). The store
is immutable as a whole and destroying it loses every experiment and lineage record, so it is
protected, and has no description (Vertex AI gives the ``default`` it creates none): a store that
Vertex AI already created is adopted as it is by the pulumi target, which plans it as an import
(``mlopsctl.pulumi.adopt``, docs/vertex.md). Every grant of
``roles/aiplatform.user`` waits for it, so no run a grant allows starts before the store exists.

Experiments. pulumi-gcp has no experiment resource, so each pipeline's experiment
(``<project>-<pipeline>-<env>``) is a name the steps that log runs are given (``MLOPSCTL_EXPERIMENT``,
docs/stages.md): ``evaluate`` and the ``train-job`` launcher, with ``--run-id`` the pipeline run's id, so
that every step of a run logs to one experiment run (``pipelines.step_settings`` hands both to the
compiled steps).

TensorBoard. One ``AiTensorboard`` per environment and region. Its id is assigned by Vertex AI, so
steps are given it by its display name (``MLOPSCTL_TENSORBOARD``): the steps that log runs, and
``train`` steps, whose own code may write to it.

The accounts of pipelines with such steps get ``roles/aiplatform.user`` on the project: Vertex AI
has no narrower predefined role that writes experiment runs and TensorBoard data.
"""

from __future__ import annotations

from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.iam import PROJECT_IAM_MEMBER
from mlopsctl.compiler.identity import Identity, identity_of
from mlopsctl.compiler.kms import default_key
from mlopsctl.config.models.pipelines import Step
from mlopsctl.config.models.roles import launcher_stage
from mlopsctl.config.naming import shorten
from mlopsctl.config.sourcemap import Path
from mlopsctl.graph import JSON

TENSORBOARD = "gcp:vertex/aiTensorboard:AiTensorboard"
METADATA_STORE_TYPE = "gcp:vertex/aiMetadataStore:AiMetadataStore"
AIPLATFORM_USER = "roles/aiplatform.user"
EXPERIMENT_ENV = "MLOPSCTL_EXPERIMENT"
TENSORBOARD_ENV = "MLOPSCTL_TENSORBOARD"
RUN_ID = "{{$.pipeline_job_uuid}}"
"""The ``--run-id`` of a step that logs runs: the pipeline run's id. Kubeflow Pipelines' driver fills it in
only as a task's input value, never in a container's args (Vertex AI and kfp.local fill it there too), so
``kfp_dag`` passes it through an input."""
METADATA_STORE = "default"
EXPERIMENT_ID_LIMIT = 64
"""Experiment ids are ``[a-z0-9][a-z0-9-]{0,127}``; a run's context is ``<experiment>-<run id>``, also
at most 128 characters."""


def build(ctx: BuildContext) -> None:
    tracking = ctx.config.tracking
    metadata_store(ctx)
    if tracking.tensorboard:
        encryption, key_deps = default_key(ctx, "aiplatform", "encryptionSpec")
        ctx.add(
            TENSORBOARD,
            ctx.config.project.name,
            {
                "displayName": tensorboard_display_name(ctx),
                "description": f"TensorBoard of {ctx.config.project.name} in {ctx.target.env} (mlopsctl).",
                "project": ctx.gcp_project,
                "region": ctx.target.region,
                "labels": ctx.gcp_labels(),
                **encryption,
            },
            source=("tracking", "tensorboard"),
            depends_on=key_deps,
            protect=True,  # it holds every run's logged scalars: replacing it loses them
        )
    for name, pipeline in ctx.config.pipelines.items():
        if any(tracking_env(ctx, name, step) for step in pipeline.steps.values()):
            who = identity_of(ctx, "pipeline", name, pipeline.service_account)
            grant_aiplatform_user(ctx, who, ("pipelines", name))


def metadata_store(ctx: BuildContext) -> tuple[str, ...]:
    """The region's metadata store ``default`` (added once), when ``tracking.experiments`` is on: its
    address, what a run that records to it must wait for; nothing when it is off."""
    if not ctx.config.tracking.experiments:
        return ()
    address = ctx.address(METADATA_STORE_TYPE, METADATA_STORE)
    if address not in ctx.graph.resources:
        inputs: dict[str, JSON] = {
            "name": METADATA_STORE,
            "project": ctx.gcp_project,
            "region": ctx.target.region,
        }
        encryption, key_deps = default_key(ctx, "aiplatform", "encryptionSpec")
        inputs.update(encryption)
        source = ("tracking", "experiments")
        ctx.add(METADATA_STORE_TYPE, METADATA_STORE, inputs, source=source, depends_on=key_deps, protect=True)
    return (address,)


def logs_runs(step: Step) -> bool:
    """Whether the step's stage logs an experiment run: ``evaluate``, and the ``train-job`` launcher."""
    return step.kind == "evaluate" or launcher_stage(step) == "train-job"


def experiment_id(ctx: BuildContext, pipeline: str) -> str:
    return shorten(f"{ctx.config.project.name}-{pipeline}-{ctx.target.env}", EXPERIMENT_ID_LIMIT)


def experiment(ctx: BuildContext, pipeline: str) -> str:
    """The experiment (a Metadata context) that the runs of ``pipeline`` log to."""
    store = f"projects/{ctx.gcp_project}/locations/{ctx.target.region}/metadataStores/{METADATA_STORE}"
    return f"{store}/contexts/{experiment_id(ctx, pipeline)}"


def tensorboard_display_name(ctx: BuildContext) -> str:
    return f"{ctx.config.project.name}-{ctx.target.env}-{ctx.target.region}"


def tensorboard(ctx: BuildContext) -> str:
    """The TensorBoard of the target, by its display name (its id is Vertex AI's)."""
    location = f"projects/{ctx.gcp_project}/locations/{ctx.target.region}"
    return f"{location}/tensorboards/{tensorboard_display_name(ctx)}"


def tracking_env(ctx: BuildContext, pipeline: str, step: Step) -> dict[str, str]:
    """The environment variables that make ``step`` of ``pipeline`` log to Vertex AI (none without
    ``tracking``). A step given ``MLOPSCTL_EXPERIMENT`` also takes ``--run-id`` :data:`RUN_ID`."""
    tracking = ctx.config.tracking
    found: dict[str, str] = {}
    if tracking.experiments and logs_runs(step):
        found[EXPERIMENT_ENV] = experiment(ctx, pipeline)
    if tracking.tensorboard and (logs_runs(step) or step.kind == "train"):
        found[TENSORBOARD_ENV] = tensorboard(ctx)
    return found


def grant_aiplatform_user(ctx: BuildContext, who: Identity, source: Path) -> str:
    """``roles/aiplatform.user`` on the project for ``who`` (added once), what both running pipelines on
    Vertex AI and logging to it take: the address of the grant, which waits for the metadata store
    (:func:`metadata_store`) that such runs record to."""
    account = ctx.graph.resources[who.gsa_address]
    name = f"{account.name}-aiplatform-user"
    address = ctx.address(PROJECT_IAM_MEMBER, name)
    if address not in ctx.graph.resources:
        inputs: dict[str, JSON] = {
            "project": ctx.gcp_project,
            "role": AIPLATFORM_USER,
            "member": f"serviceAccount:{who.gsa_email}",
        }
        depends_on = (account.address, *metadata_store(ctx))
        ctx.add(PROJECT_IAM_MEMBER, name, inputs, source=source, depends_on=depends_on)
    return address
