"""How each rollout strategy routes through the mesh: weights, sticky A/B, gRPC, canaries, gateways."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
from mesh_cases import (
    AUTHZ,
    CANARY,
    CANARY_ROLLOUT,
    DEV,
    DR,
    GATEWAY,
    INGRESS,
    MESH_KINDS,
    NS,
    SERVICE,
    VS,
    A,
    B,
    endpoint,
    get,
    graph,
    host,
    of_type,
    summary,
    variant,
)
from upstream_schemas import UpstreamSchemas

from mlopsctl.plan.diff import Action, diff_target
from mlopsctl.state import state_from_graph

STRATEGIES = {
    "single": (None, [("default-http", None, [(A, 80, 100)], None, None)]),
    "canary-first-step": (CANARY_ROLLOUT, [("canary-http", None, [(A, 80, 95), (B, 80, 5)], None, None)]),
    "canary-third-step": (
        {**CANARY_ROLLOUT, "currentStep": 2},
        [("canary-http", None, [(A, 80, 50), (B, 80, 50)], None, None)],
    ),
    "ab": (
        {
            "strategy": "ab",
            "weights": {"a": 70, "b": 30},
            "match": [
                {"header": "X-Tester", "value": "yes", "variant": "b"},
                {"cookie": "group", "value": "beta.1", "variant": "a"},
            ],
        },
        [
            ("match-b-http", [{"headers": {"x-tester": {"exact": "yes"}}}], [(B, 80, 100)], None, None),
            (
                "match-a-http",
                [{"headers": {"cookie": {"regex": r"^(.*?;\s*)?(group=beta\.1)(;.*)?$"}}}],
                [(A, 80, 100)],
                None,
                None,
            ),
            ("ab-http", None, [(A, 80, 70), (B, 80, 30)], None, None),
        ],
    ),
    "shadow": (
        {"strategy": "shadow", "primary": "a", "shadow": "b", "mirrorPercent": 25},
        [("shadow-http", None, [(A, 80, 100)], B, 25.0)],
    ),
    "blue-green": (
        {"strategy": "blue-green", "blue": "a", "green": "b", "active": "green"},
        [("blue-green-http", None, [(B, 80, 100), (A, 80, 0)], None, None)],
    ),
}


@pytest.mark.parametrize(("rollout", "expected"), STRATEGIES.values(), ids=STRATEGIES.keys())
def test_routes_of_each_strategy(
    tmp_path: pathlib.Path, rollout: dict[str, Any] | None, expected: list[tuple[Any, ...]]
) -> None:
    vs = get(graph(tmp_path, {"ep": endpoint(rollout)}), VS, "ep")
    assert summary(vs) == expected
    assert vs["spec"]["hosts"] == [f"ep.{NS}.example.internal", host("ep")]
    assert vs["spec"]["gateways"] == ["ep", "mesh"]
    assert {r["timeout"] for r in vs["spec"]["http"]} == {"60s"}
    assert {r["retries"]["attempts"] for r in vs["spec"]["http"]} == {2}


@pytest.mark.parametrize("rollout", [s[0] for s in STRATEGIES.values()], ids=STRATEGIES.keys())
@pytest.mark.parametrize("protocols", [["http"], ["grpc"], ["http", "grpc"]])
def test_mesh_objects_are_valid_upstream(
    tmp_path: pathlib.Path,
    upstream_schemas: UpstreamSchemas,
    rollout: dict[str, Any] | None,
    protocols: list[str],
) -> None:
    g = graph(tmp_path, {"ep": endpoint(rollout, protocols=protocols, callers=["web", "jobs/scorer"])})
    namespace = f"{DEV}/kubernetes:core/v1:Namespace/{NS}"
    objects = [r for kind in MESH_KINDS for r in of_type(g, kind)]
    assert len(objects) >= 6
    for resource in objects:
        assert upstream_schemas.validate(dict(resource.inputs)) == [], resource.address
        metadata = resource.inputs["metadata"]
        assert metadata["namespace"] == NS
        assert metadata["labels"]["app.kubernetes.io/managed-by"] == "mlopsctl"
        assert namespace in resource.depends_on


def test_grpc_shares_the_tls_port_and_routes_by_content_type(tmp_path: pathlib.Path) -> None:
    g = graph(tmp_path, {"ep": endpoint(CANARY_ROLLOUT, protocols=["http", "grpc"])})
    grpc = {"content-type": {"prefix": "application/grpc"}}
    assert summary(get(g, VS, "ep")) == [
        ("canary-grpc", [{"headers": grpc}], [(A, 8081, 95), (B, 8081, 5)], None, None),
        ("canary-http", None, [(A, 80, 95), (B, 80, 5)], None, None),
    ]
    assert get(g, SERVICE, "ep")["spec"] == {
        "ports": [
            {"name": "grpc", "port": 8081, "protocol": "TCP"},
            {"name": "http", "port": 80, "protocol": "TCP"},
        ]
    }
    https, http = get(g, GATEWAY, "ep")["spec"]["servers"]
    assert https == {
        "port": {"number": 443, "name": "https-ep", "protocol": "HTTPS"},
        "hosts": [f"ep.{NS}.example.internal"],
        "tls": {"mode": "SIMPLE", "credentialName": f"{NS}-ep-tls"},
    }
    assert http["tls"] == {"httpsRedirect": True}
    assert http["port"]["number"] == 80


def test_grpc_alone_is_on_port_80_without_a_content_type_match(tmp_path: pathlib.Path) -> None:
    g = graph(tmp_path, {"ep": endpoint(protocols=["grpc"], host="digits.ml.example.com")})
    assert summary(get(g, VS, "ep")) == [("default-grpc", None, [(A, 80, 100)], None, None)]
    assert get(g, VS, "ep")["spec"]["hosts"][0] == "digits.ml.example.com"


def _paths(before: Any, after: Any, at: str = "") -> list[str]:
    """Dotted paths where two JSON values differ."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [
            p
            for k in sorted(before.keys() | after.keys())
            for p in _paths(before.get(k), after.get(k), f"{at}.{k}")
        ]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [
            p for i, (x, y) in enumerate(zip(before, after, strict=True)) for p in _paths(x, y, f"{at}[{i}]")
        ]
    return [] if before == after else [at]


def test_moving_current_step_changes_only_the_weights(tmp_path: pathlib.Path) -> None:
    first = graph(tmp_path, {"ep": endpoint(CANARY_ROLLOUT, protocols=["http", "grpc"])})
    second = graph(
        tmp_path, {"ep": endpoint({**CANARY_ROLLOUT, "currentStep": 1}, protocols=["http", "grpc"])}
    )
    applied = state_from_graph(first, project="demo", source_commit=None, config_hash="x")
    plan = diff_target(DEV, second, applied)
    [change] = plan.changes
    assert (change.type, change.name, change.actions) == (VS, "ep", (Action.UPDATE,))
    assert _paths(change.before, change.after) == [
        f".spec.http[{route}].route[{dest}].weight" for route in (0, 1) for dest in (0, 1)
    ]
    assert [d["weight"] for d in change.after["spec"]["http"][0]["route"]] == [75, 25]  # type: ignore[index]


@pytest.mark.parametrize(
    ("sticky", "expected"),
    [
        ({"cookie": "ab-variant", "ttl": "1h"}, {"httpCookie": {"name": "ab-variant", "ttl": "3600s"}}),
        ({"header": "X-User-Id"}, {"httpHeaderName": "x-user-id"}),
        (None, None),
    ],
)
def test_sticky_ab_hashes_on_the_cookie_or_header(
    tmp_path: pathlib.Path, sticky: dict[str, str] | None, expected: dict[str, Any] | None
) -> None:
    rollout: dict[str, Any] = {"strategy": "ab", "weights": {"a": 50, "b": 50}}
    if sticky:
        rollout["sticky"] = sticky
    g = graph(tmp_path, {"ep": endpoint(rollout)})
    for name in ("ep-a-predictor", "ep-b-predictor"):
        policy = get(g, DR, name)["spec"]["trafficPolicy"]
        assert policy.get("loadBalancer", {}).get("consistentHash") == expected
        assert policy["tls"] == {"mode": "ISTIO_MUTUAL"}
        assert policy["outlierDetection"]["consecutive5xxErrors"] == 5


def test_canary_with_analysis_is_a_flagger_canary_and_no_virtual_service(tmp_path: pathlib.Path) -> None:
    rollout = {
        **CANARY_ROLLOUT,
        "steps": [10, 40, 100],
        "analysis": {"interval": "2m", "maxFailedChecks": 3, "minSuccessRate": 99.5, "maxLatencyMs": 250},
    }
    g = graph(tmp_path, {"ep": endpoint(rollout, callers=["web"])})
    assert of_type(g, VS) == []
    assert of_type(g, DR) == []
    spec = get(g, CANARY, "ep")["spec"]
    assert spec["provider"] == "istio"
    assert spec["targetRef"] == {"apiVersion": "v1", "kind": "Service", "name": "ep"}
    assert spec["service"]["hosts"] == [f"ep.{NS}.example.internal"]
    assert spec["service"]["gateways"] == ["ep", "mesh"]
    assert (spec["service"]["port"], spec["service"]["portName"]) == (80, "http")
    assert spec["service"]["trafficPolicy"]["tls"] == {"mode": "ISTIO_MUTUAL"}
    analysis = spec["analysis"]
    assert (analysis["interval"], analysis["threshold"], analysis["stepWeights"]) == (
        "120s",
        3,
        [10, 40, 100],
    )
    success, latency = analysis["metrics"]
    assert success["thresholdRange"] == {"min": 99.5}
    assert latency["thresholdRange"] == {"max": 250}
    assert 'destination_service_name="ep-canary"' in success["query"]
    assert f'destination_service_namespace="{NS}"' in latency["query"]
    assert "[120s]" in latency["query"]
    target = get(g, SERVICE, "ep")["spec"]
    assert target["selector"] == {"app": "isvc.ep-b-predictor"}
    assert target["ports"] == [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]
    canary = g.resources[f"{DEV}/{CANARY}/ep"]
    assert f"{DEV}/{SERVICE}/ep" in canary.depends_on
    assert f"{DEV}/{GATEWAY}/ep" in canary.depends_on
    assert len(of_type(g, AUTHZ)) == 4  # an ALLOW and a DENY per variant


def test_inference_graph_routes_to_its_own_service(tmp_path: pathlib.Path) -> None:
    steps = {"embed": variant("v1"), "rank": variant("v2")}
    g = graph(tmp_path, {"ep": {"graph": {"steps": steps}, "callers": ["web"]}})
    assert of_type(g, SERVICE) == []
    assert summary(get(g, VS, "ep")) == [("default-http", None, [(host("ep"), 80, 100)], None, None)]
    assert [r.name for r in of_type(g, DR)] == ["ep"]
    router = get(g, AUTHZ, "ep")["spec"]
    assert router["selector"] == {"matchLabels": {"serving.kserve.io/inferencegraph": "ep"}}
    assert router["rules"] == [
        {"from": [{"source": {"principals": [INGRESS]}}, {"source": {"namespaces": ["web"]}}]}
    ]
    for step in steps:
        assert get(g, AUTHZ, f"ep-{step}-predictor")["spec"]["rules"] == [
            {"from": [{"source": {"principals": [f"cluster.local/ns/{NS}/sa/endpoint-ep-dev-usc1"]}}]}
        ]


def test_the_ingress_gateway_and_trust_domain_follow_the_mesh_installation(tmp_path: pathlib.Path) -> None:
    extra = (
        "security:\n  trustDomain: acme-demo-dev.svc.id.goog\n"
        "  ingressGateway:\n    selector: {app: istio-ingress}\n"
        "    serviceAccount: istio-ingress/istio-ingressgateway\n"
    )
    g = graph(tmp_path, {"ep": endpoint(callers=["checkout/api"])}, extra)
    assert get(g, GATEWAY, "ep")["spec"]["selector"] == {"app": "istio-ingress"}
    [rule] = get(g, AUTHZ, "ep-a-predictor")["spec"]["rules"]
    assert rule["from"][0]["source"]["principals"] == [
        "acme-demo-dev.svc.id.goog/ns/istio-ingress/sa/istio-ingressgateway",
        "acme-demo-dev.svc.id.goog/ns/checkout/sa/api",
    ]
