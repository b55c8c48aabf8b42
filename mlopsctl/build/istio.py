"""What the Istio objects of an endpoint share, whoever writes its routes (mlopsctl or Flagger)."""

from __future__ import annotations

from dataclasses import dataclass

from mlopsctl.build.context import BuildContext
from mlopsctl.config.models.serving import ABTest, Endpoint
from mlopsctl.durations import parse_duration
from mlopsctl.graph import JSON
from mlopsctl.naming import PredictorPort
from mlopsctl.sourcemap import Path

MESH = "mesh"
"""The reserved gateway name for sidecars: routes apply to callers inside the mesh too."""
TIMEOUT = "60s"
RETRIES: dict[str, JSON] = {
    "attempts": 2,
    "perTryTimeout": "30s",
    "retryOn": "connect-failure,refused-stream,unavailable,reset,503",
}
CONNECTION_POOL: dict[str, JSON] = {
    "tcp": {"maxConnections": 1000, "connectTimeout": "5s"},
    "http": {"http1MaxPendingRequests": 1000, "http2MaxRequests": 1000, "idleTimeout": "300s"},
}
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


def traffic_policy(endpoint: Endpoint) -> dict[str, JSON]:
    """mTLS between sidecars, bounded connections, ejection of failing replicas, A/B stickiness."""
    policy: dict[str, JSON] = {
        "tls": {"mode": "ISTIO_MUTUAL"},
        "connectionPool": CONNECTION_POOL,
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


def seconds(duration: str) -> str:
    """A duration as Istio and Flagger read it (protobuf and Go accept ``<n>s``)."""
    return f"{parse_duration(duration)}s"
