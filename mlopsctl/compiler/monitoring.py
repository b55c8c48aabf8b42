"""Monitors: drift and skew as scheduled jobs, SLOs as Prometheus alerting rules, retraining on alert.

The step first adds what collects the metrics that alert rules, KEDA and Flagger query
(:mod:`mlopsctl.compiler.metrics`).

A drift or skew monitor is a CronJob running ``mlopsctl-stage drift|skew --config
JSON`` (``project.stageImage``), as the monitor's own identity. Each run
compares the endpoint's BigQuery request log over ``window`` with the baseline
table, feature by feature (Jensen-Shannon divergence for numeric features,
L-infinity distance for categorical ones, each against its threshold), and
appends to two tables in the baseline's dataset: the statistics of the run and
the features that crossed their thresholds. When a feature drifted, the job
starts a run of every pipeline to retrain (``actions.retrain`` and pipelines
whose ``triggers`` name the monitor), with the pipeline's parameters overlaid with
``actions.retrainParameters``: on GKE, of the published version named in its config,
which the monitor's account is allowed to do in the namespace; on Vertex AI, a
PipelineJob of the pipeline's template, as the pipeline's own account with its
pipeline root and run labels (``vertex_pipelines.run_config``), for which the
monitor's Google account gets ``roles/aiplatform.user`` on the project, may act as
that account only (``roles/iam.serviceAccountUser`` on it) and may read that
pipeline's templates only (``roles/storage.objectViewer`` on the pipeline root under
the condition of their prefix). It also logs one
structured line per breach (``event: drift-breach`` or ``skew-breach``), which the
alert policy of a monitor that notifies matches (:mod:`mlopsctl.compiler.alerting`).

An SLO monitor is an alerting rule that fires when ``slo.promql`` has held for
``window``: with ``platform.metrics: managed`` a GMP ``Rules`` object, evaluated by
GMP's managed rule evaluator against the namespace's own series (it adds the
``namespace``, ``cluster``, ``location`` and ``project_id`` labels itself, so the
rule does not set them); in-cluster, a ``PrometheusRule`` labelled for
kube-prometheus-stack's Prometheus. A rule cannot start a pipeline run itself, so
retraining is a label contract with Alertmanager: each alert of a monitor that
retrains carries ``retrain_pipeline`` (the pipeline) and
``retrain_pipeline_version`` (the PipelineVersion to run on Kubeflow Pipelines, the
template on Vertex AI) with ``monitor`` and ``namespace``; the Alertmanager the rules
are evaluated for routes every alert of the namespace with a ``retrain_pipeline``
label to the namespace's retrain receiver (:mod:`mlopsctl.compiler.alert_receiver`),
which starts one run of that pipeline, as a drift monitor would, unless one is not
over yet. A monitor that retrains several pipelines gets one rule per pipeline, so
each alert names exactly one run to start. Severity is ``critical`` when a PagerDuty
channel is notified, else ``warning``; notifications themselves are the alerting step's.

Monitors placed on Vertex AI are Vertex AI's (:mod:`mlopsctl.compiler.vertex_serving`) and
Cloud Monitoring's (:mod:`mlopsctl.compiler.alerting`), and their alerts start retraining runs
through Pub/Sub (:mod:`mlopsctl.compiler.vertex_retrain`): of pipelines on Vertex AI through Eventarc
and Workflows, nothing of theirs in the cluster; of pipelines on Kubeflow Pipelines through the
retrain receiver, which pulls each such monitor's subscription and starts the runs a drift monitor on
GKE would.
"""

from __future__ import annotations

import json

from mlopsctl.compiler import alert_receiver, metrics, rbac
from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.iam import BUCKET_IAM_MEMBER
from mlopsctl.compiler.identity import NAMESPACE, Identity, identity_of
from mlopsctl.compiler.kfp_dag import STAGE_PROGRAM
from mlopsctl.compiler.pipelines import published_version
from mlopsctl.compiler.pods import run_to_completion_pod
from mlopsctl.compiler.schedules import CRONJOB_NAME_LIMIT, KFP_API, RUN_RULES
from mlopsctl.compiler.slo import promql
from mlopsctl.compiler.storage import BUCKET
from mlopsctl.compiler.vertex_pipelines import grant_act_as, run_config, template_of
from mlopsctl.compiler.vertex_tracking import grant_aiplatform_user
from mlopsctl.config.checks.parameters import retrained
from mlopsctl.config.durations import parse_duration
from mlopsctl.config.models.monitoring import DataMonitor, SloMonitor
from mlopsctl.config.naming import (
    PIPELINE_ROOT,
    bucket_of,
    dataset_id,
    monitor_table,
    namespace,
    request_log_table,
    shorten,
)
from mlopsctl.config.sourcemap import Path
from mlopsctl.graph import JSON, Resource

OBJECT_VIEWER = "roles/storage.objectViewer"
DRIFT_METRICS = {"numeric": "jensen_shannon_divergence", "categorical": "l_infinity_distance"}
"""The distance each kind of feature is compared with, against its threshold."""
Retrain = tuple[dict[str, JSON], str]
"""A ``start-run`` config that retrains (docs/stages.md), and the address of what it runs."""
MONITOR_RESOURCES: dict[str, JSON] = {"requests": {"cpu": "250m", "memory": "512Mi"}}
"""A drift or skew run: it summarises the baseline once and counts the window's requests in parts as
they are read, so its memory stays near the request; no limit, so a large window bursts into the node's
free memory rather than being killed."""


def build(ctx: BuildContext) -> None:
    metrics.build(ctx)
    if ctx.config.placement.monitors == "vertex":
        _pulled(ctx)
        return
    slo_retrains: alert_receiver.Retrains = {}
    for name, monitor in ctx.config.monitors.items():
        pipelines = retrained(ctx.config, name)
        if isinstance(monitor, DataMonitor):
            _data_monitor(ctx, name, monitor, pipelines)
            continue
        if ctx.config.placement.pipelines == "gke":
            retrain = _kfp_runs(ctx, name, [published_version(ctx, p) for p in pipelines])
        else:
            retrain = _vertex_runs(ctx, name, pipelines)
        _slo_monitor(ctx, name, monitor, retrain)
        if retrain:
            slo_retrains[name] = {_retrained(entry): (entry, address) for entry, address in retrain}
    alert_receiver.build(ctx, slo_retrains)


def _pulled(ctx: BuildContext) -> None:
    """The retrain receiver of the monitors on Vertex AI that retrain pipelines on Kubeflow Pipelines."""
    from mlopsctl.compiler.vertex_retrain import subscriptions  # which imports this module

    pulled = subscriptions(ctx)
    retrains: alert_receiver.Retrains = {}
    for name in pulled:
        versions = [published_version(ctx, p) for p in retrained(ctx.config, name)]
        retrains[name] = {_retrained(e): (e, address) for e, address in _kfp_runs(ctx, name, versions)}
    alert_receiver.build(ctx, retrains, pulled)


def _retrained(entry: dict[str, JSON]) -> str:
    """The pipeline a ``start-run`` config runs (named ``displayName`` on Vertex AI)."""
    return str(entry.get("pipeline") or entry["displayName"])


def _pipeline_of(version: Resource) -> str:
    return str(version.inputs["metadata"]["labels"]["pipelines.kubeflow.org/pipeline"])


def _labels(ctx: BuildContext, monitor: str) -> dict[str, str]:
    return {**ctx.k8s_labels("monitoring"), "mlopsctl.dev/monitor": monitor}


def _data_monitor(ctx: BuildContext, name: str, monitor: DataMonitor, pipelines: list[str]) -> None:
    ns = namespace(ctx.config)
    who = identity_of(ctx, "monitor", name)
    source = ("monitors", name)
    on_kfp = bool(pipelines) and ctx.config.placement.pipelines == "gke"
    if on_kfp:
        retrain = _kfp_runs(ctx, name, [published_version(ctx, p) for p in pipelines])
    else:
        retrain = _vertex_runs(ctx, name, pipelines)
    depends = [ctx.address(NAMESPACE, ns), ctx.address(rbac.SERVICE_ACCOUNT, who.ksa)]
    depends += [address for _, address in retrain]
    if on_kfp:
        binding = rbac.grant(
            ctx, f"monitor-{name}-runs", who.ksa, RUN_RULES, component="monitoring", source=source
        )
        depends.append(binding.address)
    elif pipelines:
        depends += vertex_grants(ctx, who, pipelines, source)
    stage_image = ctx.config.project.stage_image
    config = json.dumps(drift_config(ctx, name, monitor, retrain), sort_keys=True)
    container: dict[str, JSON] = {
        "name": "monitor",
        "image": stage_image,
        "command": [STAGE_PROGRAM, monitor.type],
        "args": ["--config", config],
        "resources": MONITOR_RESOURCES,
    }
    schedule = monitor.schedule
    ctx.add_manifest(
        "job-cronjob",
        source=source,
        depends_on=tuple(depends),
        name=shorten(name, CRONJOB_NAME_LIMIT),
        namespace=ns,
        labels=_labels(ctx, name),
        schedule=schedule.cron,
        time_zone=schedule.time_zone,
        concurrency_policy=schedule.concurrency_policy,
        backoff_limit=1,
        pod=run_to_completion_pod(_labels(ctx, name), who.ksa, container, "Never", kfp_client=on_kfp),
    )


def drift_config(
    ctx: BuildContext, name: str, monitor: DataMonitor, retrain: list[Retrain]
) -> dict[str, JSON]:
    """What a drift or skew job compares, against which thresholds, and where it writes."""
    datasets = ctx.config.data.datasets
    logging = ctx.config.endpoints[monitor.endpoint].logging
    assert logging is not None, "checked by config.checks.references"
    serving_dataset = (
        f"{ctx.gcp_project}.{dataset_id(ctx.target, logging.dataset, datasets[logging.dataset])}"
    )
    baseline = monitor.baseline
    baseline_dataset = (
        f"{ctx.gcp_project}.{dataset_id(ctx.target, baseline.dataset, datasets[baseline.dataset])}"
    )
    thresholds = monitor.thresholds.model_dump()
    return {
        "monitor": name,
        "type": monitor.type,
        "endpoint": monitor.endpoint,
        "serving": {
            "table": f"{serving_dataset}.{request_log_table(monitor.endpoint, logging.table)}",
            "samplingRate": monitor.sampling_rate,
        },
        "baseline": {"table": f"{baseline_dataset}.{baseline.table}"},
        "window": monitor.window,
        "windowSeconds": parse_duration(monitor.window),
        "features": {
            feature: {
                "kind": spec.kind,
                "metric": DRIFT_METRICS[spec.kind],
                "threshold": spec.threshold if spec.threshold is not None else thresholds[spec.kind],
            }
            for feature, spec in sorted(monitor.features.items())
        },
        "output": {
            kind: f"{baseline_dataset}.{monitor_table(name, kind)}" for kind in ("statistics", "alerts")
        },
        "notify": list(monitor.actions.notify),
        "retrain": [entry for entry, _ in retrain],
    }


def _parameters(ctx: BuildContext, monitor: str, pipeline: str) -> dict[str, JSON]:
    """The pipeline's parameters, overlaid with the monitor's ``actions.retrainParameters``."""
    overlay = ctx.config.monitors[monitor].actions.retrain_parameters
    return {**ctx.config.pipelines[pipeline].parameters, **overlay}


def _kfp_runs(ctx: BuildContext, monitor: str, versions: list[Resource]) -> list[Retrain]:
    """Runs of published versions on Kubeflow Pipelines in the namespace."""
    pipelines = ctx.config.pipelines
    found: list[Retrain] = []
    for version in versions:
        pipeline = _pipeline_of(version)
        entry: dict[str, JSON] = {
            "endpoint": KFP_API,
            "namespace": namespace(ctx.config),
            "experiment": pipeline,
            "pipeline": pipeline,
            "pipelineVersion": version.name,
            "parameters": _parameters(ctx, monitor, pipeline),
            "serviceAccount": identity_of(ctx, "pipeline", pipeline, pipelines[pipeline].service_account).ksa,
        }
        found.append((entry, version.address))
    return found


def _vertex_runs(ctx: BuildContext, monitor: str, pipelines: list[str]) -> list[Retrain]:
    """PipelineJobs of the pipelines' templates on Vertex AI Pipelines (``backend: vertex``)."""
    return [
        (run_config(ctx, p, _parameters(ctx, monitor, p)), template_of(ctx, p).resource.address)
        for p in pipelines
    ]


def vertex_grants(ctx: BuildContext, who: Identity, pipelines: list[str], source: Path) -> list[str]:
    """What starting the pipelines' runs on Vertex AI takes of the monitor's Google account, and no
    more: creating PipelineJobs, acting as each pipeline's account, reading each pipeline's templates."""
    monitor = ctx.graph.resources[who.gsa_address]
    grants = [grant_aiplatform_user(ctx, who, source)]
    for pipeline in pipelines:
        runs_as = identity_of(ctx, "pipeline", pipeline, ctx.config.pipelines[pipeline].service_account)
        grants.append(grant_act_as(ctx, who, runs_as, source))
        bucket = bucket_of(ctx.config, ctx.target, PIPELINE_ROOT)
        prefix = template_of(ctx, pipeline).resource.inputs["name"].rsplit("/", 1)[0]
        reads: dict[str, JSON] = {
            "bucket": bucket,
            "role": OBJECT_VIEWER,
            "member": f"serviceAccount:{who.gsa_email}",
            "condition": {
                "title": f"templates of {pipeline}",
                "expression": f'resource.name.startsWith("projects/_/buckets/{bucket}/objects/{prefix}/")',
            },
        }
        depends = (monitor.address, ctx.address(BUCKET, PIPELINE_ROOT))
        name = f"{monitor.name}-object-viewer-{pipeline}-templates"
        grants.append(ctx.add(BUCKET_IAM_MEMBER, name, reads, source=source, depends_on=depends).address)
    return grants


def _slo_monitor(ctx: BuildContext, name: str, monitor: SloMonitor, retrain: list[Retrain]) -> None:
    ns = namespace(ctx.config)
    source = ("monitors", name)
    depends_on = (ctx.address(NAMESPACE, ns), *(address for _, address in retrain))
    rules = slo_rules(ctx, name, monitor, [(_retrained(e), _version_label(e)) for e, _ in retrain])
    if ctx.config.platform.metrics == "in-cluster":
        ctx.add_manifest(
            "prometheusrule",
            source=source,
            depends_on=depends_on,
            name=name,
            namespace=ns,
            labels={**_labels(ctx, name), **metrics.KUBE_PROMETHEUS_LABELS},
            group=name,
            rules=rules,
        )
        return
    scoped = [
        {**rule, "labels": {k: v for k, v in rule["labels"].items() if k not in metrics.GMP_SCOPE_LABELS}}
        for rule in rules
    ]
    ctx.add_manifest(
        "rules",
        source=source,
        depends_on=depends_on,
        name=name,
        namespace=ns,
        labels=_labels(ctx, name),
        group=name,
        rules=scoped,
    )


def _version_label(entry: dict[str, JSON]) -> str:
    """What a run of ``entry`` runs: the PipelineVersion on KFP, the template's digest on Vertex AI."""
    if "pipelineVersion" in entry:
        return str(entry["pipelineVersion"])
    return str(entry["pipelineSpecUri"]).rsplit("/", 1)[-1].removesuffix(".json")


def slo_rules(
    ctx: BuildContext, name: str, monitor: SloMonitor, versions: list[tuple[str, str]]
) -> list[dict[str, JSON]]:
    """One alerting rule, or one per (pipeline, version) to retrain, each naming the run to start."""
    channels = ctx.config.alert_channels
    paged = any(channels[c].type == "pagerduty" for c in monitor.actions.notify if c in channels)
    labels = {
        "severity": "critical" if paged else "warning",
        "namespace": namespace(ctx.config),
        "endpoint": monitor.endpoint,
        "monitor": name,
        "slo": monitor.type,
    }
    rule: dict[str, JSON] = {
        "alert": "".join(part.capitalize() for part in name.split("-")),
        "expr": promql(ctx.config, monitor),
        "for": prometheus_duration(parse_duration(monitor.window)),
        "labels": labels,
        "annotations": {
            "summary": f"{monitor.type} objective of endpoint '{monitor.endpoint}' is not met",
            "description": f"{_objective(monitor)} for {monitor.window} (monitor '{name}').",
        },
    }
    if not versions:
        return [rule]
    return [
        {**rule, "labels": {**labels, "retrain_pipeline": pipeline, "retrain_pipeline_version": version}}
        for pipeline, version in versions
    ]


def _objective(monitor: SloMonitor) -> str:
    if monitor.type == "latency":
        return f"p{monitor.percentile:g} latency above {monitor.objective:g} ms"
    if monitor.type == "error-rate":
        return f"more than {monitor.objective:g}% of requests failed"
    return f"availability below {monitor.objective:g}%"


def prometheus_duration(seconds: int) -> str:
    """``5400`` → ``1h30m``: the form a rule's ``for`` accepts."""
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
