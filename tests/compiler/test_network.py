"""The cluster's place in the VPC: the network and subnetwork it names, the Cloud NAT of that
subnetwork, and a control-plane range per GCP project, project, environment and region."""

from __future__ import annotations

import pathlib

import pytest
from helpers import MINIMAL, compile_text, diagnostics

from mlopsctl.compiler.cluster import CLUSTER, ROUTER, ROUTER_NAT
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.naming import master_cidr
from mlopsctl.config.target import Target
from mlopsctl.graph import JSON, Graph

DEV = Target("dev", "us-central1")
PROD_EU = Target("prod", "europe-west4")


def _only(graph: Graph, type_: str) -> dict[str, JSON]:
    [found] = [r for r in graph if r.type == type_]
    return dict(found.inputs)


NAMED = """\
security:
  network:
    network: ml-vpc
    subnetwork: ml-${region}
    podsRange: ml-pods
    servicesRange: ml-services
"""
SHARED = """\
security:
  network:
    network: projects/net-host/global/networks/shared
    subnetwork: ml-${env}
    podsRange: pods-${env}
    servicesRange: services-${env}
"""


@pytest.mark.parametrize(
    ("extra", "target", "network", "subnetwork", "ranges", "nat"),
    [
        # The default, made explicit: the project's auto-mode network and its regional subnetwork.
        ("", DEV, "default", "default", {}, True),
        (
            NAMED,
            PROD_EU,
            "ml-vpc",
            "ml-europe-west4",
            {"clusterSecondaryRangeName": "ml-pods", "servicesSecondaryRangeName": "ml-services"},
            True,
        ),
        # A Shared VPC: the subnetwork by path in the host project; the host provides NAT.
        (
            SHARED,
            PROD_EU,
            "projects/net-host/global/networks/shared",
            "projects/net-host/regions/europe-west4/subnetworks/ml-prod",
            {"clusterSecondaryRangeName": "pods-prod", "servicesSecondaryRangeName": "services-prod"},
            False,
        ),
    ],
)
def test_the_cluster_is_in_the_named_network(
    tmp_path: pathlib.Path,
    extra: str,
    target: Target,
    network: str,
    subnetwork: str,
    ranges: dict[str, str],
    nat: bool,
) -> None:
    graph = compile_text(tmp_path, MINIMAL + extra)[target]
    cluster = _only(graph, CLUSTER)
    assert (cluster["network"], cluster["subnetwork"]) == (network, subnetwork)
    assert cluster["ipAllocationPolicy"] == {"stackType": "IPV4", **ranges}
    routers = [r for r in graph if r.type in (ROUTER, ROUTER_NAT)]
    assert len(routers) == (2 if nat else 0)
    if nat:
        assert _only(graph, ROUTER)["network"] == network
        assert _only(graph, ROUTER_NAT)["subnetworks"] == [
            {"name": subnetwork, "sourceIpRangesToNats": ["ALL_IP_RANGES"]}
        ]


def _config(gcp_project: str, name: str = "demo") -> MLOpsConfig:
    return MLOpsConfig.model_validate(
        {
            "apiVersion": "mlopsctl.dev/v1alpha1",
            "kind": "MLOpsProject",
            "project": {"name": name},
            "environments": {"prod": {"gcpProject": gcp_project, "regions": ["us-central1"]}},
        }
    )


def test_the_control_plane_range_depends_on_the_gcp_project_and_the_project() -> None:
    target = Target("prod", "us-central1")
    ranges = {
        master_cidr(_config(project, name), target)
        for project, name in (("team-a", "demo"), ("team-b", "demo"), ("team-a", "other"))
    }
    # Two projects sharing a VPC (or two mlopsctl projects in one GCP project) get ranges of their own.
    assert len(ranges) == 3
    assert master_cidr(_config("team-a"), target) == master_cidr(_config("team-a"), target)
    assert all(r.startswith("172.16.") and r.endswith("/28") for r in ranges)


SHARED_PROJECT = MINIMAL.replace("gcpProject: acme-demo-dev", "gcpProject: acme-demo-prod").replace(
    "regions: [us-central1, europe-west4]", "regions: [us-central1]"
)
"""dev and prod in one GCP project, both in us-central1."""


def test_environments_sharing_a_project_get_distinct_ranges(tmp_path: pathlib.Path) -> None:
    graphs = compile_text(tmp_path, SHARED_PROJECT)
    ranges = [_only(g, CLUSTER)["privateClusterConfig"]["masterIpv4CidrBlock"] for g in graphs.values()]
    assert len(ranges) == 2
    assert len(set(ranges)) == 2


def test_a_range_given_twice_in_one_project_still_collides(tmp_path: pathlib.Path) -> None:
    text = SHARED_PROJECT + "security:\n  network:\n    masterCidr: 172.16.0.0/28\n"
    found = diagnostics(tmp_path, text)
    assert [d for d, _ in found if "E310" in d] == [
        "14:17: error E310: control plane range '172.16.0.0/28' is used by dev/us-central1 and "
        "prod/us-central1 in project acme-demo-prod (security.network)"
    ]
