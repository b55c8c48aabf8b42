from __future__ import annotations

import json
import pathlib
import re
from typing import Any

import pytest
from helpers import MINIMAL, OWNED, write
from upstream_schemas import UpstreamSchemas

from mlopsctl.api import compile_graphs, validate
from mlopsctl.compiler.provenance import VOLATILE, without
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource
from mlopsctl.plan.diff import Action, diff_target
from mlopsctl.state import state_from_graph

DEV = Target("dev", "us-central1")
NS = "demo"
MODELS = """\
models:
  m:
    framework: sklearn
    versions:
      v1: {artifactUri: gs://models-bucket/m/v1}
      v2: {artifactUri: gs://models-bucket/m/v2}
"""
VS = "kubernetes:networking.istio.io/v1:VirtualService"
DR = "kubernetes:networking.istio.io/v1:DestinationRule"
GATEWAY = "kubernetes:networking.istio.io/v1:Gateway"
AUTHZ = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
PEER = "kubernetes:security.istio.io/v1:PeerAuthentication"
CANARY = "kubernetes:flagger.app/v1beta1:Canary"
SERVICE = "kubernetes:core/v1:Service"
MESH_KINDS = (VS, DR, GATEWAY, AUTHZ, PEER, CANARY, SERVICE)
INGRESS = "cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"


def variant(version: str = "v1") -> dict[str, Any]:
    return {"model": "m", "version": version}


def endpoint(rollout: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """Endpoint 'ep' with variants a and b (just a without a rollout); gRPC needs protocol v2."""
    spec: dict[str, Any] = {"variants": {"a": variant("v1")}, **fields}
    if "grpc" in fields.get("protocols", []):
        spec["protocolVersion"] = "v2"
    if rollout is not None:
        spec["variants"]["b"] = variant("v2")
        spec["rollout"] = rollout
    return spec


def config(endpoints: dict[str, Any], extra: str = "") -> str:
    """A project whose endpoints are written as JSON (a YAML subset), whatever their strings hold."""
    return OWNED + MODELS + extra + f"endpoints: {json.dumps(endpoints)}\n"


def graph(tmp_path: pathlib.Path, endpoints: dict[str, Any], extra: str = "") -> Graph:
    validation = validate(ConfigSource(write(tmp_path, config(endpoints, extra)), "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return compile_graphs(validation)[DEV]


def codes(tmp_path: pathlib.Path, endpoints: dict[str, Any]) -> list[tuple[str, str]]:
    validation = validate(ConfigSource(write(tmp_path, config(endpoints)), "mlops.yaml", None))
    return [(d.code, ".".join(str(p) for p in d.path)) for d in validation.diagnostics if d.is_error]


def get(g: Graph, type_token: str, name: str) -> dict[str, Any]:
    return dict(g.resources[f"{g.target}/{type_token}/{name}"].inputs)


def of_type(g: Graph, type_token: str) -> list[Resource]:
    """The objects of a kind in the project's namespace (the platform's live elsewhere)."""
    return [r for r in g if r.type == type_token and r.inputs["metadata"].get("namespace") == NS]


def host(service: str) -> str:
    return f"{service}.{NS}.svc.cluster.local"


def summary(vs: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Each route: (name, match, [(destination host, port, weight)], mirror host, mirror percent)."""
    return [
        (
            r["name"],
            r.get("match"),
            [(d["destination"]["host"], d["destination"]["port"]["number"], d["weight"]) for d in r["route"]],
            r.get("mirror", {}).get("host"),
            r.get("mirrorPercentage", {}).get("value"),
        )
        for r in vs["spec"]["http"]
    ]


A, B = host("ep-a-predictor"), host("ep-b-predictor")
CANARY_ROLLOUT = {"strategy": "canary", "baseline": "a", "candidate": "b", "steps": [5, 25, 50, 100]}
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


@pytest.mark.parametrize(
    ("callers", "principals", "namespaces"),
    [
        ([], [INGRESS], None),
        (["payments"], [INGRESS], ["payments"]),
        (
            ["checkout/api", "payments", "checkout/api", "risk"],
            [INGRESS, "cluster.local/ns/checkout/sa/api"],
            ["payments", "risk"],
        ),
    ],
)
def test_callers_become_exactly_the_allowed_sources(
    tmp_path: pathlib.Path, callers: list[str], principals: list[str], namespaces: list[str] | None
) -> None:
    g = graph(tmp_path, {"ep": endpoint(CANARY_ROLLOUT, callers=callers)})
    expected = [{"source": {"principals": principals}}]
    if namespaces:
        expected.append({"source": {"namespaces": namespaces}})
    for v in ("a", "b"):
        spec = get(g, AUTHZ, f"ep-{v}-predictor")["spec"]
        assert spec == {
            "selector": {"matchLabels": {"serving.kserve.io/inferenceservice": f"ep-{v}"}},
            "action": "ALLOW",
            "rules": [{"from": expected}],
        }


@pytest.mark.parametrize("mode", ["STRICT", "PERMISSIVE"])
def test_one_peer_authentication_per_namespace(tmp_path: pathlib.Path, mode: str) -> None:
    g = graph(tmp_path, {"ep": endpoint(), "other": endpoint()}, extra=f"security: {{mtls: {mode}}}\n")
    [peer] = of_type(g, PEER)
    assert peer.name == "default"
    assert peer.inputs["spec"] == {"mtls": {"mode": mode}}


def test_no_mesh_objects_without_endpoints(tmp_path: pathlib.Path) -> None:
    validation = validate(ConfigSource(write(tmp_path, MINIMAL), "mlops.yaml", None))
    g = compile_graphs(validation)[DEV]
    assert [r for r in g if r.type in MESH_KINDS] == []


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


HOSTILE = ['x" }\nevil: {{ 7 * 7 }}', "a: [b, {c: d}] # e", "{% raw %}'\"'", "--- !!python/object"]


@pytest.mark.parametrize("value", [v.replace("\n", " ") for v in HOSTILE])
def test_header_values_stay_values(tmp_path: pathlib.Path, value: str) -> None:
    rollout = {
        "strategy": "ab",
        "weights": {"a": 50, "b": 50},
        "match": [{"header": "x-t", "value": value, "variant": "b"}],
    }
    vs = get(graph(tmp_path, {"ep": endpoint(rollout)}), VS, "ep")
    assert vs["spec"]["http"][0]["match"] == [{"headers": {"x-t": {"exact": value}}}]
    assert sorted(vs["spec"]) == ["gateways", "hosts", "http"]
    assert len(vs["spec"]["http"]) == 2


@pytest.mark.parametrize("value", ["{{7*7}}", "a.b*c+(d)|[e]^$?", "x{%y%}"])
def test_cookie_values_are_matched_literally(tmp_path: pathlib.Path, value: str) -> None:
    rollout = {
        "strategy": "ab",
        "weights": {"a": 50, "b": 50},
        "match": [{"cookie": "g", "value": value, "variant": "b"}],
    }
    vs = get(graph(tmp_path, {"ep": endpoint(rollout)}), VS, "ep")
    pattern = vs["spec"]["http"][0]["match"][0]["headers"]["cookie"]["regex"]
    assert re.fullmatch(pattern, f"lang=en; g={value}; theme=dark")
    assert re.fullmatch(pattern, f"g={value}")
    assert not re.fullmatch(pattern, f"g={value}x")
    assert not re.fullmatch(pattern, "g=" + "x" * len(value))


@pytest.mark.parametrize("caller", ['web"', "web\nevil", "{{ ns }}", "a: b", "web/sa/extra"])
def test_callers_outside_the_name_pattern_are_refused(tmp_path: pathlib.Path, caller: str) -> None:
    assert codes(tmp_path, {"ep": endpoint(callers=[caller])}) == [("E205", "endpoints.ep.callers.0")]


ANALYSED = {**CANARY_ROLLOUT, "analysis": {}}
BAD = {
    "host with a quote": ({"ep": endpoint(host='ep".example.com')}, [("E304", "endpoints.ep.host")]),
    "host with a newline": ({"ep": endpoint(host="ep.example.com\nx: y")}, [("E304", "endpoints.ep.host")]),
    "host in the cluster domain": (
        {"ep": endpoint(host="ep.demo.svc.cluster.local")},
        [("E304", "endpoints.ep.host")],
    ),
    "upper-case host": ({"ep": endpoint(host="EP.example.com")}, [("E304", "endpoints.ep.host")]),
    "shared host": (
        {"ep": endpoint(host="ml.example.com"), "other": endpoint(host="ml.example.com")},
        [("E310", "endpoints.other.host")],
    ),
    "header value with a line break": (
        {
            "ep": endpoint(
                {
                    "strategy": "ab",
                    "weights": {"a": 50, "b": 50},
                    "match": [{"header": "x", "value": "a\nb", "variant": "b"}],
                }
            )
        },
        [("E312", "endpoints.ep.rollout.match.0.value")],
    ),
    "cookie value with a semicolon": (
        {
            "ep": endpoint(
                {
                    "strategy": "ab",
                    "weights": {"a": 50, "b": 50},
                    "match": [{"cookie": "g", "value": "a; b=c", "variant": "b"}],
                }
            )
        },
        [("E312", "endpoints.ep.rollout.match.0.value")],
    ),
    "analysis on two protocols": (
        {"ep": endpoint(ANALYSED, protocols=["http", "grpc"])},
        [("E312", "endpoints.ep.rollout.analysis")],
    ),
    "endpoint named like a canary copy": (
        {"ep": endpoint(ANALYSED), "ep-canary": endpoint()},
        [("E310", "endpoints.ep-canary")],
    ),
}


@pytest.mark.parametrize(("endpoints", "expected"), BAD.values(), ids=BAD.keys())
def test_what_istio_or_flagger_would_refuse_is_reported(
    tmp_path: pathlib.Path, endpoints: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert codes(tmp_path, endpoints) == expected


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


BATCH = """\
data:
  buckets: {raw: {}}
batchJobs:
  nightly: {model: m, version: v2, input: {gcs: raw/in/}, output: {gcs: raw/out/}}
  hourly: {model: m, version: v2, input: {gcs: raw/in/}, output: {gcs: raw/out/}}
"""
"""Two batch jobs scoring with v2: they call variant b of 'ep' (the first variant serving it)."""


def _with_batch_jobs(tmp_path: pathlib.Path, endpoints: dict[str, Any], jobs: str) -> Graph:
    text = config(endpoints, jobs).replace("  name: demo\n", "  name: demo\n  stageImage: stages:1\n", 1)
    validation = validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return compile_graphs(validation)[DEV]


def test_the_variant_a_batch_job_calls_admits_its_account(tmp_path: pathlib.Path) -> None:
    endpoints = {"ep": endpoint(CANARY_ROLLOUT, callers=["web", "checkout/api"]), "other": endpoint()}
    unbatched = _with_batch_jobs(tmp_path / "without", endpoints, "")
    g = _with_batch_jobs(tmp_path / "with", endpoints, BATCH)
    called = get(g, AUTHZ, "ep-b-predictor")["spec"]
    assert called["rules"] == [
        {
            "from": [
                {
                    "source": {
                        "principals": [
                            INGRESS,
                            "cluster.local/ns/checkout/sa/api",
                            f"cluster.local/ns/{NS}/sa/batch-nightly-dev-usc1",
                            f"cluster.local/ns/{NS}/sa/batch-hourly-dev-usc1",
                        ]
                    }
                },
                {"source": {"namespaces": ["web"]}},
            ]
        }
    ]
    assert called["selector"] == get(unbatched, AUTHZ, "ep-b-predictor")["spec"]["selector"]
    # Policies of what no batch job calls are as they were: another variant, another endpoint (the
    # batch jobs' lines move the mlops.yaml line each object names).
    for name in ("ep-a-predictor", "other-a-predictor"):
        assert without(AUTHZ, get(g, AUTHZ, name), VOLATILE) == without(
            AUTHZ, get(unbatched, AUTHZ, name), VOLATILE
        )
    assert len(of_type(g, AUTHZ)) == len(of_type(unbatched, AUTHZ))


@pytest.mark.parametrize("kind", ["variants", "graph"])
def test_every_allow_policy_has_a_deny_for_everyone_else(tmp_path: pathlib.Path, kind: str) -> None:
    """A Kubeflow profile's namespace holds an ALLOW policy for every caller of the namespace
    (ns-owner-access-istio): only a DENY policy keeps undeclared callers out."""
    members = {"a": variant("v1"), "b": variant("v2")}
    spec: dict[str, Any] = {"graph": {"steps": members}} if kind == "graph" else endpoint(CANARY_ROLLOUT)
    spec["callers"] = ["web", "jobs/scorer"]
    g = graph(tmp_path, {"ep": spec})
    policies = {r.name: r.inputs["spec"] for r in of_type(g, AUTHZ)}
    allows = {n: p for n, p in policies.items() if p["action"] == "ALLOW"}
    assert allows and len(policies) == 2 * len(allows)
    for name, allow in allows.items():
        deny = policies[f"{name}-deny-others"]
        assert deny["action"] == "DENY" and deny["selector"] == allow["selector"]
        sources = [s["source"] for rule in allow["rules"] for s in rule["from"]]
        [[others]] = [[s["source"] for s in rule["from"]] for rule in deny["rules"]]
        assert others["notPrincipals"] == [p for s in sources for p in s.get("principals", [])]
        assert others.get("notNamespaces", []) == [n for s in sources for n in s.get("namespaces", [])]
