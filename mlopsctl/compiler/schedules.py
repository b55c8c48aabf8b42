"""Runs of published pipelines: schedules, new-data triggers and batch prediction jobs.

Kubeflow Pipelines has no declarative recurring run, so each one is a Kubernetes
CronJob whose pod runs ``mlopsctl-stage start-run`` (``project.stageImage``):
it starts a run of the published PipelineVersion through the KFP API, as the
pipeline's own service account. A new-data trigger is a CronJob that polls: its
``whenNewData`` condition starts a run only if objects or partitions appeared
since the last run. A batch job is a one-step pipeline (the ``batch-predict``
stage, which sends the rows to an endpoint that serves the job's model version)
published like any other, with a CronJob when it has a schedule.

Each account that starts runs gets a Role with exactly the KFP API calls its starters make
(``RUN_RULES``, ``POLL_RULES``); each account that runs execute as (every pipeline's and batch
job's on Kubeflow Pipelines, whoever starts the run) gets one with what the run's pods need
(``RUN_STEP_RULES``).
A CronJob's pod authenticates with a projected service account token for the KFP audience (the
``cronjob`` template; a monitor's pod gets the same from :data:`mlopsctl.compiler.pods.KFP_CLIENT_VOLUME`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

from mlopsctl.compiler import rbac
from mlopsctl.compiler.bigquery import table_schema
from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.identity import NAMESPACE, Identity, identity_of
from mlopsctl.compiler.kfp_dag import STAGE_PROGRAM
from mlopsctl.compiler.pipelines import bigquery_name, gcs_uri, publish, published_version
from mlopsctl.config.endpoints import batch_endpoint
from mlopsctl.config.models.pipelines import NewData, Pipeline, Schedule
from mlopsctl.config.models.serving import BatchIO, BatchJob
from mlopsctl.config.naming import batch_pipeline, namespace, shorten
from mlopsctl.config.sourcemap import Path
from mlopsctl.graph import JSON, Resource, canonical_json

KFP_API = "ml-pipeline.kubeflow.svc.cluster.local:8888"
"""The in-cluster Kubeflow Pipelines API server (its gRPC and HTTP ports share the service)."""
POLL_SCHEDULE = "*/10 * * * *"
"""How often new-data triggers look for new data."""
BATCH_SIZE = 64
"""Rows per request to the endpoint."""
BATCH_CONCURRENCY = 4
"""Requests in flight at once."""
BATCH_RETRIES = 3
"""Attempts after the first for a request that failed (connection errors, 429 and 5xx answers)."""
CRONJOB_NAME_LIMIT = 52
"""The CronJob controller appends an 11-character suffix to name each Job."""
_KFP = "pipelines.kubeflow.org"
RUN_RULES: list[dict[str, JSON]] = [
    rbac.rule(_KFP, ["pipelines"], ["get", "list"]),
    rbac.rule(_KFP, ["experiments"], ["create", "list"]),
    rbac.rule(_KFP, ["runs"], ["create"]),
]
"""What starting a run through the KFP API takes. Multi-user KFP 2.17 authenticates the caller by
its token (TokenReview, audience ``pipelines.kubeflow.org``) and asks Kubernetes whether it may
(a SubjectAccessReview in the namespace, group ``pipelines.kubeflow.org``) do each call the
``start-run`` stage makes: get the pipeline by name (``pipelines`` get), list its versions
(``pipelines`` list: versions are checked as their pipeline), find or create the experiment
(``experiments`` list, create) and create the run (``runs`` create)."""
POLL_RULES: list[dict[str, JSON]] = [*RUN_RULES[:2], rbac.rule(_KFP, ["runs"], ["create", "list"])]
"""RUN_RULES, and listing runs (``runs`` list): a new-data trigger compares with the last run."""
RUN_STEP_RULES: list[dict[str, JSON]] = [
    rbac.rule("argoproj.io", ["workflowtaskresults"], ["create", "patch"]),
    rbac.rule("", ["configmaps"], ["get"], ["kfp-launcher"]),
]
"""What the pods of a run need from the account they execute as: Argo's executor reports each
step's outputs as workflow task results, and the KFP driver reads its settings from the
``kfp-launcher`` ConfigMap."""


@dataclass(frozen=True)
class RunStarter:
    """A CronJob that starts runs of one published pipeline."""

    name: str
    pipeline: str
    who: Identity
    schedule: Schedule
    parameters: dict[str, JSON]
    source: Path
    when_new_data: dict[str, JSON] | None = None


def build(ctx: BuildContext) -> None:
    for name, job in ctx.config.batch_jobs.items():
        batch = _batch_pipeline(ctx, name, job)
        publish(ctx, batch_pipeline(name), batch, source=("batchJobs", name), component="batch", in_mesh=True)
    starters = [*_pipeline_starters(ctx), *_batch_starters(ctx)]
    steps = {
        ksa: rbac.grant(ctx, f"{ksa}-run-steps", ksa, RUN_STEP_RULES, component="pipeline", source=source)
        for ksa, source in _runners(ctx, starters).items()
    }
    api: dict[str, Resource] = {}
    for starter in starters:
        ksa = starter.who.ksa
        if ksa not in api:
            polls = any(s.when_new_data is not None for s in starters if s.who.ksa == ksa)
            rules = POLL_RULES if polls else RUN_RULES
            api[ksa] = rbac.grant(ctx, f"{ksa}-runs", ksa, rules, component="schedule", source=starter.source)
        add_run_starter(ctx, starter, depends_on=(api[ksa].address, steps[ksa].address))


def _runners(ctx: BuildContext, starters: list[RunStarter]) -> dict[str, Path]:
    """The accounts runs execute as, with the pipeline or batch job each is first named for: those
    the run starters name and, on Kubeflow Pipelines, those of every pipeline and batch job, as a run
    executes as its pipeline's account whoever starts it (a schedule, a trigger, a monitor that
    retrains, ``mlopsctl run`` or the KFP UI)."""
    found: dict[str, Path] = {}
    for starter in starters:
        found.setdefault(starter.who.ksa, starter.source[:2])
    if ctx.config.placement.pipelines == "vertex":  # Vertex AI runs execute as Google accounts
        return found
    for name, pipeline in ctx.config.pipelines.items():
        who = identity_of(ctx, "pipeline", name, pipeline.service_account)
        found.setdefault(who.ksa, ("pipelines", name))
    for name in ctx.config.batch_jobs:
        found.setdefault(identity_of(ctx, "batch", name).ksa, ("batchJobs", name))
    return found


def add_run_starter(ctx: BuildContext, starter: RunStarter, depends_on: tuple[str, ...] = ()) -> Resource:
    """The CronJob of ``starter``, which depends on the version it starts."""
    ns = namespace(ctx.config)
    version = published_version(ctx, starter.pipeline)
    config: dict[str, JSON] = {
        "endpoint": KFP_API,
        "namespace": ns,
        "pipeline": starter.pipeline,
        "pipelineVersion": version.name,
        "experiment": starter.pipeline,
        "parameters": starter.parameters,
        "serviceAccount": starter.who.ksa,
    }
    if starter.when_new_data is not None:
        config["whenNewData"] = starter.when_new_data
    image = ctx.config.project.stage_image
    return ctx.add_manifest(
        "cronjob",
        source=starter.source,
        depends_on=(
            ctx.address(NAMESPACE, ns),
            ctx.address(rbac.SERVICE_ACCOUNT, starter.who.ksa),
            version.address,
            *depends_on,
        ),
        name=starter.name,
        namespace=ns,
        labels=ctx.k8s_labels("schedule"),
        schedule=starter.schedule.cron,
        time_zone=starter.schedule.time_zone,
        concurrency_policy=starter.schedule.concurrency_policy,
        service_account=starter.who.ksa,
        image=image,
        command=[STAGE_PROGRAM, "start-run"],
        args=["--config", json.dumps(config, sort_keys=True)],
    )


def _pipeline_starters(ctx: BuildContext) -> Iterator[RunStarter]:
    """None for pipelines placed on Vertex AI, whose schedules and triggers are Vertex AI's
    (:mod:`mlopsctl.compiler.vertex_pipelines`)."""
    if ctx.config.placement.pipelines == "vertex":
        return
    for name, pipeline in ctx.config.pipelines.items():
        who = identity_of(ctx, "pipeline", name, pipeline.service_account)
        if pipeline.schedule is not None:
            yield RunStarter(
                name=_cronjob_name(name, "schedule"),
                pipeline=name,
                who=who,
                schedule=pipeline.schedule,
                parameters={**pipeline.parameters, **pipeline.schedule.parameters},
                source=("pipelines", name, "schedule"),
            )
        for i, trigger in enumerate(pipeline.triggers):
            if trigger.new_data is not None:
                yield _new_data_starter(ctx, name, pipeline, who, trigger.new_data, i)


def _new_data_starter(
    ctx: BuildContext, name: str, pipeline: Pipeline, who: Identity, new_data: NewData, index: int
) -> RunStarter:
    """A poller named after the pipeline, what it watches and a hash of the trigger (not its position)."""
    watched = new_data.bucket or new_data.dataset
    digest = hashlib.sha256(canonical_json(new_data.model_dump(mode="json")).encode()).hexdigest()[:6]
    return RunStarter(
        name=_cronjob_name(name, f"on-{watched}-{digest}"),
        pipeline=name,
        who=who,
        schedule=Schedule(cron=POLL_SCHEDULE),
        parameters=dict(pipeline.parameters),
        source=("pipelines", name, "triggers", index, "newData"),
        when_new_data=_watched(ctx, new_data),
    )


def _watched(ctx: BuildContext, new_data: NewData) -> dict[str, JSON]:
    """What a trigger watches: objects under a GCS prefix, or a table's (or dataset's) partitions."""
    if new_data.bucket is not None:
        return {"gcs": gcs_uri(ctx, f"{new_data.bucket}/{new_data.prefix}")}
    assert new_data.dataset is not None
    key = "table" if new_data.table else "dataset"
    return {"bigquery": {key: bigquery_name(ctx, new_data.dataset, new_data.table)}}


def _batch_starters(ctx: BuildContext) -> Iterator[RunStarter]:
    for name, job in ctx.config.batch_jobs.items():
        if job.schedule is not None:
            yield RunStarter(
                name=_cronjob_name(batch_pipeline(name), "schedule"),
                pipeline=batch_pipeline(name),
                who=identity_of(ctx, "batch", name),
                schedule=job.schedule,
                parameters=dict(job.schedule.parameters),
                source=("batchJobs", name, "schedule"),
            )


def _batch_pipeline(ctx: BuildContext, name: str, job: BatchJob) -> Pipeline:
    """One ``batch-predict`` step, never cached (the same input table or prefix holds new rows each
    time), asking for no accelerator: the endpoint's replicas hold them."""
    model = ctx.config.models[job.model]
    served = batch_endpoint(ctx.config, job)
    assert served is not None, "checked by config.checks.schedules"
    config = {
        "model": {
            "name": job.model,
            "version": job.version,
            "uri": model.versions[job.version].artifact_uri,
            "framework": model.framework,
        },
        "endpoint": {"url": served.url, "protocol": served.protocol, "modelName": served.model_name},
        "input": _batch_io(ctx, job.input),
        "output": _batch_io(ctx, job.output, output=True),
        "batchSize": BATCH_SIZE,
        "concurrency": BATCH_CONCURRENCY,
        "retries": BATCH_RETRIES,
    }
    step = {
        "kind": "container",
        "image": ctx.config.project.stage_image,
        "command": [STAGE_PROGRAM, "batch-predict"],
        "args": ["--config", json.dumps(config, sort_keys=True)],
        "cache": False,
        "resources": {"nodePool": job.node_pool},
    }
    return Pipeline.model_validate(
        {
            "description": f"Batch prediction job '{name}': {job.model} {job.version}.",
            "steps": {"batch-predict": step},
        }
    )


def _batch_io(ctx: BuildContext, io: BatchIO, *, output: bool = False) -> dict[str, JSON]:
    """Where a batch job reads or writes; an output table declared with a schema also lists its
    columns, ``{name, mode}`` each: the stage writes no other (BigQuery refuses a row with another),
    and leaves out one it cannot fill unless its mode is REQUIRED."""
    if io.bigquery is not None:
        found: dict[str, JSON] = {"table": bigquery_name(ctx, io.bigquery.dataset, io.bigquery.table)}
        dataset = ctx.config.data.datasets.get(io.bigquery.dataset)
        table = dataset.tables.get(io.bigquery.table) if dataset is not None else None
        schema = table_schema(ctx, table) if output and table is not None else None
        if schema is not None:
            found["columns"] = [
                {"name": column["name"], "mode": str(column.get("mode") or "NULLABLE").upper()}
                for column in schema
                if isinstance(column, dict)
            ]
        return {"bigquery": found}
    assert io.gcs is not None
    return {"gcs": gcs_uri(ctx, io.gcs.removeprefix("gs://"))}


def _cronjob_name(pipeline: str, suffix: str) -> str:
    return shorten(f"{pipeline}-{suffix}", CRONJOB_NAME_LIMIT)
