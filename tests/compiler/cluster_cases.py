"""What the GKE cluster tests share: the node account, the taints, and the graphs of examples."""

from __future__ import annotations

import pathlib
from typing import Any

from conftest import ROOT
from helpers import MINIMAL, write

from mlopsctl.api import compile_graphs, validate
from mlopsctl.compiler.cluster import NODE_POOL
from mlopsctl.compiler.provenance import PROVENANCE, without
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource

DEV = Target("dev", "us-central1")
PROD = Target("prod", "us-central1")
EXAMPLES = ROOT / "examples" / "projects"
NODE_ACCOUNT = "gke-nodes-dev-usc1@acme-digits-dev.iam.gserviceaccount.com"
SECURE_NODES = {
    "serviceAccount": NODE_ACCOUNT,
    "oauthScopes": ["https://www.googleapis.com/auth/cloud-platform"],
    "workloadMetadataConfig": {"mode": "GKE_METADATA"},
    "shieldedInstanceConfig": {"enableSecureBoot": True, "enableIntegrityMonitoring": True},
}
DIGITS_LABELS = {
    "team": "vision",
    "cost-center": "cc-4120",
    "tier": "dev",
    "managed-by": "mlopsctl",
    "mlops-project": "digits",
    "mlops-env": "dev",
    "mlops-region": "us-central1",
}
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}
TPU_TAINT = {"key": "google.com/tpu", "value": "present", "effect": "NO_SCHEDULE"}
SPOT_TAINT = {"key": "cloud.google.com/gke-spot", "value": "true", "effect": "NO_SCHEDULE"}


def graphs_of(path: pathlib.Path) -> dict[Target, Graph]:
    validation = validate(ConfigSource(path, path.name, None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return compile_graphs(validation)


def example(name: str, target: Target = DEV) -> Graph:
    return graphs_of(EXAMPLES / name / "mlops.yaml")[target]


def inline(tmp_path: pathlib.Path, extra: str, target: Target = DEV) -> Graph:
    return graphs_of(write(tmp_path, MINIMAL + extra))[target]


def of_type(graph: Graph, type_: str) -> dict[str, Resource]:
    return {r.name: r for r in graph if r.type == type_}


def pool(graph: Graph, name: str) -> dict[str, Any]:
    """The inputs of node pool ``name``, without its provenance labels (tests/compiler/test_provenance.py)."""
    return without(NODE_POOL, of_type(graph, NODE_POOL)[name].inputs, PROVENANCE)
