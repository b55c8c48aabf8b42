"""Jobs that run the built-in stages besides pipeline steps (schedules, new-data triggers,
batch jobs) can be compiled."""

from __future__ import annotations

from collections.abc import Iterator

from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.diagnostics import Diagnostic, Severity, plural
from mlopsctl.config.endpoints import batch_endpoint
from mlopsctl.config.models.compute import GpuPool, TpuPool
from mlopsctl.config.naming import batch_pipeline


@check
def batch_pipeline_names(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A batch job is published as the pipeline ``batch-<job>``."""
    for name in ctx.config.batch_jobs:
        pipeline = batch_pipeline(name)
        if pipeline in ctx.config.pipelines:
            yield Diagnostic(
                "E310",
                f"batch job '{name}' runs as pipeline '{pipeline}', which is also declared under pipelines",
                path=("pipelines", pipeline),
                hint="rename the pipeline or the batch job",
            )


@check
def batch_endpoints(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A batch job sends its rows to an endpoint that serves its model version; it holds no accelerator."""
    config = ctx.config
    for name, job in config.batch_jobs.items():
        model = config.models.get(job.model)
        if model is None or job.version not in model.versions:
            continue  # reported by the reference checks
        served = batch_endpoint(config, job)
        if served is None:
            yield Diagnostic(
                "E301",
                f"batch job '{name}' scores with model '{job.model}' version '{job.version}', "
                "which no endpoint serves over HTTP",
                path=("batchJobs", name, "version"),
                hint=f"serve {job.model} {job.version} from a variant of an endpoint with the http protocol: "
                "the batch-predict stage sends the rows to it",
            )
        if job.accelerators:
            where = f"endpoint '{served.endpoint}'" if served else "the endpoint that serves the model"
            yield Diagnostic(
                "E205",
                f"batch job '{name}' asks for {plural(job.accelerators, 'accelerator')}, "
                f"but it only sends rows to {where}",
                path=("batchJobs", name, "accelerators"),
                hint="remove 'accelerators': the endpoint's replicas hold them",
            )
        pool = config.accelerators.get(job.node_pool or "")
        if isinstance(pool, GpuPool | TpuPool):
            kind = "GPU" if isinstance(pool, GpuPool) else "TPU"
            yield Diagnostic(
                "W404",
                f"batch job '{name}' runs on {kind} node pool '{job.node_pool}', but its batch-predict step "
                f"uses no {kind}: it only sends rows to the endpoint, and would keep a {kind} node up",
                path=("batchJobs", name, "nodePool"),
                hint="remove nodePool (the step runs on any CPU node), or name a CPU pool",
                severity=Severity.WARNING,
            )
