"""The mesh object kinds and helpers the mesh tests share: an endpoint's config, its graph, its objects."""

from __future__ import annotations

import json
import pathlib
from typing import Any

from helpers import OWNED, write

from mlopsctl.api import compile_graphs, validate
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource

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
