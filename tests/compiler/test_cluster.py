from __future__ import annotations

import inspect
import pathlib
import re
from typing import Any

import pytest
from conftest import ROOT
from helpers import MINIMAL, write

from mlopsctl.api import compile_graphs, validate
from mlopsctl.compiler.cluster import CLUSTER, NODE_POOL, ROUTER, ROUTER_NAT
from mlopsctl.compiler.iam import PROJECT_IAM_MEMBER
from mlopsctl.compiler.identity import GSA
from mlopsctl.compiler.provenance import PROVENANCE, without
from mlopsctl.compiler.registry import REPOSITORY_IAM_MEMBER
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import JSON, Graph, Resource

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
    autoscaling: {{minNodes: {min_nodes}, maxNodes: 1}}
"""


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
    inputs = pool(inline(tmp_path, TPU.format(topology=topology, min_nodes=min_nodes)), "tpu")
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


def test_cluster() -> None:
    [cluster] = of_type(example("digits"), CLUSTER).values()
    assert cluster.protect is True
    assert cluster.name == "digits-dev-usc1"
    assert without(CLUSTER, cluster.inputs, PROVENANCE) == {
        "name": "digits-dev-usc1",
        "project": "acme-digits-dev",
        "location": "us-central1",
        "description": "digits (dev), managed by mlopsctl.",
        "removeDefaultNodePool": True,
        "initialNodeCount": 1,
        "nodeConfig": SECURE_NODES,
        "network": "default",
        "subnetwork": "default",
        "networkingMode": "VPC_NATIVE",
        "ipAllocationPolicy": {"stackType": "IPV4"},
        "datapathProvider": "ADVANCED_DATAPATH",
        "workloadIdentityConfig": {"workloadPool": "acme-digits-dev.svc.id.goog"},
        "addonsConfig": {"gcsFuseCsiDriverConfig": {"enabled": True}},
        "releaseChannel": {"channel": "REGULAR"},
        "maintenancePolicy": {
            "recurringWindow": {
                "startTime": "2025-01-06T03:00:00Z",
                "endTime": "2025-01-06T11:00:00Z",
                "recurrence": "FREQ=WEEKLY;BYDAY=SA,SU",
            }
        },
        "enableShieldedNodes": True,
        "secretManagerConfig": {"enabled": True},
        "masterAuthorizedNetworksConfig": {
            "cidrBlocks": [{"cidrBlock": "203.0.113.0/24", "displayName": "ci-runners"}],
            "gcpPublicCidrsAccessEnabled": False,
        },
        "resourceLabels": DIGITS_LABELS,
        "deletionProtection": False,
        "monitoringConfig": {
            "enableComponents": ["SYSTEM_COMPONENTS"],
            "managedPrometheus": {"enabled": True},
        },
        "privateClusterConfig": {
            "enablePrivateNodes": True,
            "enablePrivateEndpoint": False,
            "masterIpv4CidrBlock": "172.16.65.208/28",
        },
    }


def test_private_nodes_reach_outside_registries_through_cloud_nat() -> None:
    graph = example("digits")
    [router] = of_type(graph, ROUTER).values()
    [nat] = of_type(graph, ROUTER_NAT).values()
    assert router.inputs == {
        "name": "digits-dev-usc1-nat",
        "project": "acme-digits-dev",
        "region": "us-central1",
        "network": "default",
    }
    assert nat.inputs["router"] == "digits-dev-usc1-nat"
    # Only the cluster's subnetwork, its secondary ranges (Pods) included.
    assert nat.inputs["sourceSubnetworkIpRangesToNat"] == "LIST_OF_SUBNETWORKS"
    assert nat.inputs["subnetworks"] == [{"name": "default", "sourceIpRangesToNats": ["ALL_IP_RANGES"]}]
    assert nat.depends_on == (router.address,)


def test_public_nodes_need_no_nat(tmp_path: pathlib.Path) -> None:
    text = MINIMAL + "security:\n  network:\n    privateCluster: false\n"
    graph = compile_graphs(validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None)))[DEV]
    assert not [r for r in graph if r.type in (ROUTER, ROUTER_NAT)]


CLUSTER_SETTINGS = """\
cluster:
  releaseChannel: STABLE
  maintenanceWindow: {start: "22:30", hours: 4, days: [TU, TH, SA]}
security:
  network:
    privateCluster: false
    authorizedNetworks:
      - {name: office, cidr: 203.0.113.0/24}
"""


def test_cluster_settings_and_their_environment_overrides(tmp_path: pathlib.Path) -> None:
    text = CLUSTER_SETTINGS + "".join(
        line
        + ("\n    overrides:\n      cluster: {releaseChannel: RAPID}" if "acme-demo-dev" in line else "")
        + "\n"
        for line in MINIMAL.splitlines()
    )
    graphs = graphs_of(write(tmp_path, text))
    dev, prod = (next(iter(of_type(graphs[t], CLUSTER).values())).inputs for t in (DEV, PROD))
    assert dev["releaseChannel"] == {"channel": "RAPID"}
    assert prod["releaseChannel"] == {"channel": "STABLE"}
    assert prod["maintenancePolicy"] == {
        "recurringWindow": {
            "startTime": "2025-01-06T22:30:00Z",
            "endTime": "2025-01-07T02:30:00Z",
            "recurrence": "FREQ=WEEKLY;BYDAY=TU,TH,SA",
        }
    }
    assert "privateClusterConfig" not in prod
    assert prod["masterAuthorizedNetworksConfig"] == {
        "cidrBlocks": [{"cidrBlock": "203.0.113.0/24", "displayName": "office"}],
        "gcpPublicCidrsAccessEnabled": False,
    }


@pytest.mark.parametrize(
    ("window", "fragment"),
    [
        ("{hours: 4, days: [SA, SU]}", "less than GKE's minimum of 12 hours a week"),
        ("{hours: 3}", "greater than or equal to 4"),
        ("{days: [SA, SA]}", "lists a day twice"),
        ("{start: '25:00'}", "should match pattern"),
    ],
)
def test_maintenance_windows_gke_refuses_are_diagnostics(
    tmp_path: pathlib.Path, window: str, fragment: str
) -> None:
    path = write(tmp_path, MINIMAL + f"cluster:\n  maintenanceWindow: {window}\n")
    validation = validate(ConfigSource(path, "mlops.yaml", None))
    assert not validation.ok
    assert any(fragment in d.message for d in validation.diagnostics), [
        d.to_text() for d in validation.diagnostics
    ]


def test_node_account_has_exactly_the_node_roles() -> None:
    graph = example("digits")
    account = of_type(graph, GSA)["gke-nodes"]
    assert account.inputs["accountId"] == "gke-nodes-dev-usc1"
    members = [m for m in of_type(graph, PROJECT_IAM_MEMBER).values() if m.name.startswith("gke-nodes-")]
    assert sorted((m.inputs["role"], m.inputs["member"]) for m in members) == [
        (f"roles/{role}", f"serviceAccount:{NODE_ACCOUNT}")
        for role in (
            "logging.logWriter",
            "monitoring.metricWriter",
            "monitoring.viewer",
            "stackdriver.resourceMetadata.writer",
        )
    ]
    assert all(account.address in m.depends_on for m in members)
    reader = of_type(graph, REPOSITORY_IAM_MEMBER)["gke-nodes-reader"]
    assert dict(reader.inputs) == {
        "project": "acme-digits-dev",
        "location": "us-central1",
        "repository": "digits",
        "role": "roles/artifactregistry.reader",
        "member": f"serviceAccount:{NODE_ACCOUNT}",
    }


_ARGS = re.compile(r"ForwardRef\('(\w+Args)'\)")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z0-9])", "_", name).lower().replace("_i_p_", "_ip_").replace("v_4", "v4")


def _unknown_inputs(module: Any, args: str, value: JSON, where: str) -> list[str]:
    """Inputs (dotted camelCase paths) that the pulumi_gcp ``args`` class does not accept."""
    if isinstance(value, list):
        return [e for item in value for e in _unknown_inputs(module, args, item, where)]
    if not isinstance(value, dict):
        return []
    parameters = inspect.signature(getattr(module, args).__init__).parameters
    unknown = []
    for key, item in value.items():
        parameter = parameters.get(_snake(key))
        if parameter is None:
            unknown.append(f"{where}{key}")
            continue
        nested = _ARGS.search(str(parameter.annotation))
        if nested:
            unknown += _unknown_inputs(module, nested[1], item, f"{where}{key}.")
    return unknown


@pytest.mark.parametrize("name", ["digits", "fraud-tpu", "sensor-anomaly"])
def test_inputs_are_pulumi_gcp_properties(name: str) -> None:
    from pulumi_gcp import artifactregistry, compute, container, projects

    classes = {
        ROUTER: (compute, "RouterArgs"),
        ROUTER_NAT: (compute, "RouterNatArgs"),
        CLUSTER: (container, "ClusterArgs"),
        NODE_POOL: (container, "NodePoolArgs"),
        PROJECT_IAM_MEMBER: (projects, "IAMMemberArgs"),
        REPOSITORY_IAM_MEMBER: (artifactregistry, "RepositoryIamMemberArgs"),
        "gcp:artifactregistry/repository:Repository": (artifactregistry, "RepositoryArgs"),
    }
    for graph in graphs_of(EXAMPLES / name / "mlops.yaml").values():
        for resource in graph:
            if resource.type in classes:
                module, args = classes[resource.type]
                assert _unknown_inputs(module, args, dict(resource.inputs), "") == [], resource.address


@pytest.mark.parametrize(
    ("target", "channel", "recurring"),
    [
        (DEV, "REGULAR", ("2025-01-06T03:00:00Z", "2025-01-06T11:00:00Z")),
        (Target("prod", "europe-west4"), "STABLE", ("2025-01-06T02:00:00Z", "2025-01-06T08:00:00Z")),
    ],
)
def test_fraud_tpu_prod_cluster_follows_its_overrides(
    target: Target, channel: str, recurring: tuple[str, str]
) -> None:
    [cluster] = of_type(example("fraud-tpu", target), CLUSTER).values()
    assert cluster.inputs["releaseChannel"] == {"channel": channel}
    window = cluster.inputs["maintenancePolicy"]["recurringWindow"]
    assert (window["startTime"], window["endTime"]) == recurring
