"""The GKE cluster: its settings and their environment overrides, NAT, the node account's roles."""

from __future__ import annotations

import inspect
import pathlib
import re
from typing import Any

import pytest
from cluster_cases import (
    DEV,
    DIGITS_LABELS,
    EXAMPLES,
    NODE_ACCOUNT,
    PROD,
    SECURE_NODES,
    example,
    graphs_of,
    of_type,
)
from helpers import MINIMAL, write

from mlopsctl.api import compile_graphs, validate
from mlopsctl.compiler.cluster import CLUSTER, NODE_POOL, ROUTER, ROUTER_NAT
from mlopsctl.compiler.iam import PROJECT_IAM_MEMBER
from mlopsctl.compiler.identity import GSA
from mlopsctl.compiler.provenance import PROVENANCE, without
from mlopsctl.compiler.registry import REPOSITORY_IAM_MEMBER
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import JSON


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
        "nodePoolDefaults": {"nodeConfigDefaults": {"insecureKubeletReadonlyPortEnabled": "FALSE"}},
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
