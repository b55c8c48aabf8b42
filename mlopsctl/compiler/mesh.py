"""Istio: gateway, routing, traffic policy and mTLS per endpoint; Flagger canaries with analysis.

Requests reach an endpoint on its public host (the Istio ingress gateway) or, inside the
mesh, on ``<endpoint>.<namespace>.svc.cluster.local``; one VirtualService splits both
between KServe's predictor Services, on their own ports (``serving.destination_ports``:
HTTP on 80, which KServe aims at its logger agent when the endpoint logs, gRPC on the
runtime's port). A canary with analysis is handed to Flagger, which then owns the routing
(see docs/rollouts.md). Endpoints placed on Vertex AI are not in the mesh.
"""

from __future__ import annotations

from mlopsctl.compiler import flagger
from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.identity import NAMESPACE, identity_of
from mlopsctl.compiler.istio import (
    MESH,
    RETRIES,
    TIMEOUT,
    Site,
    admit_only,
    principal,
    service_port,
    traffic_policy,
)
from mlopsctl.compiler.routes import Route, routes
from mlopsctl.compiler.serving import destination_ports, endpoint_ports
from mlopsctl.config.endpoints import batch_endpoint
from mlopsctl.config.models.serving import Canary, Endpoint
from mlopsctl.config.naming import (
    PredictorPort,
    endpoint_host,
    inference_service,
    namespace,
    predictor_services,
    service_host,
    tls_secret,
)
from mlopsctl.graph import JSON

GRPC = {"content-type": {"prefix": "application/grpc"}}
KSERVE_ISVC_LABEL = "serving.kserve.io/inferenceservice"
KSERVE_GRAPH_LABEL = "serving.kserve.io/inferencegraph"


def build(ctx: BuildContext) -> None:
    """The namespace's mTLS mode, then each endpoint's objects (nothing without endpoints in the
    cluster)."""
    if not ctx.config.endpoints or ctx.config.placement.endpoints == "vertex":
        return
    ns = namespace(ctx.config)
    ns_address = ctx.address(NAMESPACE, ns)
    ctx.add_manifest(
        "peerauthentication",
        source=("security", "mtls"),
        depends_on=(ns_address,),
        name="default",
        namespace=ns,
        labels=ctx.k8s_labels("mesh"),
        mode=ctx.config.security.mtls,
    )
    for name, endpoint in ctx.config.endpoints.items():
        site = Site(name, ns, ctx.k8s_labels("mesh"), ("endpoints", name), (ns_address,))
        _endpoint(ctx, site, endpoint)


def _endpoint(ctx: BuildContext, site: Site, endpoint: Endpoint) -> None:
    host = endpoint_host(ctx.config, site.name)
    ports = endpoint_ports(ctx.config, site.name)
    gateway = site.add(
        ctx,
        "gateway",
        site.name,
        selector=ctx.config.security.ingress_gateway.selector,
        servers=_servers(ctx, site, host),
    )
    _authorization(ctx, site, endpoint)
    rollout = endpoint.rollout
    if isinstance(rollout, Canary) and rollout.analysis is not None:
        flagger.build_canary(ctx, site, endpoint, rollout, rollout.analysis, host=host, gateway=gateway)
        return
    after: tuple[str, ...] = (gateway,)
    if endpoint.graph is None:
        # Callers' DNS needs the in-mesh name to exist; without a selector it has no endpoints
        # of its own, and sidecars send its traffic where the VirtualService says.
        spec: JSON = {"ports": [service_port(p, target=False) for p in ports.values()]}
        after += (site.add(ctx, "service", site.name, spec=spec),)
    site.add(
        ctx,
        "virtualservice",
        site.name,
        after,
        hosts=[host, service_host(site.name, site.namespace)],
        gateways=[site.name, MESH],
        http=_http(
            routes(site.name, endpoint), ports, site.namespace, destination_ports(ctx.config, site.name)
        ),
    )
    policy = traffic_policy(endpoint)
    for svc in predictor_services(ctx.config, site.name):
        site.add(ctx, "destinationrule", svc, host=service_host(svc, site.namespace), traffic_policy=policy)


def _servers(ctx: BuildContext, site: Site, host: str) -> list[JSON]:
    """HTTPS (HTTP/2 too, hence gRPC) with the endpoint's certificate; plain HTTP only redirects."""
    return [
        {
            "port": {"number": 443, "name": f"https-{site.name}", "protocol": "HTTPS"},
            "hosts": [host],
            "tls": {"mode": "SIMPLE", "credentialName": tls_secret(ctx.config, site.name)},
        },
        {
            "port": {"number": 80, "name": f"http-{site.name}", "protocol": "HTTP"},
            "hosts": [host],
            "tls": {"httpsRedirect": True},
        },
    ]


def _http(
    table: list[Route], ports: dict[str, PredictorPort], ns: str, answering: dict[str, dict[str, int]]
) -> list[JSON]:
    """VirtualService routes: with both protocols, each route first for gRPC (by content type).

    ``answering`` holds each destination Service's port per protocol (they differ by runtime).
    """
    split = len(ports) > 1
    return [
        _istio_route(route, port, ns, GRPC if split and protocol == "grpc" else {}, answering)
        for route in table
        for protocol, port in ports.items()
    ]


def _istio_route(
    route: Route,
    port: PredictorPort,
    ns: str,
    protocol: dict[str, JSON],
    answering: dict[str, dict[str, int]],
) -> dict[str, JSON]:
    def destination(svc: str) -> dict[str, JSON]:
        return {"host": service_host(svc, ns), "port": {"number": answering[svc][port.name]}}

    spec: dict[str, JSON] = {"name": f"{route.name}-{port.name}"}
    matches = [dict(m) for m in route.match] if route.match else ([{}] if protocol else [])
    if matches:
        spec["match"] = [{**m, "headers": {**_headers(m), **protocol}} if protocol else m for m in matches]
    spec["route"] = [{"destination": destination(svc), "weight": weight} for svc, weight in route.weights]
    if route.mirror is not None:
        svc, percent = route.mirror
        spec["mirror"] = destination(svc)
        spec["mirrorPercentage"] = {"value": percent}
    spec["timeout"] = TIMEOUT
    spec["retries"] = RETRIES
    return spec


def _headers(match: dict[str, JSON]) -> dict[str, JSON]:
    headers = match.get("headers", {})
    return dict(headers) if isinstance(headers, dict) else {}


def _authorization(ctx: BuildContext, site: Site, endpoint: Endpoint) -> None:
    """Admit only the ingress gateway and the declared callers (``istio.admit_only``) to the
    workloads that answer the endpoint, and on a variant the batch jobs that send it their rows.
    An inference graph's steps admit only the graph's router (its service account) and the batch
    jobs calling them."""
    security = ctx.config.security
    trust_domain, ingress = security.trust_domain, security.ingress_gateway.service_account
    batch = _batch_callers(ctx, site)

    def add(template: str, name: str, **values: JSON) -> str:
        return site.add(ctx, template, name, **values)

    if endpoint.graph is None:
        for variant in endpoint.variants:
            isvc = inference_service(site.name, variant)
            labels = {KSERVE_ISVC_LABEL: isvc}
            admitted = caller_rules([*endpoint.callers, *batch.get(variant, [])], trust_domain, ingress)
            admit_only(add, f"{isvc}-predictor", labels, admitted)
        return
    rules = caller_rules(endpoint.callers, trust_domain, ingress)
    admit_only(add, site.name, {KSERVE_GRAPH_LABEL: site.name}, rules)
    router = f"{site.namespace}/{identity_of(ctx, 'endpoint', site.name, endpoint.service_account).ksa}"
    for step in endpoint.graph.steps:
        isvc = inference_service(site.name, step)
        accounts = dict.fromkeys([router, *batch.get(step, [])])
        own = [{"from": [{"source": {"principals": [principal(trust_domain, a) for a in accounts]}}]}]
        admit_only(add, f"{isvc}-predictor", {KSERVE_ISVC_LABEL: isvc}, own)


def _batch_callers(ctx: BuildContext, site: Site) -> dict[str, list[str]]:
    """The accounts (``namespace/name``) of the batch jobs calling each member of the endpoint."""
    found: dict[str, list[str]] = {}
    for name, job in ctx.config.batch_jobs.items():
        served = batch_endpoint(ctx.config, job)
        if served is not None and served.endpoint == site.name:
            account = f"{site.namespace}/{identity_of(ctx, 'batch', name).ksa}"
            found.setdefault(served.member, []).append(account)
    return found


def caller_rules(callers: list[str], trust_domain: str, ingress_account: str) -> list[JSON]:
    """One rule: from the ingress gateway or a caller's service account, or a caller namespace."""
    principals = [principal(trust_domain, ingress_account)]
    namespaces: list[str] = []
    for caller in callers:
        ns, _, account = caller.partition("/")
        found, wanted = (principals, principal(trust_domain, caller)) if account else (namespaces, ns)
        if wanted not in found:
            found.append(wanted)
    sources: list[JSON] = [{"source": {"principals": principals}}]
    if namespaces:
        sources.append({"source": {"namespaces": namespaces}})
    return [{"from": sources}]
