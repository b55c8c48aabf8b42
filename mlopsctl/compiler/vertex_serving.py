"""Endpoints and monitors placed on Vertex AI (``placement.endpoints`` / ``placement.monitors:
vertex``): Vertex AI endpoints, models and monitors instead of KServe, Istio, Flagger and CronJobs.

Per endpoint, an AiEndpoint (its id from :func:`vertex_models.endpoint_id`, which must never
change) and a Deployment (``docs/vertex-resources.md``) of its variants: each deployed under the
variant's name from the ModelVersion of its model version (:mod:`mlopsctl.compiler.vertex_models`),
on the variant's machine, as the endpoint's Google service account, and traffic split as the
rollout says: one variant takes all; a canary's candidate the weight of ``currentStep`` and its
baseline the rest; an A/B test its weights; blue-green the active slot all. A variant that the
rollout names no weight for is deployed with none. The settings of KServe and Istio (``host``,
``callers``, ``autoscaling``, ``cpu``, ``memory``) have no Vertex AI counterpart: a deployed model
scales on its own utilisation and is called through the Vertex AI API, as IAM allows. The endpoint's
account may fetch the values of the feature views it lists (``features``), and the Deployment waits
for those grants. A deployed model's environment is its registered version's (set at upload), so the
version gets ``MLOPSCTL_FEATURE_VIEW_<VIEW>`` of each view as GKE's model servers do
(:func:`feature_env`): of every endpoint that serves it, when several do.

Request logging is Vertex AI's own: the endpoint writes every sampled request and response to a
table that Vertex AI creates in the logging dataset (the table must not exist, so the bigquery
step leaves it out; the dataset's default table expiration applies to it), written as the
project's Vertex AI service agent (granted on that dataset by the iam step).

A drift or skew monitor is a ModelMonitor of the version its endpoint serves as ``default``: its
baseline table is the training data, each feature is compared by its kind's distance (Jensen-
Shannon numeric, L-infinity categorical) against its threshold, on the monitor's schedule, over
its window of the endpoint's logged requests; findings notify the monitor's channels, and the channel
that starts its retraining runs (:mod:`mlopsctl.compiler.vertex_retrain`). Vertex AI's
drift compares a window with the one before it (skew compares with the baseline), where the GKE
job compares both with the baseline. SLO monitors are alert policies
(:mod:`mlopsctl.compiler.alerting`).
"""

from __future__ import annotations

import re

from mlopsctl.compiler.alerting import NOTIFICATION_CHANNEL
from mlopsctl.compiler.bigquery import DATASET
from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.iam import BUCKET_IAM_MEMBER, vertex_agent_grant
from mlopsctl.compiler.identity import identity_of
from mlopsctl.compiler.kms import default_key
from mlopsctl.compiler.routes import live_weight
from mlopsctl.compiler.vertex_features import online_reads, view_vars
from mlopsctl.compiler.vertex_models import (
    DEPLOYMENT,
    ENDPOINT,
    MODEL_MONITOR,
    add_model_versions,
    deployed_model_id,
    endpoint_id,
    endpoint_resource,
    version_resource,
)
from mlopsctl.compiler.vertex_retrain import retrain_channel
from mlopsctl.config.checks.placement import registry_aliases
from mlopsctl.config.durations import parse_duration
from mlopsctl.config.models.monitoring import DataMonitor
from mlopsctl.config.models.serving import ABTest, BlueGreen, Canary, Endpoint, Variant
from mlopsctl.config.naming import dataset_id, request_log_table, shorten
from mlopsctl.config.vertex_catalog import vertex_catalog
from mlopsctl.graph import JSON, fn_join, fn_output

FEATURE_TYPES = {"numeric": "float", "categorical": "categorical"}
"""Model Monitoring's data type of each kind of feature: it compares ``float`` features by
Jensen-Shannon divergence and ``categorical`` ones by L-infinity distance, as the GKE jobs do."""
_WINDOW_UNITS = (("w", 604800), ("d", 86400), ("h", 3600))
MONITOR_ID_LIMIT = 63
"""A Model Monitoring v2 monitor id is at most 63 characters; the ModelMonitor provider makes it from the
display name (lowercased, every run of other characters than ``[a-z0-9]`` as one ``-``)."""


def build(ctx: BuildContext) -> None:
    placement = ctx.config.placement
    if placement.endpoints != "vertex":
        return
    add_model_versions(ctx, feature_env(ctx))
    for name, endpoint in ctx.config.endpoints.items():
        _deployment(ctx, name, endpoint, _endpoint(ctx, name, endpoint))
    if placement.monitors != "vertex":
        return
    for name, monitor in ctx.config.monitors.items():
        if isinstance(monitor, DataMonitor):
            _model_monitor(ctx, name, monitor)


def feature_env(ctx: BuildContext) -> dict[tuple[str, str], list[JSON]]:
    """Per (model, version) an endpoint serves, the environment naming the feature views that the
    endpoints serving it read online (:func:`mlopsctl.compiler.vertex_features.view_vars`), each once, in
    the order of the endpoints and their views. Each endpoint's account may fetch its own views only."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for name, endpoint in ctx.config.endpoints.items():
        variables = view_vars(ctx, name)
        for variant in endpoint.variants.values():
            served = found.setdefault((variant.model, variant.version), {})
            served.update({k: v for k, v in variables.items() if k not in served})
    return {key: [{"name": k, "value": v} for k, v in env.items()] for key, env in found.items()}


def traffic_split(endpoint: Endpoint) -> dict[str, int]:
    """Percent of the endpoint's traffic per variant, as its rollout splits it."""
    rollout = endpoint.rollout
    split = dict.fromkeys(endpoint.variants, 0)
    if isinstance(rollout, Canary):
        split[rollout.baseline] = 100 - live_weight(rollout)
        split[rollout.candidate] = live_weight(rollout)
    elif isinstance(rollout, ABTest):
        split.update(rollout.weights)
    elif isinstance(rollout, BlueGreen):
        split[rollout.blue if rollout.active == "blue" else rollout.green] = 100
    else:  # one variant (shadow traffic is refused on Vertex AI)
        split[next(iter(endpoint.variants))] = 100
    return split


def _endpoint(ctx: BuildContext, name: str, endpoint: Endpoint) -> str:
    """Adds the AiEndpoint; returns its address. Its traffic split is the Deployment's."""
    inputs: dict[str, JSON] = {
        "name": endpoint_id(ctx.config.project.name, ctx.target, name),
        "displayName": name,
        "description": f"Endpoint '{name}' of {ctx.config.project.name} ({ctx.target}), managed by mlopsctl.",
        "project": ctx.gcp_project,
        "location": ctx.target.region,
        "labels": ctx.gcp_labels({"mlops-endpoint": name}),
    }
    encryption, depends_on = default_key(ctx, "aiplatform", "encryptionSpec")
    inputs.update(encryption)
    logging = endpoint.logging
    if logging is not None:
        dataset = dataset_id(ctx.target, logging.dataset, ctx.config.data.datasets[logging.dataset])
        table = f"{ctx.gcp_project}.{dataset}.{request_log_table(name, logging.table)}"
        inputs["predictRequestResponseLoggingConfig"] = {
            "enabled": logging.sampling_rate > 0,
            "samplingRate": logging.sampling_rate,
            "bigqueryDestination": {"outputUri": f"bq://{table}"},
        }
        depends_on += (ctx.address(DATASET, logging.dataset), vertex_agent_grant(ctx, logging.dataset))
    return ctx.add(ENDPOINT, name, inputs, source=("endpoints", name), depends_on=depends_on).address


def _deployment(ctx: BuildContext, name: str, endpoint: Endpoint, endpoint_address: str) -> None:
    """The endpoint's deployed models, one per variant, and its traffic split."""
    who = identity_of(ctx, "endpoint", name, endpoint.service_account)
    member = f"serviceAccount:{who.gsa_email}"
    reads = [r.address for r in ctx.graph if r.type == BUCKET_IAM_MEMBER and r.inputs["member"] == member]
    reads += online_reads(ctx, name) if endpoint.features else ()
    versions = sorted({version_resource(ctx, v.model, v.version) for v in endpoint.variants.values()})
    ctx.add(
        DEPLOYMENT,
        name,
        {
            "project": ctx.gcp_project,
            "location": ctx.target.region,
            "endpoint": fn_output(endpoint_address, "name"),
            "deployedModels": [
                _deployed_model(ctx, name, key, variant, who.gsa_email)
                for key, variant in endpoint.variants.items()
            ],
            "trafficSplit": traffic_split(endpoint),
        },
        source=("endpoints", name),
        depends_on=(endpoint_address, *versions, who.gsa_address, *reads),
    )


def _deployed_model(
    ctx: BuildContext, endpoint: str, key: str, variant: Variant, account: str
) -> dict[str, JSON]:
    version = version_resource(ctx, variant.model, variant.version)
    immutable: dict[str, JSON] = {
        "key": key,
        "model": version,
        "machineType": variant.machine_type or vertex_catalog().default_machine_type,
        "serviceAccount": account,
    }
    if variant.accelerators:
        immutable["acceleratorType"] = variant.accelerator_type
        immutable["acceleratorCount"] = variant.accelerators
    return {
        **immutable,
        "id": deployed_model_id(endpoint_id(ctx.gcp_project, ctx.target, endpoint), immutable),
        "model": fn_output(version, "name"),
        "minReplicaCount": variant.min_replicas,
        "maxReplicaCount": variant.max_replicas,
    }


def _model_monitor(ctx: BuildContext, name: str, monitor: DataMonitor) -> None:
    """A ModelMonitor of the version the monitored endpoint serves as ``default``."""
    endpoint = ctx.config.endpoints[monitor.endpoint]
    stable = next(v for v, alias in registry_aliases(endpoint).items() if alias == "default")
    served = endpoint.variants[stable]
    version = version_resource(ctx, served.model, served.version)
    endpoint_address = endpoint_resource(ctx, monitor.endpoint)
    baseline = monitor.baseline
    dataset = dataset_id(ctx.target, baseline.dataset, ctx.config.data.datasets[baseline.dataset])
    defaults = monitor.thresholds.model_dump()
    thresholds = {
        feature: spec.threshold if spec.threshold is not None else defaults[spec.kind]
        for feature, spec in sorted(monitor.features.items())
    }
    channels = [ctx.address(NOTIFICATION_CHANNEL, c) for c in monitor.actions.notify]
    channels += retrain_channel(ctx, name)
    schedule = monitor.schedule
    where = ["projects", ctx.gcp_project, "locations", ctx.target.region, "endpoints"]
    encryption, key_deps = default_key(ctx, "aiplatform", "kmsKeyName")
    ctx.add(
        MODEL_MONITOR,
        name,
        {
            "project": ctx.gcp_project,
            "location": ctx.target.region,
            "displayName": monitor_display_name(ctx, name),
            "model": fn_output(version, "name"),
            "trainingDataset": f"bq://{ctx.gcp_project}.{dataset}.{baseline.table}",
            # In the order declared: Model Monitoring names an array instance's values by it, so list
            # the features in the model's input order when its instances are arrays.
            "features": [
                {"name": feature, "type": FEATURE_TYPES[spec.kind]}
                for feature, spec in monitor.features.items()
            ],
            f"{monitor.type}Thresholds": thresholds,
            # Every feature has its threshold above; this covers only what Vertex AI adds.
            "defaultThreshold": min(defaults[spec.kind] for spec in monitor.features.values()),
            "schedule": f"TZ={schedule.time_zone} {schedule.cron}",
            "window": _window(monitor.window),
            "endpoints": [fn_join("/", [*where, fn_output(endpoint_address, "name")])],
            "notificationChannels": [fn_output(c, "name") for c in channels],
            **encryption,
        },
        source=("monitors", name),
        depends_on=(version, endpoint_address, *channels, *key_deps),
    )


def monitor_display_name(ctx: BuildContext, monitor: str) -> str:
    """``<project> <monitor> (<env>)``, whose id (its slug) names the monitor on Vertex AI. A slug past the
    63 characters of an id would be cut, and monitors differing only past the cut (or only in their
    environment, in a GCP project that environments share) would be one monitor: such a name is its slug
    shortened with a hash of the whole instead, itself an id, so that each monitor keeps one of its own."""
    display = f"{ctx.config.project.name} {monitor} ({ctx.target.env})"
    slug = re.sub(r"[^a-z0-9]+", "-", display.lower()).strip("-")
    return display if len(slug) <= MONITOR_ID_LIMIT else shorten(slug, MONITOR_ID_LIMIT)


def _window(duration: str) -> str:
    """``24h`` → ``1d``: Model Monitoring's form (whole hours, checked at validate)."""
    seconds = parse_duration(duration)
    unit, size = next((u, s) for u, s in _WINDOW_UNITS if seconds % s == 0)
    return f"{seconds // size}{unit}"
