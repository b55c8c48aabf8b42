"""Names that refer to other declarations resolve, and declarations are used."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.checks.dag import find_cycles
from mlopsctl.config.diagnostics import Diagnostic, Severity, did_you_mean
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.models.monitoring import DataMonitor
from mlopsctl.config.models.pipelines import Pipeline
from mlopsctl.config.models.serving import (
    ABTest,
    BatchIO,
    BlueGreen,
    Canary,
    Endpoint,
    GraphStep,
    Shadow,
    Variant,
)
from mlopsctl.config.sourcemap import Path


def unresolved(what: str, name: str, section: str, declared: Iterable[str], path: Path) -> Diagnostic:
    """E301 for ``name`` (a ``what``) missing from ``section``."""
    choices = sorted(declared)
    hint = did_you_mean(name, choices) or (
        f"declared under {section}: {', '.join(choices)}" if choices else f"declare '{name}' under {section}"
    )
    return Diagnostic("E301", f"{what} '{name}' is not declared under {section}", path=path, hint=hint)


@dataclass(frozen=True)
class PoolUse:
    """A workload placed on a node pool (or on default nodes when ``pool`` is None)."""

    owner: str
    pool: str | None
    pool_path: Path
    """Where the pool name is written; for a step that inherits it, the pipeline's nodePool."""
    accelerators: int
    accelerators_path: Path


def endpoint_members(name: str, endpoint: Endpoint) -> Iterator[tuple[str, str, Variant | GraphStep, Path]]:
    """The variants or inference graph steps of an endpoint: (label, name, spec, path)."""
    for v, variant in endpoint.variants.items():
        yield "variant", v, variant, ("endpoints", name, "variants", v)
    for g, graph_step in (endpoint.graph.steps if endpoint.graph else {}).items():
        yield "graph step", g, graph_step, ("endpoints", name, "graph", "steps", g)


def pool_uses(config: MLOpsConfig) -> Iterator[PoolUse]:
    """What runs on the cluster's node pools: sections placed on Vertex AI do not (checks.placement)."""
    on_gke = config.placement
    for p, pipeline in config.pipelines.items() if on_gke.pipelines == "gke" else ():
        if pipeline.node_pool:
            yield PoolUse(f"pipeline '{p}'", pipeline.node_pool, ("pipelines", p, "nodePool"), 0, ())
        for s, step in pipeline.steps.items():
            base: Path = ("pipelines", p, "steps", s, "resources")
            explicit = step.resources.node_pool
            yield PoolUse(
                f"step '{s}' of pipeline '{p}'",
                explicit or pipeline.node_pool,
                (*base, "nodePool") if explicit else ("pipelines", p, "nodePool"),
                step.resources.accelerators,
                (*base, "accelerators"),
            )
    for e, endpoint in config.endpoints.items() if on_gke.endpoints == "gke" else ():
        for label, name, member, base in endpoint_members(e, endpoint):
            yield PoolUse(
                f"{label} '{name}' of endpoint '{e}'",
                member.node_pool,
                (*base, "nodePool"),
                member.accelerators,
                (*base, "accelerators"),
            )
    for b, job in config.batch_jobs.items():
        yield PoolUse(
            f"batch job '{b}'",
            job.node_pool,
            ("batchJobs", b, "nodePool"),
            job.accelerators,
            ("batchJobs", b, "accelerators"),
        )


@dataclass(frozen=True)
class ModelUse:
    model: str
    version: str | None
    path: Path
    """The object holding ``model`` (and ``version``)."""


def _model_uses(config: MLOpsConfig) -> Iterator[ModelUse]:
    for p, pipeline in config.pipelines.items():
        for s, step in pipeline.steps.items():
            if step.model:
                yield ModelUse(step.model, None, ("pipelines", p, "steps", s))
    for e, endpoint in config.endpoints.items():
        for _, _, member, path in endpoint_members(e, endpoint):
            yield ModelUse(member.model, member.version, path)
    for b, job in config.batch_jobs.items():
        yield ModelUse(job.model, job.version, ("batchJobs", b))


@check
def node_pools(ctx: CheckContext) -> Iterator[Diagnostic]:
    seen: set[Path] = set()
    for use in pool_uses(ctx.config):
        if use.pool and use.pool not in ctx.config.accelerators and use.pool_path not in seen:
            seen.add(use.pool_path)
            yield unresolved("node pool", use.pool, "accelerators", ctx.config.accelerators, use.pool_path)


@check
def models(ctx: CheckContext) -> Iterator[Diagnostic]:
    declared = ctx.config.models
    for use in _model_uses(ctx.config):
        model = declared.get(use.model)
        if model is None:
            yield unresolved("model", use.model, "models", declared, (*use.path, "model"))
        elif use.version is not None and use.version not in model.versions:
            yield unresolved(
                "version", use.version, f"models.{use.model}.versions", model.versions, (*use.path, "version")
            )


def _bucket_key(gcs: str) -> str:
    """The bucket part of ``bucket/some/prefix``."""
    return gcs.removeprefix("gs://").split("/", 1)[0]


DataRef = tuple[str, str, Path]
"""A reference to data: (the section under ``data`` it names, the name, its path)."""


def _io_refs(value: BatchIO, path: Path) -> Iterator[DataRef]:
    if value.bigquery is not None:
        yield "datasets", value.bigquery.dataset, (*path, "bigquery", "dataset")
    if value.gcs is not None:
        yield "buckets", _bucket_key(value.gcs), (*path, "gcs")


def _pipeline_data_refs(name: str, pipeline: Pipeline) -> Iterator[DataRef]:
    for s, step in pipeline.steps.items():
        source, base = step.source, ("pipelines", name, "steps", s, "source")
        if source is None:
            continue
        if source.bigquery is not None:
            yield "datasets", source.bigquery.dataset, (*base, "bigquery", "dataset")
        if source.gcs is not None:
            yield "buckets", _bucket_key(source.gcs), (*base, "gcs")
        if source.external is not None:
            yield "external", source.external, (*base, "external")
    for i, trigger in enumerate(pipeline.triggers):
        new_data = trigger.new_data
        path: Path = ("pipelines", name, "triggers", i, "newData")
        if new_data is not None and new_data.bucket is not None:
            yield "buckets", new_data.bucket, (*path, "bucket")
        if new_data is not None and new_data.dataset is not None:
            yield "datasets", new_data.dataset, (*path, "dataset")


def _data_refs(config: MLOpsConfig) -> Iterator[DataRef]:
    for p, pipeline in config.pipelines.items():
        yield from _pipeline_data_refs(p, pipeline)
    for e, endpoint in config.endpoints.items():
        if endpoint.logging is not None:
            yield "datasets", endpoint.logging.dataset, ("endpoints", e, "logging", "dataset")
    for b, job in config.batch_jobs.items():
        yield from _io_refs(job.input, ("batchJobs", b, "input"))
        yield from _io_refs(job.output, ("batchJobs", b, "output"))
    for m, monitor in config.monitors.items():
        if isinstance(monitor, DataMonitor):
            yield "datasets", monitor.baseline.dataset, ("monitors", m, "baseline", "dataset")


@check
def data(ctx: CheckContext) -> Iterator[Diagnostic]:
    sections: dict[str, Mapping[str, object]] = {
        "buckets": ctx.config.data.buckets,
        "datasets": ctx.config.data.datasets,
        "external": ctx.config.data.external,
    }
    what = {"buckets": "bucket", "datasets": "dataset", "external": "external source"}
    for section, name, path in _data_refs(ctx.config):
        if name not in sections[section]:
            yield unresolved(what[section], name, f"data.{section}", sections[section], path)


@check
def service_accounts(ctx: CheckContext) -> Iterator[Diagnostic]:
    declared = ctx.config.security.service_accounts
    owners: list[tuple[str | None, Path]] = [
        *((p.service_account, ("pipelines", n, "serviceAccount")) for n, p in ctx.config.pipelines.items()),
        *((e.service_account, ("endpoints", n, "serviceAccount")) for n, e in ctx.config.endpoints.items()),
    ]
    for name, path in owners:
        if name is not None and name not in declared:
            yield unresolved("service account", name, "security.serviceAccounts", declared, path)


@check
def monitors(ctx: CheckContext) -> Iterator[Diagnostic]:
    config = ctx.config
    for m, monitor in config.monitors.items():
        base: Path = ("monitors", m)
        if monitor.endpoint not in config.endpoints:
            yield unresolved("endpoint", monitor.endpoint, "endpoints", config.endpoints, (*base, "endpoint"))
        elif isinstance(monitor, DataMonitor):
            yield from _data_monitor_inputs(config, m, monitor)
        for i, channel in enumerate(monitor.actions.notify):
            if channel not in config.alert_channels:
                yield unresolved(
                    "alert channel",
                    channel,
                    "alertChannels",
                    config.alert_channels,
                    (*base, "actions", "notify", i),
                )
        retrain = monitor.actions.retrain
        if retrain is not None and retrain not in config.pipelines:
            yield unresolved(
                "pipeline", retrain, "pipelines", config.pipelines, (*base, "actions", "retrain")
            )
    for p, pipeline in config.pipelines.items():
        for i, trigger in enumerate(pipeline.triggers):
            if trigger.monitor is not None and trigger.monitor not in config.monitors:
                yield unresolved(
                    "monitor",
                    trigger.monitor,
                    "monitors",
                    config.monitors,
                    ("pipelines", p, "triggers", i, "monitor"),
                )


def _data_monitor_inputs(config: MLOpsConfig, name: str, monitor: DataMonitor) -> Iterator[Diagnostic]:
    """A drift or skew job reads the endpoint's request log and runs the project's stage image."""
    if config.endpoints[monitor.endpoint].logging is None:
        yield Diagnostic(
            "E301",
            f"{monitor.type} monitor '{name}' reads the request log of endpoint '{monitor.endpoint}', "
            "which logs no requests",
            path=("monitors", name, "endpoint"),
            hint=f"log the requests of endpoint '{monitor.endpoint}': 'logging: {{dataset: <dataset>}}'",
        )


@check
def kms_keys(ctx: CheckContext) -> Iterator[Diagnostic]:
    security, data_ = ctx.config.security, ctx.config.data
    users: list[tuple[str | None, Path]] = [
        (security.default_kms_key, ("security", "defaultKmsKey")),
        *((b.kms_key, ("data", "buckets", n, "kmsKey")) for n, b in data_.buckets.items()),
        *((d.kms_key, ("data", "datasets", n, "kmsKey")) for n, d in data_.datasets.items()),
    ]
    for key, path in users:
        if key is not None and key not in security.kms:
            yield unresolved("KMS key", key, "security.kms", security.kms, path)


def _rollout_variants(endpoint: Endpoint) -> Iterator[tuple[str, Path]]:
    """Variant names a rollout mentions, with their paths relative to the rollout."""
    rollout = endpoint.rollout
    if isinstance(rollout, Canary):
        yield from ((rollout.baseline, ("baseline",)), (rollout.candidate, ("candidate",)))
    elif isinstance(rollout, ABTest):
        yield from ((name, ("weights", name)) for name in rollout.weights)
        yield from ((match.variant, ("match", i, "variant")) for i, match in enumerate(rollout.match))
    elif isinstance(rollout, Shadow):
        yield from ((rollout.primary, ("primary",)), (rollout.shadow, ("shadow",)))
    elif isinstance(rollout, BlueGreen):
        yield from ((rollout.blue, ("blue",)), (rollout.green, ("green",)))


@check
def rollout_variants(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Rollouts name variants of their endpoint (endpoints with fewer than two are the rollout check's)."""
    for e, endpoint in ctx.config.endpoints.items():
        if len(endpoint.variants) < 2:
            continue
        for name, rel in _rollout_variants(endpoint):
            if name not in endpoint.variants:
                yield unresolved(
                    "variant",
                    name,
                    f"endpoints.{e}.variants",
                    endpoint.variants,
                    ("endpoints", e, "rollout", *rel),
                )


@check
def promotion(ctx: CheckContext) -> Iterator[Diagnostic]:
    envs = ctx.config.environments
    for name, env in envs.items():
        source = env.promotion.from_env
        if source is not None and source not in envs:
            hint = did_you_mean(source, envs) or f"environments: {', '.join(envs)}"
            yield Diagnostic(
                "E308",
                f"environment '{name}' is promoted from '{source}', which is not declared",
                path=("environments", name, "promotion", "from"),
                hint=hint,
            )
    edges = {n: [e.promotion.from_env] for n, e in envs.items() if e.promotion.from_env in envs}
    for cycle in find_cycles(list(envs), edges):
        order = list(reversed(cycle))
        yield Diagnostic(
            "E308",
            f"promotion order forms a cycle: {' → '.join(order)}",
            path=("environments", cycle[0], "promotion", "from"),
            hint="the first environment of the promotion order must not set promotion.from",
        )


@check
def region_overrides(ctx: CheckContext) -> Iterator[Diagnostic]:
    for name, env in ctx.config.environments.items():
        for region in env.region_overrides:
            if region not in env.regions:
                yield Diagnostic(
                    "E307",
                    f"regionOverrides of environment '{name}' names region '{region}', "
                    f"which is not one of its regions",
                    path=("environments", name, "regionOverrides", region),
                    hint=did_you_mean(region, env.regions)
                    or f"add '{region}' to regions of '{name}' or remove the override",
                )


def _unused(kind: str, section: str, declared: Sequence[str], used: set[str]) -> Iterator[Diagnostic]:
    for name in declared:
        if name not in used:
            yield Diagnostic(
                "W301",
                f"{kind} '{name}' is declared but never used",
                path=(*section.split("."), name),
                hint="remove it, or refer to it by name",
                severity=Severity.WARNING,
            )


@check
def unused(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Models, accelerator pools, alert channels and KMS keys that nothing refers to.

    CPU pools are exempt: workloads that name no pool run on them.
    """
    config = ctx.config
    yield from _unused("model", "models", list(config.models), {u.model for u in _model_uses(config)})
    special = [n for n, pool in config.accelerators.items() if pool.type != "cpu"]
    yield from _unused("node pool", "accelerators", special, {u.pool for u in pool_uses(config) if u.pool})
    notified = {c for m in config.monitors.values() for c in m.actions.notify}
    yield from _unused("alert channel", "alertChannels", list(config.alert_channels), notified)
    keys = {config.security.default_kms_key}
    keys |= {b.kms_key for b in config.data.buckets.values()}
    keys |= {d.kms_key for d in config.data.datasets.values()}
    yield from _unused("KMS key", "security.kms", list(config.security.kms), {k for k in keys if k})
