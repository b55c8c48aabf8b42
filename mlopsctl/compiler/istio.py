"""What the Istio objects of an endpoint share, whoever writes its routes (mlopsctl or Flagger)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mlopsctl.compiler.context import BuildContext
from mlopsctl.config.durations import parse_duration
from mlopsctl.config.models.serving import ABTest, Endpoint
from mlopsctl.config.naming import PredictorPort
from mlopsctl.config.sourcemap import Path
from mlopsctl.graph import JSON

MESH = "mesh"
"""The reserved gateway name for sidecars: routes apply to callers inside the mesh too."""
TIMEOUT = "60s"
RETRIES: dict[str, JSON] = {
    "attempts": 2,
    "perTryTimeout": "30s",
    "retryOn": "connect-failure,refused-stream,unavailable,reset,503",
}
HTTP_POOL: dict[str, JSON] = {
    "http1MaxPendingRequests": 1000,
    "http2MaxRequests": 1000,
    "idleTimeout": "300s",
}
TCP_POOL: dict[str, JSON] = {"maxConnections": 1000, "connectTimeout": "5s"}
OUTLIER_DETECTION: dict[str, JSON] = {
    "consecutive5xxErrors": 5,
    "interval": "30s",
    "baseEjectionTime": "60s",
    "maxEjectionPercent": 50,
}


@dataclass(frozen=True)
class Site:
    """What every object of one endpoint shares."""

    name: str
    namespace: str
    labels: dict[str, str]
    source: Path
    depends_on: tuple[str, ...]

    def add(
        self, ctx: BuildContext, template: str, name: str, after: tuple[str, ...] = (), **values: JSON
    ) -> str:
        """Add one object of this endpoint (also depending on ``after``); returns its address."""
        resource = ctx.add_manifest(
            template,
            source=self.source,
            depends_on=(*self.depends_on, *after),
            name=name,
            namespace=self.namespace,
            labels=self.labels,
            **values,
        )
        return resource.address


def service_port(port: PredictorPort, *, target: bool) -> dict[str, JSON]:
    spec: dict[str, JSON] = {"name": port.name, "port": port.number, "protocol": "TCP"}
    if target:
        spec["targetPort"] = port.container
    return spec


def traffic_policy(endpoint: Endpoint, *, tcp: bool = True) -> dict[str, JSON]:
    """mTLS between sidecars, bounded connections, ejection of failing replicas, A/B stickiness.

    ``tcp=False`` leaves out the TCP connection limits, which a Flagger Canary's traffic policy
    cannot carry (its CRD lists only ``connectionPool.http``); the HTTP limits still bound it.
    """
    pool: dict[str, JSON] = {"tcp": TCP_POOL, "http": HTTP_POOL} if tcp else {"http": HTTP_POOL}
    policy: dict[str, JSON] = {
        "tls": {"mode": "ISTIO_MUTUAL"},
        "connectionPool": pool,
        "outlierDetection": OUTLIER_DETECTION,
    }
    sticky = endpoint.rollout.sticky if isinstance(endpoint.rollout, ABTest) else None
    if sticky is not None:
        key: dict[str, JSON] = (
            {"httpCookie": {"name": sticky.cookie, "ttl": seconds(sticky.ttl)}}
            if sticky.cookie is not None
            else {"httpHeaderName": (sticky.header or "").lower()}
        )
        policy["loadBalancer"] = {"consistentHash": key}
    return policy


def admit_only(
    add: Callable[..., object], name: str, match_labels: dict[str, str], rules: list[JSON]
) -> None:
    """Admit only the sources of ``rules`` to the workloads ``match_labels`` selects.

    An ALLOW policy admits them; a DENY policy refuses every other source. The DENY is what
    restricts: Istio admits a request that any ALLOW policy matches, and a Kubeflow profile's
    namespace carries one (``ns-owner-access-istio``) that admits every caller of the namespace.
    ``add(template, name, **values)`` adds one object.
    """
    principals = [p for rule in rules for s in rule["from"] for p in s["source"].get("principals", [])]
    namespaces = [n for rule in rules for s in rule["from"] for n in s["source"].get("namespaces", [])]
    others: dict[str, JSON] = {"notPrincipals": list(dict.fromkeys(principals))}
    if namespaces:
        others["notNamespaces"] = list(dict.fromkeys(namespaces))
    add("authorizationpolicy", name, match_labels=match_labels, action="ALLOW", rules=rules)
    add(
        "authorizationpolicy",
        f"{name}-deny-others",
        match_labels=match_labels,
        action="DENY",
        rules=[{"from": [{"source": others}]}],
    )


def principal(trust_domain: str, account: str) -> str:
    """The mesh identity of the Kubernetes service account ``namespace/name``."""
    ns, _, name = account.partition("/")
    return f"{trust_domain}/ns/{ns}/sa/{name}"


def seconds(duration: str) -> str:
    """A duration as Istio and Flagger read it (protobuf and Go accept ``<n>s``)."""
    return f"{parse_duration(duration)}s"
