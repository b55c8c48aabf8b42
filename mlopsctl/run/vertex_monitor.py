"""A drift or skew monitor placed on Vertex AI, run once on this machine from its compiled ModelMonitor.

In the cloud, Vertex AI Model Monitoring v2 runs the monitor's ModelMonitoringJobs on its schedule
(:mod:`mlopsctl.pulumi.vertex.monitor`). Locally, the stage runtime's ``drift``/``skew`` job stands in
for Vertex AI's own job: its config is made of the ModelMonitor's compiled inputs, nothing else.

- each of ``features``: ``float`` (and ``integer``) compared by Jensen-Shannon divergence, ``categorical``
  (and ``string``, ``boolean``) by L-infinity distance, against its threshold in ``skewThresholds`` or
  ``driftThresholds`` (``defaultThreshold`` for a feature without one);
- the serving data: the requests that the monitored endpoint (``endpoints``) logs to the BigQuery table of
  its ``predictRequestResponseLoggingConfig``, Vertex AI's request-response log, over ``window``; array
  instances name their values in the order of ``features``, as Model Monitoring reads them;
- the baseline: ``trainingDataset`` for skew; for drift the window before, as the compiled schedule
  compares (``baseline_dataset`` the endpoint's logs, offset by one window);
- the notified channels: the declared ones among ``notificationChannels``; the channel of type ``pubsub``
  starts the retraining runs, followed through the compiled chain: its topic's Eventarc trigger and the
  workflow whose PipelineJobs it creates (pipelines on Vertex AI), or its pull subscription and the
  cluster's retrain receiver's ``start-run`` configs (pipelines on Kubeflow Pipelines).

Model Monitoring monitors one model version of the endpoint: only the requests that its deployed models
answered count (``serving.deployedModels``, their ids in the endpoint's compiled Deployment, which the
request log's ``deployed_model_id`` names), not a canary's or another variant's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlopsctl.compiler.alerting import NOTIFICATION_CHANNEL
from mlopsctl.compiler.kfp_dag import STAGE_PROGRAM
from mlopsctl.compiler.retrain_subscriptions import SUBSCRIPTION
from mlopsctl.compiler.vertex_models import DEPLOYMENT, ENDPOINT, MODEL_MONITOR
from mlopsctl.compiler.vertex_pipelines import BUCKET_OBJECT, Template, template_name
from mlopsctl.compiler.vertex_retrain import TRIGGER, WORKFLOW, data_of
from mlopsctl.graph import JSON, Graph, Resource, address_of
from mlopsctl.run.compiled import Retrain, stage_config
from mlopsctl.run.errors import RunError

KINDS = {
    "float": "numeric",
    "integer": "numeric",
    "categorical": "categorical",
    "string": "categorical",
    "boolean": "categorical",
}
"""Model Monitoring's data type of a feature → the stage's kind (its distance)."""
CHECKS = ("skew", "drift")
_WINDOW_UNITS = {"w": 604800, "d": 86400, "h": 3600}
_READ = frozenset(
    ("features", "skewThresholds", "driftThresholds", "defaultThreshold", "window", "trainingDataset")
) | {"servingDataset", "endpoints"}
"""The inputs a local run reads: not the model version nor the channels, whose names are assigned by
Vertex AI and Cloud Monitoring when they are created."""
KUBE_DEPLOYMENT = "kubernetes:apps/v1:Deployment"
RECEIVER = "retrain-receiver"


@dataclass(frozen=True)
class VertexMonitor:
    """What runs locally for a ModelMonitor: the stage's command line, and the runs a breach starts."""

    command: list[str]
    retrains: list[Retrain]


def vertex_monitor(graph: Graph, name: str) -> VertexMonitor | None:
    """The local stand-in of the ModelMonitor of ``name``; None when the target has none."""
    found = next((r for r in graph.of_type(MODEL_MONITOR) if r.name == name), None)
    if found is None:
        return None
    subject = f"monitor {name} (its ModelMonitor {found.address})"
    inputs = {k: resolved(graph, v, subject) for k, v in found.inputs.items() if k in _READ}
    checks = [c for c in CHECKS if inputs.get(f"{c}Thresholds") is not None]
    if len(checks) != 1:
        raise RunError(f"{subject}: has thresholds of {' and '.join(checks) or 'no check'}: a run runs one")
    check = checks[0]
    thresholds: Mapping[str, float] = inputs[f"{check}Thresholds"]
    default = float(inputs.get("defaultThreshold", 0.3))
    order = [str(f["name"]) for f in inputs["features"]]
    features = {
        str(f["name"]): {"kind": _kind(f, subject), "threshold": float(thresholds.get(f["name"], default))}
        for f in inputs["features"]
    }
    notify, topics = _channels(graph, found.inputs.get("notificationChannels") or [])
    baseline: dict[str, JSON] = {"previousWindow": True}
    if check == "skew":
        baseline = {"table": _table(str(inputs["trainingDataset"]), f"{subject}: trainingDataset")}
    config: dict[str, JSON] = {
        "monitor": name,
        "type": check,
        "features": features,
        "windowSeconds": _seconds(str(inputs.get("window", "1d")), subject),
        "serving": {
            "table": _log_table(graph, inputs, subject),
            "format": "vertex",
            "positional": order,
            "deployedModels": _deployed(graph, found, inputs["endpoints"][0], subject),
        },
        "baseline": baseline,
        "notify": notify,
    }
    retrains = [r for topic in topics for r in _retrains(graph, topic)]
    return VertexMonitor([STAGE_PROGRAM, check, "--config", json.dumps(config, sort_keys=True)], retrains)


def resolved(graph: Graph, value: Any, subject: str) -> Any:
    """``value`` with each ``fn::output`` replaced by the input of that name of the resource it names
    (an AiEndpoint's ``name`` is its id) and each ``fn::join`` joined; a value known only after apply
    (a server-assigned name) is an error."""
    if isinstance(value, list):
        return [resolved(graph, v, subject) for v in value]
    if not isinstance(value, dict):
        return value
    if "fn::output" in value:
        ref = value["fn::output"]
        resource = graph.resources.get(str(ref["resource"]))
        if resource is None or ref["property"] not in resource.inputs:
            raise RunError(f"{subject}: the {ref['property']} of {ref['resource']} is known only after apply")
        return resolved(graph, resource.inputs[str(ref["property"])], subject)
    if "fn::join" in value:
        delimiter, parts = value["fn::join"]
        return str(delimiter).join(str(resolved(graph, p, subject)) for p in parts)
    if any(str(k).startswith("fn::") for k in value):
        raise RunError(f"{subject}: {next(iter(value))} is known only after apply")
    return {k: resolved(graph, v, subject) for k, v in value.items()}


def _kind(feature: Mapping[str, Any], subject: str) -> str:
    kind = KINDS.get(str(feature.get("type")))
    if kind is None:
        raise RunError(
            f"{subject}: feature {feature.get('name')} has type {feature.get('type')!r}, not one of "
            f"{', '.join(KINDS)}"
        )
    return kind


def _seconds(window: str, subject: str) -> int:
    unit = _WINDOW_UNITS.get(window[-1:].lower())
    if unit is None or not window[:-1].isdigit() or int(window[:-1]) < 1:
        raise RunError(
            f"{subject}: window {window!r} is not a number of hours, days or weeks (as 1h, 1d, 1w)"
        )
    return int(window[:-1]) * unit


def _table(uri: str, subject: str) -> str:
    if not uri.startswith("bq://") or uri.count(".") != 2:
        raise RunError(f"{subject}: {uri!r} is not a BigQuery table (bq://PROJECT.DATASET.TABLE)")
    return uri.removeprefix("bq://")


def _log_table(graph: Graph, inputs: Mapping[str, Any], subject: str) -> str:
    """The request-response log table of the one endpoint the monitor reads."""
    if inputs.get("servingDataset"):
        raise RunError(f"{subject}: a servingDataset has no local stand-in; monitor an endpoint's logs")
    named = list(inputs.get("endpoints") or [])
    if len(named) != 1:
        raise RunError(f"{subject}: reads {len(named)} endpoints; a local run reads the logs of one")
    for endpoint in graph.of_type(ENDPOINT):
        where = resolved(graph, endpoint.inputs, subject)
        if named[0] != f"projects/{where['project']}/locations/{where['location']}/endpoints/{where['name']}":
            continue
        logging = where.get("predictRequestResponseLoggingConfig") or {}
        uri = (logging.get("bigqueryDestination") or {}).get("outputUri")
        if not logging.get("enabled") or not uri:
            raise RunError(
                f"{subject}: endpoint {endpoint.name} logs no requests (no enabled "
                "predictRequestResponseLoggingConfig), which Model Monitoring reads: give "
                f"endpoints.{endpoint.name}.logging"
            )
        return _table(str(uri), f"{subject}: the request log of endpoint {endpoint.name}")
    raise RunError(f"{subject}: no AiEndpoint {named[0]} in {graph.target}")


def _deployed(graph: Graph, monitor: Resource, endpoint: str, subject: str) -> list[JSON]:
    """The ids of the deployed models of the monitored model version on ``endpoint``."""
    for deployment in graph.of_type(DEPLOYMENT):
        where = resolved(
            graph, {k: deployment.inputs[k] for k in ("project", "location", "endpoint")}, subject
        )
        path = f"projects/{where['project']}/locations/{where['location']}/endpoints/{where['endpoint']}"
        if endpoint in (path, where["endpoint"]):
            entries = deployment.inputs["deployedModels"]
            ids = [e["id"] for e in entries if e["model"] == monitor.inputs["model"] and e.get("id")]
            if ids:
                return sorted(ids)
    raise RunError(f"{subject}: no model of {endpoint} is deployed from the monitored version, with its id")


def _channels(graph: Graph, channels: list[Any]) -> tuple[list[JSON], list[str]]:
    """The declared channels the monitor notifies (by name), and the topics of those that retrain."""
    notify: list[JSON] = []
    topics = []
    for channel in channels:
        ref = channel.get("fn::output", {}) if isinstance(channel, dict) else {}
        resource = graph.resources.get(str(ref.get("resource")))
        if resource is None or resource.type != NOTIFICATION_CHANNEL:
            notify.append(channel if isinstance(channel, str) else json.dumps(channel, sort_keys=True))
        elif resource.inputs.get("type") == "pubsub":
            topics.append(str(resource.inputs["labels"]["topic"]))
        else:
            notify.append(resource.name)
    return notify, topics


def _retrains(graph: Graph, topic: str) -> list[Retrain]:
    """The runs that a message on ``topic`` starts: through an Eventarc trigger's workflow, or the pull
    subscription that the cluster's retrain receiver consumes."""
    found = []
    for trigger in graph.of_type(TRIGGER):
        if trigger.inputs["transport"]["pubsub"]["topic"] == topic:
            found += _workflow_runs(graph, str(trigger.inputs["destination"]["workflow"]))
    for subscription in graph.of_type(SUBSCRIPTION):
        if subscription.inputs["topic"] == topic:
            path = f"projects/{subscription.inputs['project']}/subscriptions/{subscription.inputs['name']}"
            found += _received_runs(graph, path)
    return found


def _workflow_runs(graph: Graph, path: str) -> list[Retrain]:
    """The PipelineJobs the workflow at ``path`` creates (each step calling ``start_once`` with a job)."""
    from ruamel.yaml import YAML

    for workflow in graph.of_type(WORKFLOW):
        i = workflow.inputs
        if path != f"projects/{i['project']}/locations/{i['region']}/workflows/{i['name']}":
            continue
        steps = YAML(typ="safe").load(str(i["sourceContents"]))["main"]["steps"]
        jobs = [
            data_of(s["args"]["job"])
            for step in steps
            for s in step.values()
            if s.get("call") == "start_once"
        ]
        return [_job_run(graph, job) for job in jobs]
    raise RunError(f"no workflow {path} in {graph.target}")


def _job_run(graph: Graph, job: Mapping[str, Any]) -> Retrain:
    """A PipelineJob's run: named as the action of a GKE monitor that retrains on Vertex AI names it, by
    its template's ``gs://`` URI."""
    pipeline = str((job.get("labels") or {}).get("mlops-pipeline") or job["displayName"])
    template = graph.resources.get(address_of(graph.target, BUCKET_OBJECT, template_name(pipeline)))
    version = Template(template).uri if template is not None else f"the PipelineJob {job['displayName']}"
    parameters = job.get("runtimeConfig", {}).get("parameterValues") or {}
    return Retrain(pipeline, version, parameters, job["pipelineSpec"])


def _received_runs(graph: Graph, subscription: str) -> list[Retrain]:
    """The runs that the retrain receiver starts for a message of ``subscription``."""
    for receiver in graph.of_type(KUBE_DEPLOYMENT):
        for container in _containers(receiver):
            command = [str(c) for c in [*container.get("command", []), *container.get("args", [])]]
            if command[:2] != [STAGE_PROGRAM, RECEIVER]:
                continue
            config = stage_config(command, f"the {RECEIVER}")
            monitor = config.get("subscriptions", {}).get(subscription)
            if monitor is not None:
                return [Retrain.of(entry) for entry in config.get("retrain", {}).get(monitor, {}).values()]
    raise RunError(f"no {RECEIVER} pulls {subscription} in {graph.target}")


def _containers(resource: Resource) -> list[dict[str, Any]]:
    pod = resource.inputs.get("spec", {}).get("template", {}).get("spec", {})
    return list(pod.get("containers", []))
