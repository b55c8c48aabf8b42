"""The kubelet's unauthenticated read-only port (10255) is off on every node pool mlopsctl creates, and
by default on pools made later; turning it off updates pools and the cluster in place."""

from __future__ import annotations

from typing import Any

import pulumi_gcp as gcp
import pytest
from cluster_cases import graphs_of
from conftest import EXAMPLES
from helpers import MINIMAL, compile_text

from mlopsctl.compiler.cluster import CLUSTER, NODE_POOL
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph
from mlopsctl.plan.resource_types import replace_paths

DEV = Target("dev", "us-central1")
OFF = {"insecureKubeletReadonlyPortEnabled": "FALSE"}
EVERY_KIND = """\
accelerators:
  t4: {type: gpu, accelerator: nvidia-tesla-t4, count: 1, spot: true, autoscaling: {minNodes: 0, maxNodes: 2}}
  slice: {type: tpu, version: v5e, topology: 4x4, autoscaling: {minNodes: 0, maxNodes: 4}}
  v5e: {type: tpu, version: v5e, topology: 2x2, autoscaling: {minNodes: 0, maxNodes: 1}}
  cpu: {type: cpu, machineType: e2-standard-8, autoscaling: {minNodes: 0, maxNodes: 3}}
"""
"""A GPU pool, a multi-host and a single-host TPU slice, a CPU pool (no system pool then)."""


@pytest.fixture(scope="module")
def graphs(tmp_path_factory: pytest.TempPathFactory) -> list[Graph]:
    """Every target of every example, and of pools of each kind, and of a config with none (the
    ``system`` pool)."""
    folder = tmp_path_factory.mktemp("kubelet")
    found = [
        compile_text(folder / "kinds", MINIMAL + EVERY_KIND)[DEV],
        compile_text(folder / "none", MINIMAL)[DEV],
    ]
    for path in EXAMPLES:
        found += graphs_of(path).values()
    return found


def _of(graphs: list[Graph], type_: str) -> list[Any]:
    return [r for g in graphs for r in g if r.type == type_]


def test_every_node_pool_turns_the_read_only_port_off(graphs: list[Graph]) -> None:
    pools = _of(graphs, NODE_POOL)
    assert {p.name for p in pools} >= {"t4", "slice", "v5e", "cpu", "system"}
    for pool in pools:
        assert pool.inputs["nodeConfig"]["kubeletConfig"] == OFF, pool.address


def test_pools_made_later_start_with_it_off(graphs: list[Graph]) -> None:
    clusters = _of(graphs, CLUSTER)
    assert clusters
    for cluster in clusters:
        assert cluster.inputs["nodePoolDefaults"] == {"nodeConfigDefaults": OFF}, cluster.address
        # Not on the removed default pool's nodeConfig: a change there makes the provider update the
        # pool 'default-pool', which mlopsctl's clusters no longer have.
        assert "kubeletConfig" not in cluster.inputs["nodeConfig"], cluster.address


def test_the_provider_takes_the_value_as_its_string_enum() -> None:
    # pulumi-gcp types it as a string "TRUE"/"FALSE" (a boolean would not be the enum).
    args = gcp.container.NodePoolNodeConfigKubeletConfigArgs(insecure_kubelet_readonly_port_enabled="FALSE")
    assert args.insecure_kubelet_readonly_port_enabled == "FALSE"
    defaults = gcp.container.ClusterNodePoolDefaultsNodeConfigDefaultsArgs(
        insecure_kubelet_readonly_port_enabled="FALSE"
    )
    assert defaults.insecure_kubelet_readonly_port_enabled == "FALSE"


@pytest.mark.parametrize(
    ("type_", "path", "value"),
    [
        (NODE_POOL, "nodeConfig.kubeletConfig", OFF),
        (CLUSTER, "nodePoolDefaults", {"nodeConfigDefaults": OFF}),
        (
            CLUSTER,
            "databaseEncryption",
            {"state": "ENCRYPTED", "keyName": "projects/p/locations/l/keyRings/r/cryptoKeys/k"},
        ),
    ],
)
def test_turning_it_on_for_an_existing_cluster_replaces_nothing(
    graphs: list[Graph], type_: str, path: str, value: dict[str, Any]
) -> None:
    """The provider updates a pool's kubeletConfig (a node pool update; GKE then recreates the nodes
    by the pool's upgrade settings), the cluster's node pool defaults and its Secrets encryption
    (GKE re-encrypts the Secrets) in place: the plan must show an update, not delete-and-create."""
    inputs = _of(graphs, type_)[0].inputs
    head, _, leaf = path.rpartition(".")
    before, after = {**inputs}, {**inputs}
    if head:
        before[head] = {k: v for k, v in inputs[head].items() if k != leaf}
        after[head] = {**before[head], leaf: value}
    else:
        before.pop(leaf, None)
        after[leaf] = value
    assert before != after
    assert replace_paths(type_, before, after) == ()
