"""What the KServe serving tests share: the object kinds, tolerations, and an endpoint's objects."""

from __future__ import annotations

import pathlib
from typing import Any

from helpers import MINIMAL, write

from mlopsctl.api import compile_graphs, validate
from mlopsctl.compiler.provenance import PROVENANCE, without
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource

DEV = Target("dev", "us-central1")
PROD = Target("prod", "us-central1")
ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
GRAPH = "kubernetes:serving.kserve.io/v1alpha1:InferenceGraph"
AUTHZ = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
RAW = "RawDeployment"
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
SPOT_TOLERATION = {
    "key": "cloud.google.com/gke-spot",
    "operator": "Equal",
    "value": "true",
    "effect": "NoSchedule",
}
MODELS = """\
models:
  trt: {framework: tensorrt, versions: {v1: {artifactUri: gs://acme-models/trt/1}}}
  tf: {framework: tensorflow, versions: {v1: {artifactUri: gs://acme-models/tf/1}}}
  torch: {framework: pytorch, versions: {v1: {artifactUri: gs://acme-models/torch/1}}}
  onnx: {framework: onnx, versions: {v1: {artifactUri: gs://acme-models/onnx/1}}}
  sk: {framework: sklearn, versions: {v1: {artifactUri: gs://acme-models/sk/1}}}
  xgb: {framework: xgboost, versions: {v1: {artifactUri: gs://acme-models/xgb/1}}}
  hf: {framework: huggingface, versions: {v1: {artifactUri: gs://acme-models/hf/1}}}
"""


def _graph(tmp_path: pathlib.Path, text: str, target: Target = DEV) -> Graph:
    validation = validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return compile_graphs(validation)[target]


def _object(graph: Graph, type_: str, name: str) -> dict[str, Any]:
    """The object's inputs without its provenance annotations (tests/compiler/test_provenance.py)."""
    return without(type_, graph.resources[f"{graph.target}/{type_}/{name}"].inputs, PROVENANCE)


def _serving(graph: Graph) -> list[Resource]:
    kinds = (ISVC, GRAPH, "kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service", AUTHZ)
    return [r for r in graph if r.type in kinds and r.inputs["metadata"]["namespace"] == "demo"]


def _endpoint(tmp_path: pathlib.Path, endpoint: str, extra: str = "") -> Graph:
    return _graph(tmp_path, MINIMAL + MODELS + extra + "endpoints:\n" + endpoint)
