"""Node pools: machine types, GPU and TPU slices, taints, and when a system pool is added."""

from __future__ import annotations

import pathlib

import pytest
from cluster_cases import (
    DIGITS_LABELS,
    EXAMPLES,
    GPU_TAINT,
    PROD,
    SECURE_NODES,
    SPOT_TAINT,
    TPU_TAINT,
    example,
    graphs_of,
    inline,
    of_type,
    pool,
)

from mlopsctl.compiler.cluster import CLUSTER, NODE_POOL
from mlopsctl.compiler.identity import GSA
from mlopsctl.graph import JSON


def l4_pool(name: str, machine: str, max_nodes: int) -> dict[str, JSON]:
    """A digits L4 pool in dev: spot, one L4 per node, in three zones."""
    return {
        "name": name,
        "cluster": "digits-dev-usc1",
        "location": "us-central1",
        "project": "acme-digits-dev",
        "management": {"autoRepair": True, "autoUpgrade": True},
        "upgradeSettings": {"strategy": "SURGE", "maxSurge": 0, "maxUnavailable": 1},
        "nodeConfig": {
            "machineType": machine,
            "diskSizeGb": 100,
            "spot": True,
            "resourceLabels": DIGITS_LABELS,
            **SECURE_NODES,
            "kubeletConfig": {"insecureKubeletReadonlyPortEnabled": "FALSE"},
            "labels": {"mlopsctl.dev/accelerator": "nvidia-l4"},
            "taints": [GPU_TAINT, SPOT_TAINT],
            "guestAccelerators": [
                {
                    "type": "nvidia-l4",
                    "count": 1,
                    "gpuDriverInstallationConfig": {"gpuDriverVersion": "DEFAULT"},
                }
            ],
        },
        "autoscaling": {"minNodeCount": 0, "maxNodeCount": max_nodes, "locationPolicy": "ANY"},
        "nodeLocations": ["us-central1-a", "us-central1-b", "us-central1-c"],
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("l4-train", l4_pool("l4-train", "g2-standard-8", 4)),
        # No machine type given: the catalog's for one L4.
        ("l4-serve", l4_pool("l4-serve", "g2-standard-4", 2)),
    ],
)
def test_digits_l4_pools(name: str, expected: dict[str, JSON]) -> None:
    assert pool(example("digits"), name) == expected


def test_digits_prod_serving_pool_is_on_demand_and_balanced() -> None:
    inputs = pool(example("digits", PROD), "l4-serve")
    assert inputs["nodeConfig"]["spot"] is False
    assert inputs["nodeConfig"]["taints"] == [GPU_TAINT]
    assert inputs["autoscaling"] == {"minNodeCount": 2, "maxNodeCount": 8, "locationPolicy": "BALANCED"}


def test_fraud_tpu_v5e_pool_is_a_multi_host_slice() -> None:
    inputs = pool(example("fraud-tpu"), "tpu-v5e")
    node_config = inputs.pop("nodeConfig")
    assert inputs == {
        "name": "tpu-v5e",
        "cluster": "fraud-dev-usc1",
        "location": "us-central1",
        "project": "acme-fraud-dev",
        "management": {"autoRepair": True, "autoUpgrade": True},
        "upgradeSettings": {"strategy": "SURGE", "maxSurge": 0, "maxUnavailable": 1},
        # 2x4 chips on 4-chip hosts: two hosts, created and removed together.
        "autoscaling": {"minNodeCount": 0, "maxNodeCount": 2},
        "nodeLocations": ["us-central1-a"],
        "placementPolicy": {"type": "COMPACT", "tpuTopology": "2x4"},
    }
    assert node_config["machineType"] == "ct5lp-hightpu-4t"
    assert node_config["spot"] is True
    assert node_config["taints"] == [TPU_TAINT, SPOT_TAINT]
    assert node_config["labels"] == {"mlopsctl.dev/accelerator": "tpu-v5-lite-podslice"}
    assert "guestAccelerators" not in node_config


TPU = """\
accelerators:
  tpu:
    type: tpu
    version: v5e
    topology: {topology}
    autoscaling: {{minNodes: {min_nodes}{max_nodes}}}
"""
"""A multi-host slice takes no maxNodes but its hosts (E403): it scales whole."""


@pytest.mark.parametrize(
    ("topology", "min_nodes", "machine", "zones", "placement", "scaling"),
    [
        # One 4-chip host: per-zone autoscaling in every zone that offers v5e.
        (
            "2x2",
            0,
            "ct5lp-hightpu-4t",
            ["us-central1-a"],
            None,
            {"autoscaling": {"minNodeCount": 0, "maxNodeCount": 1, "locationPolicy": "BALANCED"}},
        ),
        # 16 chips on four hosts, kept up: a fixed node count.
        (
            "4x4",
            1,
            "ct5lp-hightpu-4t",
            ["us-central1-a"],
            {"type": "COMPACT", "tpuTopology": "4x4"},
            {"nodeCount": 4},
        ),
        (
            "4x8",
            0,
            "ct5lp-hightpu-4t",
            ["us-central1-a"],
            {"type": "COMPACT", "tpuTopology": "4x8"},
            {"autoscaling": {"minNodeCount": 0, "maxNodeCount": 8}},
        ),
    ],
)
def test_tpu_slices(
    tmp_path: pathlib.Path,
    topology: str,
    min_nodes: int,
    machine: str,
    zones: list[str],
    placement: dict[str, JSON] | None,
    scaling: dict[str, JSON],
) -> None:
    max_nodes = ", maxNodes: 1" if topology == "2x2" else ""
    inputs = pool(
        inline(tmp_path, TPU.format(topology=topology, min_nodes=min_nodes, max_nodes=max_nodes)), "tpu"
    )
    assert inputs["nodeConfig"]["machineType"] == machine
    assert inputs["nodeLocations"] == zones
    assert inputs.get("placementPolicy") == placement
    assert {k: inputs[k] for k in ("autoscaling", "nodeCount") if k in inputs} == scaling


@pytest.mark.parametrize(
    ("spec", "machine", "accelerator"),
    [
        ("{type: gpu, accelerator: nvidia-tesla-a100}", "a2-highgpu-1g", {}),
        ("{type: gpu, accelerator: nvidia-h100-80gb, count: 8}", "a3-highgpu-8g", {}),
        (
            "{type: gpu, accelerator: nvidia-l4, timeSharing: {maxSharedClientsPerGpu: 4}}",
            "g2-standard-4",
            {"gpuSharingConfig": {"gpuSharingStrategy": "TIME_SHARING", "maxSharedClientsPerGpu": 4}},
        ),
    ],
)
def test_gpu_machine_types_and_sharing(
    tmp_path: pathlib.Path, spec: str, machine: str, accelerator: dict[str, JSON]
) -> None:
    node_config = pool(inline(tmp_path, f"accelerators:\n  gpu: {spec}\n"), "gpu")["nodeConfig"]
    assert node_config["machineType"] == machine
    [guest] = node_config["guestAccelerators"]
    assert {k: v for k, v in guest.items() if k == "gpuSharingConfig"} == accelerator
    assert node_config["taints"] == [GPU_TAINT]


@pytest.mark.parametrize(
    ("spec", "taints"),
    [
        ("{type: cpu, spot: true}", [SPOT_TAINT]),
        ("{type: gpu, accelerator: nvidia-l4, spot: true}", [GPU_TAINT, SPOT_TAINT]),
        ("{type: tpu, version: v5e, topology: 2x2, spot: true}", [TPU_TAINT, SPOT_TAINT]),
        ("{type: cpu}", None),
    ],
)
def test_taints(tmp_path: pathlib.Path, spec: str, taints: list[JSON] | None) -> None:
    node_config = pool(inline(tmp_path, f"accelerators:\n  p: {spec}\n"), "p")["nodeConfig"]
    assert node_config.get("taints") == taints
    assert node_config["spot"] is ("spot: true" in spec)


@pytest.mark.parametrize(
    ("accelerators", "pools"),
    [
        # Nothing can host DNS, the mesh and controllers: mlopsctl adds the system pool.
        ("", ["system"]),
        ("accelerators:\n  b: {type: cpu, spot: true, autoscaling: {minNodes: 1}}\n", ["b", "system"]),
        ("accelerators:\n  idle: {type: cpu}\n", ["idle", "system"]),
        ("accelerators:\n  base: {type: cpu, autoscaling: {minNodes: 1}}\n", ["base"]),
    ],
)
def test_system_pool_only_when_no_pool_can_host_system_workloads(
    tmp_path: pathlib.Path, accelerators: str, pools: list[str]
) -> None:
    assert sorted(of_type(inline(tmp_path, accelerators), NODE_POOL)) == pools


def test_system_pool(tmp_path: pathlib.Path) -> None:
    inputs = pool(inline(tmp_path, ""), "system")
    assert inputs["nodeConfig"]["machineType"] == "e2-standard-4"
    assert inputs["nodeConfig"]["spot"] is False and "taints" not in inputs["nodeConfig"]
    assert inputs["autoscaling"] == {"minNodeCount": 1, "maxNodeCount": 3, "locationPolicy": "BALANCED"}
    assert inputs["upgradeSettings"] == {"strategy": "SURGE", "maxSurge": 1, "maxUnavailable": 0}
    assert "nodeLocations" not in inputs  # the cluster's zones


@pytest.mark.parametrize("name", ["digits", "fraud-tpu", "sensor-anomaly"])
def test_every_node_pool_depends_on_the_cluster_and_the_node_account(name: str) -> None:
    for graph in graphs_of(EXAMPLES / name / "mlops.yaml").values():
        [cluster] = of_type(graph, CLUSTER).values()
        pools = of_type(graph, NODE_POOL).values()
        assert pools
        for node_pool in pools:
            assert cluster.address in node_pool.depends_on
            assert graph.resources[node_pool.depends_on[-1]].type == GSA
            assert node_pool.inputs["cluster"] == cluster.inputs["name"]
            account = node_pool.inputs["nodeConfig"]["serviceAccount"]
            assert account == cluster.inputs["nodeConfig"]["serviceAccount"]
            assert node_pool.protect is False
