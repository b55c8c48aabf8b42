"""Metrics: what collects the series that Flagger, KEDA and the alert rules query, and where they ask.

Collection. Every pod of an endpoint (predictors, InferenceGraph routers, request loggers) runs in
the mesh, where STRICT mTLS refuses a plain scrape of an application's own port. So nothing
scrapes applications directly: Istio's agent serves Envoy's metrics merged with the application's
(the port and path the pod's ``prometheus.io/*`` annotations name, :func:`scrape_annotations`) on
its plaintext port 15020, ``/stats/prometheus``, which the sidecar does not intercept. One collector
selects the namespace's endpoint pods, one the ingress gateway's pods (which report the requests
they send, ``reporter="source"``). Each keeps only the series declared for what it scrapes in
``mlopsctl/data/metrics.json``, which also names the upstream source of every series.

With ``platform.metrics: managed`` a collector is a Google Managed Prometheus ``PodMonitoring``;
``in-cluster``, a Prometheus Operator ``PodMonitor`` carrying the label kube-prometheus-stack's
Prometheus selects by. GMP's system metrics (the GPU duty cycle) need no collector.

Queries. Flagger and KEDA ask :func:`prometheus_url`. Managed, that is GMP's query frontend, which
mlopsctl runs when something queries it: ``frontend`` in ``gmp-public``, authenticating to Cloud
Monitoring as its own Google account (``roles/monitoring.viewer`` on the project) through Workload
Identity. That account reads every series of the project, and the frontend asks for no credentials,
so a NetworkPolicy (enforced by the cluster's Dataplane V2) admits to its port only the pods that
send the graph's queries (:data:`QUERIERS`): KEDA's operator, which runs the ScaledObjects' Prometheus
scalers (its metrics server asks the operator), and Flagger's controller; nothing else reaches it.
Alert rules are evaluated by GMP's managed rule evaluator (``Rules``) or the in-cluster Prometheus
(``PrometheusRule``): :mod:`mlopsctl.compiler.monitoring`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

from mlopsctl.compiler.context import BuildContext, kubernetes_type
from mlopsctl.compiler.iam import PROJECT_IAM_MEMBER
from mlopsctl.compiler.identity import NAMESPACE, WorkloadAccount, workload_identity
from mlopsctl.compiler.kfp_dag import STAGE_PROGRAM
from mlopsctl.compiler.pods import RESTRICTED_CONTAINER, RESTRICTED_POD
from mlopsctl.compiler.receiver_network import NAMESPACE_NAME_LABEL
from mlopsctl.config.addons import catalog
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.naming import cluster_name, namespace, region_short, shorten
from mlopsctl.config.sourcemap import Path
from mlopsctl.config.target import Target
from mlopsctl.graph import JSON, Graph, Resource

MANAGED_QUERY_URL = "http://frontend.gmp-public.svc.cluster.local:9090"
"""Google Managed Prometheus, through its query frontend (which authenticates to Cloud Monitoring)."""
IN_CLUSTER_QUERY_URL = "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090"
"""The Prometheus of the kube-prometheus-stack release ``kube-prometheus-stack`` in ``monitoring``."""

PODMONITORING = kubernetes_type("monitoring.googleapis.com/v1", "PodMonitoring")
PODMONITOR = kubernetes_type("monitoring.coreos.com/v1", "PodMonitor")

AUTOSCALER_CLASS = "serving.kserve.io/autoscalerClass"
ENDPOINT_LABEL = "mlopsctl.dev/endpoint"
"""On every pod of an endpoint: KServe copies an InferenceService's and InferenceGraph's labels to
its pods, and the request logger's Deployment sets it."""
PROXY_PORT = 15020
PROXY_PATH = "/stats/prometheus"
"""Where the istio-agent serves Envoy's and the application's metrics, merged (not intercepted)."""
ENVOY_PORT_NAME = "http-envoy-prom"
"""The one port the istio-proxy container declares: a PodMonitor finds a pod's target through it
(Prometheus Operator scrapes declared ports only) and then moves the address to :data:`PROXY_PORT`."""
SCRAPE_INTERVAL = "15s"
"""A quarter of KEDA's one-minute rate window: four samples per window."""
KUBE_PROMETHEUS_LABELS = {"release": "kube-prometheus-stack"}
"""What kube-prometheus-stack's Prometheus selects PodMonitors and PrometheusRules by (its default)."""
GMP_SCOPE_LABELS = ("project_id", "location", "cluster", "namespace")
"""Labels GMP's rule evaluator sets on a namespaced ``Rules`` itself; a rule setting one is refused."""

FRONTEND_NAMESPACE = "gmp-public"
FRONTEND = "frontend"
FRONTEND_PORT = 9090
FRONTEND_IMAGE = "gke.gcr.io/prometheus-engine/frontend:v0.15.3-gke.0"
"""The image ``examples/frontend.yaml`` pins at prometheus-engine v0.17.2 (what GMP's docs apply)."""
FRONTEND_RESOURCES: dict[str, JSON] = {
    "requests": {"cpu": "10m", "memory": "32Mi"},
    "limits": {"memory": "128Mi"},
}
"""A stateless proxy of small JSON answers."""
FRONTEND_REPLICAS = 2
METRICS_VIEWER = "roles/monitoring.viewer"
QUERIERS: dict[str, tuple[str, dict[str, str]]] = {
    "Canary": ("flagger", {"app.kubernetes.io/name": "flagger", "app.kubernetes.io/instance": "flagger"}),
    "InferenceService": ("keda", {"app": "keda-operator", "app.kubernetes.io/name": "keda-operator"}),
}
"""The kind of an object whose queries the frontend answers → the add-on whose pods send them, in the
add-on's namespace (``mlopsctl/data/addons.json``), and those pods' labels: Flagger's chart (1.44.0)
labels its controller with its name and the release's (the add-on's name), KEDA's (2.20.2) its
operator ``app`` (the Deployment's selector) and ``app.kubernetes.io/name`` ``keda-operator``."""


def prometheus_url(config: MLOpsConfig) -> str:
    """The Prometheus HTTP API that Flagger's analysis and KEDA's triggers query."""
    return MANAGED_QUERY_URL if config.platform.metrics == "managed" else IN_CLUSTER_QUERY_URL


@dataclass(frozen=True)
class Exporter:
    """A program's Prometheus metrics (``metrics.json``)."""

    name: str
    source: str
    labels: frozenset[str]
    metrics: Mapping[str, str]
    """Exposed name → type (counter, gauge, histogram, summary)."""

    def series(self) -> dict[str, frozenset[str]]:
        """Every series name it exposes, with the labels its samples may carry."""
        found: dict[str, frozenset[str]] = {}
        for name, kind in self.metrics.items():
            if kind in ("histogram", "summary"):
                bucket = (f"{name}_bucket", "le") if kind == "histogram" else (name, "quantile")
                found[bucket[0]] = self.labels | {bucket[1]}
                found[f"{name}_sum"] = found[f"{name}_count"] = self.labels
            else:
                found[name] = self.labels
        return found


@dataclass(frozen=True)
class MetricsEndpoint:
    """Where a server exposes an exporter's metrics."""

    exporter: str
    port: int
    path: str


@dataclass(frozen=True)
class MetricsCatalog:
    exporters: Mapping[str, Exporter]
    runtimes: Mapping[str, MetricsEndpoint | None]
    """ClusterServingRuntime name → its server's metrics (None: it exposes none)."""
    services: Mapping[str, MetricsEndpoint]
    """A stage runtime service → its metrics."""
    target_labels: Mapping[str, frozenset[str]]
    """``platform.metrics`` → the labels its collectors add to every sample."""


@functools.cache
def metrics_catalog() -> MetricsCatalog:
    """The declared series and metrics endpoints shipped with mlopsctl."""
    raw = json.loads(resources.files("mlopsctl").joinpath("data/metrics.json").read_text(encoding="utf-8"))

    def endpoint(spec: Mapping[str, JSON] | None) -> MetricsEndpoint | None:
        return MetricsEndpoint(spec["exporter"], spec["port"], spec["path"]) if spec else None

    return MetricsCatalog(
        exporters={
            name: Exporter(name, spec["source"], frozenset(spec["labels"]), dict(spec["metrics"]))
            for name, spec in raw["exporters"].items()
        },
        runtimes={name: endpoint(spec) for name, spec in raw["runtimes"].items()},
        services={name: MetricsEndpoint(**spec) for name, spec in raw["services"].items()},
        target_labels={mode: frozenset(labels) for mode, labels in raw["targetLabels"].items()},
    )


def scrape_annotations(server: str) -> dict[str, str]:
    """The pod annotations that have Istio's agent merge ``server``'s metrics into what it serves on
    :data:`PROXY_PORT`; ``server`` is a ClusterServingRuntime or a stage runtime service (nothing
    for a runtime that exposes no metrics)."""
    found = metrics_catalog().runtimes.get(server) or metrics_catalog().services.get(server)
    if found is None:
        return {}
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(found.port),
        "prometheus.io/path": found.path,
    }


def endpoint_pods(graph: Graph) -> list[Resource]:
    """The workloads whose pods are an endpoint's: InferenceServices, InferenceGraphs (KServe copies
    their labels to the pods) and Deployments (the request loggers), by :data:`ENDPOINT_LABEL` (the
    labels of a templated object are a mapping: :meth:`BuildContext.add_manifest`)."""
    return [
        r
        for r in graph
        if r.is_kubernetes
        and r.inputs["kind"] in ("InferenceService", "InferenceGraph", "Deployment")
        and ENDPOINT_LABEL in (r.inputs["metadata"].get("labels") or {})
    ]


def served_metrics(ctx: BuildContext, workload: Resource) -> MetricsEndpoint | None:
    """Where a workload's pods expose their server's metrics: an InferenceService's runtime's, a
    stage service's (``mlopsctl-stage <service>``); None when they expose none that mlopsctl knows
    (a custom predictor's containers, a runtime left for KServe to choose). What a template rendered
    is read through :meth:`BuildContext.read`, so an override's other shapes are located errors."""
    catalog = metrics_catalog()
    if workload.inputs["kind"] == "InferenceService":
        use = "mlopsctl reads the runtime of spec.predictor.model to collect its server's metrics"
        runtime = ctx.read(workload, ("spec", "predictor", "model", "runtime"), str, use)
        return catalog.runtimes.get(runtime) if runtime is not None else None
    if workload.inputs["kind"] == "Deployment":
        use = "mlopsctl reads the containers' commands to collect a stage service's metrics"
        containers = ("spec", "template", "spec", "containers")
        for i in range(len(ctx.read(workload, containers, list, use) or ())):
            program, *args = ctx.read(workload, (*containers, i, "command"), list, use) or [""]
            if program == STAGE_PROGRAM and args and isinstance(args[0], str) and args[0] in catalog.services:
                return catalog.services[args[0]]
    return None


def build(ctx: BuildContext) -> None:
    """Collectors of the pods of the endpoints in the graph and of the ingress gateway that
    routes to them, and the query frontend when KEDA triggers or Flagger canaries query it."""
    workloads = endpoint_pods(ctx.graph)
    if not workloads:
        return
    config = ctx.config
    ns = namespace(config)
    exporters = {"istio-proxy"} | {m.exporter for w in workloads if (m := served_metrics(ctx, w))}
    _collector(
        ctx,
        "istio-proxies",
        ns,
        {"matchExpressions": [{"key": ENDPOINT_LABEL, "operator": "Exists"}]},
        sorted(exporters),
        ("endpoints",),
        (ctx.address(NAMESPACE, ns),),
    )
    gateway = config.security.ingress_gateway
    _collector(
        ctx,
        "istio-ingressgateway",
        gateway.service_account.partition("/")[0],
        {"matchLabels": dict(gateway.selector)},
        ["istio-proxy"],
        ("security", "ingressGateway"),
        (),
    )
    consumers = [r for r in ctx.graph if _queries_prometheus(r)]
    if config.platform.metrics == "managed" and consumers:
        _frontend(ctx, consumers[0].source, sorted({str(r.inputs["kind"]) for r in consumers}))


def _queries_prometheus(resource: Resource) -> bool:
    """A Flagger Canary, or an InferenceService that KEDA scales on a query."""
    if not resource.is_kubernetes:
        return False
    annotations = resource.inputs["metadata"].get("annotations") or {}
    kind = str(resource.inputs["kind"])
    return kind == "Canary" or (kind == "InferenceService" and annotations.get(AUTOSCALER_CLASS) == "keda")


def _collector(
    ctx: BuildContext,
    name: str,
    ns: str,
    selector: dict[str, JSON],
    exporters: list[str],
    source: Path,
    depends_on: tuple[str, ...],
) -> None:
    """A PodMonitoring (managed) or PodMonitor (in-cluster) of the istio-agents of the pods that
    ``selector`` selects in ``ns``, keeping only the series of ``exporters``."""
    catalog = metrics_catalog()
    series = "|".join(sorted({s for e in exporters for s in catalog.exporters[e].series()}))
    values: dict[str, JSON] = {"name": name, "namespace": ns, "selector": selector, "series": series}
    values |= {"path": PROXY_PATH, "interval": SCRAPE_INTERVAL}
    labels = ctx.k8s_labels("metrics")
    if ctx.config.platform.metrics == "managed":
        ctx.add_manifest(
            "podmonitoring", source=source, depends_on=depends_on, labels=labels, port=PROXY_PORT, **values
        )
    else:
        ctx.add_manifest(
            "podmonitor",
            source=source,
            depends_on=depends_on,
            labels=labels | KUBE_PROMETHEUS_LABELS,
            port_name=ENVOY_PORT_NAME,
            address=f"$1:{PROXY_PORT}",
            **values,
        )


def frontend_account(ctx: BuildContext) -> tuple[str, str]:
    """The frontend's Kubernetes account and its Google account id, named for the target: clusters of
    one project share a Workload Identity pool, where a namespace and name are all that identify it."""
    suffix = f"{ctx.target.env}-{region_short(ctx.target.region)}"
    return shorten(f"gmp-frontend-{suffix}", 63), shorten(f"gmp-frontend-{suffix}", 30)


def _frontend(ctx: BuildContext, source: Path, kinds: list[str]) -> None:
    """GMP's query frontend (Deployment and Service ``frontend`` in ``gmp-public``), its identity, and
    the NetworkPolicy that admits the pods querying for objects of ``kinds`` only."""
    ksa_name, account_id = frontend_account(ctx)
    email = f"{account_id}@{ctx.gcp_project}.iam.gserviceaccount.com"
    labels = ctx.k8s_labels("metrics")
    described = WorkloadAccount(
        "gmp-frontend",
        account_id,
        f"mlopsctl GMP query frontend ({ctx.target.env}/{ctx.target.region})",
        f"Reads Managed Service for Prometheus for {ctx.config.project.name}'s cluster.",
    )
    gsa, ksa, _ = workload_identity(
        ctx, described, FRONTEND_NAMESPACE, ksa_name, source=source, component="metrics"
    )
    ctx.add(
        PROJECT_IAM_MEMBER,
        "gmp-frontend-monitoring-viewer",
        {"project": ctx.gcp_project, "role": METRICS_VIEWER, "member": f"serviceAccount:{email}"},
        source=source,
        depends_on=(gsa.address,),
    )
    selector = {"app.kubernetes.io/name": "gmp-frontend"}
    policy = ctx.add_manifest(
        "networkpolicy-ingress",
        graph_name="gmp-frontend",
        source=source,
        name=FRONTEND,
        namespace=FRONTEND_NAMESPACE,
        labels=labels,
        match_labels=selector,
        ingress=[
            {
                "from": [querier_peer(kind) for kind in kinds],
                "ports": [{"protocol": "TCP", "port": FRONTEND_PORT}],
            }
        ],
    )
    deployment = ctx.add_manifest(
        "gmp-frontend",
        graph_name="gmp-frontend",
        source=source,
        depends_on=(ksa.address, policy.address),
        name=FRONTEND,
        namespace=FRONTEND_NAMESPACE,
        labels=labels,
        replicas=FRONTEND_REPLICAS,
        selector=selector,
        pod_labels={**labels, **selector},
        service_account=ksa_name,
        pod_security={**RESTRICTED_POD, "runAsUser": 1000, "runAsGroup": 1000},
        image=FRONTEND_IMAGE,
        args=[f"--web.listen-address=:{FRONTEND_PORT}", f"--query.project-id={ctx.gcp_project}"],
        port=FRONTEND_PORT,
        resources=FRONTEND_RESOURCES,
        container_security={**RESTRICTED_CONTAINER, "readOnlyRootFilesystem": True},
    )
    port = {"name": "http", "port": FRONTEND_PORT, "targetPort": "http", "protocol": "TCP"}
    ctx.add_manifest(
        "service",
        graph_name="gmp-frontend",
        source=source,
        depends_on=(deployment.address,),
        name=FRONTEND,
        namespace=FRONTEND_NAMESPACE,
        labels=labels,
        spec={"selector": selector, "ports": [port]},
    )


def querier_peer(kind: str) -> dict[str, JSON]:
    """The NetworkPolicy peer of the pods that query the frontend for objects of ``kind``."""
    addon, pod_labels = QUERIERS[kind]
    namespace: dict[str, JSON] = {NAMESPACE_NAME_LABEL: catalog().addons[addon].namespace}
    return {"namespaceSelector": {"matchLabels": namespace}, "podSelector": {"matchLabels": {**pod_labels}}}


def cluster_pin(config: MLOpsConfig, target: Target, *, system: bool = False) -> str:
    """``,cluster="NAME"`` for a selector answered by Managed Prometheus, which holds the series of
    every cluster of the project (``cluster_name`` for GKE's system metrics); empty in-cluster."""
    if config.platform.metrics != "managed":
        return ""
    return f',{"cluster_name" if system else "cluster"}="{cluster_name(config, target)}"'
