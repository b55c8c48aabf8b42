"""KServe: an InferenceService per endpoint variant, an InferenceGraph per serial endpoint.

Every InferenceService runs in RawDeployment mode: KServe makes a Deployment and
a Service named ``<isvc>-predictor`` of it, and Istio (the mesh step) splits
traffic between the Services of an endpoint's variants; KServe's own canary
split is not used. Each carries the label ``networking.kserve.io/visibility:
cluster-local``, so KServe makes no Ingress or HTTPRoute of its own beside the
endpoint's Gateway and VirtualService (an InferenceGraph gets none in raw mode).

Ports: the predictor's first container port becomes Service port 80 and every
other one keeps its number. HTTP is listed first, so an endpoint serving both
answers HTTP on port 80 and gRPC on the port its runtime's gRPC server listens
on (``runtimes.RUNTIMES``: 9000 for Triton). The ports are named ``http`` and
``grpc``: the Service inherits the names, and Istio chooses the protocol by port
name (``h2c``, which Knative needs in Serverless mode, means nothing to Istio).
``protocolVersion`` is that of the main transport (HTTP when served, else gRPC,
as ``grpc-v2``); a runtime's gRPC server speaks its own version (v2 for KServe's
Python servers and TorchServe).

Autoscaling: ``cpu`` and ``memory`` become a HorizontalPodAutoscaler on average
utilisation (KServe's default autoscaler class). ``rps``, ``concurrency`` and
``gpu-duty-cycle`` have no HPA source in RawDeployment mode, so they become a
KEDA ScaledObject (autoscaler class ``keda``) on a PromQL query to the cluster's
Prometheus API (``metrics.prometheus_url``), with the per-replica target as
threshold: requests per second and in-flight requests (Little's law: summed
request time per second) from Istio's metrics, and the GKE accelerator duty cycle
summed over the pods.
An HPA cannot scale to zero, so KServe raises ``minReplicas: 0`` to 1 for
``cpu`` and ``memory``; percent targets are rounded to whole percents.

Metrics: the predictor pods carry the ``prometheus.io/*`` annotations of their runtime's
metrics endpoint (``metrics.scrape_annotations``), from which Istio's agent merges the
model server's metrics into what it serves to the collectors.

Request logging: with ``logger`` set, KServe adds its agent to the predictor pod
(port 9081) and points the predictor Service's first port, HTTP, at the agent, which
passes each request on to the model server and sends the request and the response as
CloudEvents to the endpoint's request logger. Whatever reaches that Service port is
logged; gRPC, on its own port, bypasses the agent.

Feature views: an endpoint's ``features`` reach its model servers as ``MLOPSCTL_FEATURE_VIEW_<VIEW>``,
the resource name of each view, which its Google account (Workload Identity) may fetch feature
values from (:mod:`mlopsctl.compiler.vertex_features`); the InferenceServices wait for those grants.

Endpoints placed on Vertex AI are not KServe's: :mod:`mlopsctl.compiler.vertex_serving`.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlopsctl.compiler import rbac
from mlopsctl.compiler.context import BuildContext, kubernetes_type
from mlopsctl.compiler.identity import NAMESPACE, Identity, identity_of
from mlopsctl.compiler.metrics import cluster_pin, prometheus_url, scrape_annotations
from mlopsctl.compiler.pods import (
    NO_API_TOKEN,
    RESTRICTED_CONTAINER,
    RESTRICTED_POD,
    Placement,
    placement,
    pod_placement,
)
from mlopsctl.compiler.request_logger import add_request_logger
from mlopsctl.compiler.vertex_features import online_reads, view_env
from mlopsctl.config.endpoints import members
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.models.serving import Autoscale, Endpoint, Variant
from mlopsctl.config.naming import (
    PredictorPort,
    inference_service,
    namespace,
    predictor_service,
)
from mlopsctl.config.runtimes import RUNTIMES, ServingRuntime, protocol_version, runtime_key
from mlopsctl.config.sourcemap import Path
from mlopsctl.graph import JSON

INFERENCE_SERVICE = kubernetes_type("serving.kserve.io/v1beta1", "InferenceService")
INFERENCE_GRAPH = kubernetes_type("serving.kserve.io/v1alpha1", "InferenceGraph")
DEPLOYMENT_MODE = {"serving.kserve.io/deploymentMode": "RawDeployment"}
CLUSTER_LOCAL = {"networking.kserve.io/visibility": "cluster-local"}
"""The InferenceService label that keeps KServe from exposing it outside the cluster itself."""
LOGGER_AGENT_PORT = 9081
"""Where KServe's agent sidecar listens in a predictor pod whose InferenceService has a ``logger``."""
SERVING_POD: dict[str, JSON] = {**RESTRICTED_POD, "runAsUser": 1000}
"""The restricted standard; uid 1000 is the non-root user of KServe's runtime images."""


@dataclass(frozen=True)
class _Serving:
    """One endpoint as its InferenceServices see it."""

    name: str
    spec: Endpoint
    who: Identity
    depends_on: tuple[str, ...]
    logger_url: str | None
    env: list[JSON]
    """The model servers' environment: the feature views they read online."""


def build(ctx: BuildContext) -> None:
    if ctx.config.placement.endpoints == "vertex":
        return
    ns_address = ctx.address(NAMESPACE, namespace(ctx.config))
    for name, endpoint in ctx.config.endpoints.items():
        who = identity_of(ctx, "endpoint", name, endpoint.service_account)
        depends_on = (ns_address, ctx.address(rbac.SERVICE_ACCOUNT, who.ksa))
        served = {inference_service(name, m): (v.model, v.version) for m, v, _ in members(name, endpoint)}
        logger_url = (
            add_request_logger(ctx, name, endpoint.logging, who, depends_on, served)
            if endpoint.logging
            else None
        )
        reads = online_reads(ctx, name) if endpoint.features else ()
        at = _Serving(name, endpoint, who, (*depends_on, *reads), logger_url, view_env(ctx, name))
        services = {
            member: _inference_service(ctx, at, member, variant, source)
            for member, variant, source in members(name, endpoint)
        }
        if endpoint.graph is not None:
            _inference_graph(ctx, at, services)


def _inference_service(ctx: BuildContext, at: _Serving, member: str, variant: Variant, source: Path) -> str:
    """Adds the InferenceService of one variant or graph step; returns its name."""
    isvc = inference_service(at.name, member)
    where = placement(
        variant.node_pool, ctx.config.accelerators.get(variant.node_pool or ""), variant.accelerators
    )
    predictor: dict[str, JSON] = {
        "model": _model(ctx, at, variant, where),
        "minReplicas": variant.min_replicas,
        "maxReplicas": variant.max_replicas,
        "autoScaling": {"metrics": [_metric(ctx, isvc, variant.autoscaling, by_workload=at.spec.analysed)]},
        "serviceAccountName": at.who.ksa,
        **NO_API_TOKEN,  # KServe's own default (its ``security`` config) mounts the token
        "securityContext": SERVING_POD,
        **pod_placement(where),
    }
    if at.logger_url:
        predictor["logger"] = {"mode": "all", "url": at.logger_url}
    runtime = RUNTIMES[runtime_key(at.spec, ctx.config.models[variant.model].framework)]
    if scraped := scrape_annotations(runtime.name):
        predictor["annotations"] = scraped
    annotations = dict(DEPLOYMENT_MODE)
    if variant.autoscaling.metric not in ("cpu", "memory"):
        annotations["serving.kserve.io/autoscalerClass"] = "keda"
    ctx.add_manifest(
        "inferenceservice",
        source=source,
        depends_on=at.depends_on,
        name=isvc,
        namespace=namespace(ctx.config),
        labels={**_labels(ctx, at.name, member), **CLUSTER_LOCAL},
        annotations=annotations,
        predictor=predictor,
    )
    return isvc


def _labels(ctx: BuildContext, endpoint_name: str, member: str | None = None) -> dict[str, str]:
    labels = {**ctx.k8s_labels("endpoint"), "mlopsctl.dev/endpoint": endpoint_name}
    return {**labels, "mlopsctl.dev/variant": member} if member else labels


def _model(ctx: BuildContext, at: _Serving, variant: Variant, where: Placement) -> dict[str, JSON]:
    """The predictor's ``model``: format, runtime, protocol, artifact, ports, resources and environment."""
    endpoint, model = at.spec, ctx.config.models[variant.model]
    key = runtime_key(endpoint, model.framework)
    runtime = RUNTIMES[key]
    version = protocol_version(endpoint, key)
    amounts: dict[str, JSON] = {"cpu": variant.cpu, "memory": variant.memory}
    if where.accelerator:
        amounts[where.accelerator] = str(where.count)
    ports: list[JSON] = [
        {"name": protocol, "containerPort": port}
        for protocol, port in container_ports(endpoint, runtime).items()
    ]
    return {
        "modelFormat": {"name": model.framework},
        "runtime": runtime.name,
        "protocolVersion": version if "http" in endpoint.protocols else f"grpc-{version}",
        "storageUri": model.versions[variant.version].artifact_uri,
        "ports": ports,
        "resources": {"requests": amounts, "limits": amounts},
        **({"env": at.env} if at.env else {}),
        "securityContext": RESTRICTED_CONTAINER,
    }


def container_ports(endpoint: Endpoint, runtime: ServingRuntime) -> dict[str, int]:
    """The predictor's ports by protocol, in the order KServe reads them: HTTP first."""
    ports = {"http": runtime.http_port, "grpc": runtime.grpc_port}
    return {protocol: ports[protocol] for protocol in ("http", "grpc") if protocol in endpoint.protocols}


def variant_container_ports(config: MLOpsConfig, endpoint: str, variant: str) -> dict[str, int]:
    """The ports a variant's predictor container listens on, by protocol (its runtime's)."""
    spec = config.endpoints[endpoint]
    runtime = RUNTIMES[runtime_key(spec, config.models[spec.variants[variant].model].framework)]
    return container_ports(spec, runtime)


def predictor_service_ports(config: MLOpsConfig, endpoint: str, variant: str) -> dict[str, PredictorPort]:
    """The ports of a variant's predictor Service (``naming.predictor_services``) by protocol, as
    KServe writes them: the first container port becomes port 80 and the others keep their number;
    each targets its container port, except that with request logging the first (HTTP: logging
    needs it) targets the logger agent, which hands the request on to the container port."""
    logged = config.endpoints[endpoint].logging is not None
    return {
        protocol: PredictorPort(
            protocol, 80 if i == 0 else port, LOGGER_AGENT_PORT if logged and i == 0 else port
        )
        for i, (protocol, port) in enumerate(variant_container_ports(config, endpoint, variant).items())
    }


GRAPH_ROUTER_PORT = PredictorPort("http", 80, 8080)
"""The Service port of an inference graph's router, and the port its container listens on."""


def endpoint_ports(config: MLOpsConfig, endpoint: str) -> dict[str, PredictorPort]:
    """The ports of the Service named after the endpoint, which callers in the mesh dial, by
    protocol, gRPC first (the order routes are matched in): those of its first variant's predictor
    Service (variants should share a runtime's ports), or of its inference graph's router."""
    spec = config.endpoints[endpoint]
    if spec.graph is not None:
        return {"http": GRAPH_ROUTER_PORT}
    ports = predictor_service_ports(config, endpoint, next(iter(spec.variants)))
    return {protocol: ports[protocol] for protocol in ("grpc", "http") if protocol in ports}


def destination_ports(config: MLOpsConfig, endpoint: str) -> dict[str, dict[str, int]]:
    """The Services that answer ``endpoint`` (``naming.predictor_services``) and their ports by
    protocol: a predictor per variant, or the inference graph's router (HTTP on 80)."""
    spec = config.endpoints[endpoint]
    if spec.graph is not None:
        return {endpoint: {"http": GRAPH_ROUTER_PORT.number}}
    return {
        predictor_service(endpoint, v): {
            protocol: port.number for protocol, port in predictor_service_ports(config, endpoint, v).items()
        }
        for v in spec.variants
    }


def _metric(ctx: BuildContext, isvc: str, autoscale: Autoscale, *, by_workload: bool = False) -> JSON:
    """One entry of the predictor's ``autoScaling.metrics`` (see the module docstring)."""
    if autoscale.metric in ("cpu", "memory"):
        percent = max(1, round(autoscale.target))
        target = {"type": "Utilization", "averageUtilization": percent}
        return {"type": "Resource", "resource": {"name": autoscale.metric, "target": target}}
    query = _query(ctx, f"{isvc}-predictor", autoscale.metric, by_workload=by_workload)
    return {
        "type": "External",
        "external": {
            "metric": {"backend": "prometheus", "serverAddress": prometheus_url(ctx.config), "query": query},
            "target": {"type": "Value", "value": f"{autoscale.target:g}"},
        },
    }


def _query(ctx: BuildContext, service: str, metric: str, *, by_workload: bool = False) -> str:
    """The PromQL whose value, divided by the per-replica target, is the replicas needed (of this
    cluster's series only: Managed Prometheus holds every cluster's of the project).

    A destination sidecar names the request's Service after the oldest Service selecting its pod.
    That is the predictor Service unless Flagger routes the endpoint (``by_workload``): its target
    ``<endpoint>`` and copies also select predictor pods, a variant's or, for the primary, another
    one's; the Deployment (``<isvc>-predictor``, ``destination_workload``) is then what names the
    variant's own requests."""
    ns = namespace(ctx.config)
    if metric == "gpu-duty-cycle":
        pin = cluster_pin(ctx.config, ctx.target, system=True)
        duty = (
            f'kubernetes_io:container_accelerator_duty_cycle{{monitored_resource="k8s_container",'
            f'namespace_name="{ns}",pod_name=~"{service}-.*"{pin}}}'
        )
        return f"sum(avg by (pod_name) ({duty}))"
    where = (
        f'destination_workload_namespace="{ns}",destination_workload="{service}"'
        if by_workload
        else f'destination_service_namespace="{ns}",destination_service_name="{service}"'
    )
    selector = f'{{reporter="destination",{where}{cluster_pin(ctx.config, ctx.target)}}}'
    if metric == "rps":
        return f"sum(rate(istio_requests_total{selector}[1m]))"
    return f"sum(rate(istio_request_duration_milliseconds_sum{selector}[1m])) / 1000"


def _inference_graph(ctx: BuildContext, at: _Serving, services: dict[str, str]) -> None:
    """A Sequence router: each step gets the previous step's response."""
    steps: list[JSON] = [
        {"name": step, "serviceName": isvc, **({"data": "$response"} if i else {})}
        for i, (step, isvc) in enumerate(services.items())
    ]
    ctx.add_manifest(
        "inferencegraph",
        source=("endpoints", at.name, "graph"),
        depends_on=(*at.depends_on, *(ctx.address(INFERENCE_SERVICE, isvc) for isvc in services.values())),
        name=at.name,
        namespace=namespace(ctx.config),
        labels=_labels(ctx, at.name),
        annotations=DEPLOYMENT_MODE,
        nodes={"root": {"routerType": "Sequence", "steps": steps}},
        service_account=at.who.ksa,
    )
