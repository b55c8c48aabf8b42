"""Runs of published pipelines: schedules, new-data triggers and batch prediction jobs.

Kubeflow Pipelines has no declarative recurring run, so each one is a Kubernetes
CronJob whose pod runs ``mlopsctl-stage start-run`` (``project.stageImage``):
it starts a run of the published PipelineVersion through the KFP API, as the
pipeline's own service account. A new-data trigger is a CronJob that polls: its
``whenNewData`` condition starts a run only if objects or partitions appeared
since the last run. A batch job is a one-step pipeline (the ``batch-predict``
stage, which sends the rows to an endpoint that serves the job's model version)
published like any other, with a CronJob when it has a schedule.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

from mlopsctl.build import rbac
from mlopsctl.build.context import BuildContext
from mlopsctl.build.identity import NAMESPACE, Identity, identity_of
from mlopsctl.build.kfp_dag import STAGE_PROGRAM
from mlopsctl.build.pipelines import bigquery_name, gcs_uri, publish, published_version
from mlopsctl.build.serving import batch_endpoint
from mlopsctl.config.models.pipelines import NewData, Pipeline, Schedule
from mlopsctl.config.models.serving import BatchIO, BatchJob
from mlopsctl.graph import JSON, Resource
from mlopsctl.naming import batch_pipeline, namespace, shorten
from mlopsctl.sourcemap import Path
from mlopsctl.state import canonical_json

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
RUN_RULES: list[JSON] = [
    {
        "apiGroups": ["pipelines.kubeflow.org"],
        "resources": ["pipelines", "pipelines/versions"],
        "verbs": ["get", "list"],
    },
    {
        "apiGroups": ["pipelines.kubeflow.org"],
        "resources": ["experiments"],
        "verbs": ["create", "get", "list"],
    },
    {"apiGroups": ["pipelines.kubeflow.org"], "resources": ["runs"], "verbs": ["create", "get", "list"]},
    {"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"], "verbs": ["create", "patch"]},
    # The KFP driver and launcher read their settings (pipeline root) from this ConfigMap.
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": ["kfp-launcher"]},
]
"""What a run starter's account needs in its namespace: the KFP API authorizes each call on
``pipelines.kubeflow.org`` resources (multi-user mode), and the runs it starts execute as the
same account, whose Argo executor reports each step's outputs as workflow task results."""


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
    bindings: dict[str, Resource] = {}
    for starter in starters:
        if starter.who.ksa not in bindings:
            bindings[starter.who.ksa] = rbac.grant(
                ctx,
                f"{starter.who.ksa}-runs",
                starter.who.ksa,
                RUN_RULES,
                component="schedule",
                source=starter.source,
            )
    for starter in starters:
        add_run_starter(ctx, starter, depends_on=(bindings[starter.who.ksa].address,))


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
        "output": _batch_io(ctx, job.output),
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


def _batch_io(ctx: BuildContext, io: BatchIO) -> dict[str, JSON]:
    if io.bigquery is not None:
        return {"bigquery": {"table": bigquery_name(ctx, io.bigquery.dataset, io.bigquery.table)}}
    assert io.gcs is not None
    return {"gcs": gcs_uri(ctx, io.gcs.removeprefix("gs://"))}


def _cronjob_name(pipeline: str, suffix: str) -> str:
    return shorten(f"{pipeline}-{suffix}", CRONJOB_NAME_LIMIT)
