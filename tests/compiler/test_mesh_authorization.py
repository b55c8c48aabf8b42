"""Who may call a variant: its callers, its batch jobs and the ingress gateway; everyone else is denied."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
from helpers import MINIMAL, write
from mesh_cases import (
    AUTHZ,
    CANARY_ROLLOUT,
    DEV,
    INGRESS,
    MESH_KINDS,
    NS,
    PEER,
    config,
    endpoint,
    get,
    graph,
    of_type,
    variant,
)

from mlopsctl.api import compile_graphs, validate
from mlopsctl.compiler.provenance import VOLATILE, without
from mlopsctl.config.source import ConfigSource
from mlopsctl.graph import Graph


@pytest.mark.parametrize(
    ("callers", "principals", "namespaces"),
    [
        ([], [INGRESS], None),
        (["payments"], [INGRESS], ["payments"]),
        (
            ["checkout/api", "payments", "risk"],
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
