"""Malformed CIDRs and Shared VPC settings: edits of test_value_checks.BASE with their errors."""

from __future__ import annotations

NETWORK = "    authorizedNetworks:\n"
"""Where the network cases add settings to security.network."""
SHARED_VPC = """\
    network: projects/host/global/networks/vpc
    subnetwork: projects/host/regions/{region}/subnetworks/ml
    podsRange: pods
    servicesRange: services
"""

NETWORK_CASES: dict[str, tuple[list[tuple[str, str]], list[str]]] = {
    "the base project is clean": ([], []),
    "authorized network with host bits": (
        [("cidr: 203.0.113.0/24", "cidr: 203.0.113.7/24")],
        [
            "mlops.yaml:54:30: error E205: authorized network 'office': '203.0.113.7/24' has host bits "
            "set: it is not the first address of its /24\n  hint: use the network address, "
            "203.0.113.0/24",
        ],
    ),
    "authorized network with an octet over 255": (
        [("cidr: 203.0.113.0/24", "cidr: 203.0.313.0/24")],
        [
            "mlops.yaml:54:30: error E205: authorized network 'office': '203.0.313.0/24' is not an "
            "IPv4 address range (Octet 313 (> 255) not permitted in '203.0.313.0')\n  hint: give four "
            "octets of 0-255, e.g. 10.0.0.0/8",
        ],
    ),
    "authorized network with a prefix over 32": (
        [("cidr: 203.0.113.0/24", "cidr: 203.0.113.0/40")],
        [
            "mlops.yaml:54:30: error E205: authorized network 'office': '203.0.113.0/40' has a prefix "
            "length over 32\n  hint: give a prefix length of 0-32",
        ],
    ),
    "masterCidr with host bits": (
        [("    authorizedNetworks:\n", "    masterCidr: 172.16.0.8/28\n    authorizedNetworks:\n")],
        [
            "mlops.yaml:53:17: error E205: masterCidr: '172.16.0.8/28' has host bits set: it is not "
            "the first address of its /28\n  hint: use the network address, 172.16.0.0/28",
        ],
    ),
    "masterCidr that is not a /28": (
        [("    authorizedNetworks:\n", "    masterCidr: 172.16.0.0/24\n    authorizedNetworks:\n")],
        [
            "mlops.yaml:53:17: error E205: masterCidr '172.16.0.0/24' is a /24, but GKE takes a /28 "
            "for the control plane\n  hint: use a /28, e.g. 172.16.0.0/28",
        ],
    ),
    "subnetwork in another region than the cluster": (
        [(NETWORK, SHARED_VPC.format(region="europe-west1") + NETWORK)],
        [
            "mlops.yaml:54:17: error E405: subnetwork 'projects/host/regions/europe-west1/subnetworks/ml' "
            "is in europe-west1, but the cluster is in us-central1\n  hint: write ${region} in the path, "
            "or set the subnetwork per region (regionOverrides)",
        ],
    ),
    "subnetwork in the cluster's region": ([(NETWORK, SHARED_VPC.format(region="${region}") + NETWORK)], []),
    "Shared VPC network without secondary ranges": (
        [(NETWORK, "    network: projects/host/global/networks/vpc\n" + NETWORK)],
        [
            "mlops.yaml:53:14: error E205: invalid security.network: a Shared VPC network needs "
            "'podsRange' and 'servicesRange': GKE cannot create secondary ranges in the host project's "
            "subnetwork",
        ],
    ),
    "one secondary range without the other": (
        [(NETWORK, "    podsRange: pods\n" + NETWORK)],
        [
            "mlops.yaml:53:16: error E205: invalid security.network: give both 'podsRange' and "
            "'servicesRange' (secondary ranges), or neither",
        ],
    ),
    "subnetwork by path in a network by name": (
        [
            (
                NETWORK,
                "    network: ml-vpc\n    subnetwork: projects/host/regions/us-central1/subnetworks/ml\n"
                + NETWORK,
            )
        ],
        [
            "mlops.yaml:54:17: error E205: invalid security.network: a subnetwork given as "
            "projects/HOST/regions/REGION/subnetworks/NAME needs the network as "
            "projects/HOST/global/networks/NAME",
        ],
    ),
    "subnetwork in another project than its network": (
        [
            (
                NETWORK,
                SHARED_VPC.format(region="us-central1").replace(
                    "projects/host/regions", "projects/other/regions"
                )
                + NETWORK,
            )
        ],
        [
            "mlops.yaml:54:17: error E205: invalid security.network: subnetwork is in project other, but "
            "the network is in host: a subnetwork belongs to its network's project",
        ],
    ),
}
