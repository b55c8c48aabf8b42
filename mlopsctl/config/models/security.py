"""Security: service accounts, CMEK keys, cluster network and mesh mTLS."""

import re
from typing import Annotated, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from mlopsctl.config.durations import parse_duration
from mlopsctl.config.models.types import Duration, Name, Spec

Cidr = Annotated[str, StringConstraints(pattern=r"^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$")]
Role = Annotated[str, StringConstraints(pattern=r"^roles/[A-Za-z0-9_.]+$")]


class ServiceAccount(Spec):
    description: str = Field(
        default="", description="Description of the Google service account (at most 256 bytes of UTF-8)."
    )
    roles: list[Role] = Field(
        default=[],
        description=(
            "Extra project roles beyond what the account's references imply; keep empty where possible."
        ),
    )

    @model_validator(mode="after")
    def _description_bytes(self) -> Self:
        size = len(self.description.encode())
        if size > 256:
            raise ValueError(f"description is {size} bytes of UTF-8, over the 256 that IAM takes: shorten it")
        return self


KeyId = Annotated[
    str, StringConstraints(pattern=r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+$")
]


class KmsKey(Spec):
    key: KeyId | None = Field(
        default=None, description="An existing key to use; default: a key mlopsctl creates."
    )
    location: str | None = Field(default=None, description="Default: the region being compiled.")
    rotation: Duration = Field(default="90d", description="At least 1d, as Cloud KMS requires.")

    @model_validator(mode="after")
    def _rotation(self) -> Self:
        if parse_duration(self.rotation) < 86400:
            raise ValueError(f"rotation {self.rotation} is shorter than 1d, the shortest Cloud KMS allows")
        return self


class AuthorizedNetwork(Spec):
    name: Name = Field(description="Display name of the network.")
    cidr: Cidr = Field(description="IPv4 range allowed to reach the control plane, e.g. 203.0.113.0/24.")


NETWORK_NAME = r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?"
"""A Compute Engine network or subnetwork name."""
SHARED_NETWORK = rf"projects/([^/]+)/global/networks/({NETWORK_NAME})"
"""A network by path (group 1: its project): how a Shared VPC network is named."""
SHARED_SUBNETWORK = rf"projects/([^/]+)/regions/([^/]+)/subnetworks/({NETWORK_NAME})"
"""A subnetwork by path (group 1: its project, group 2: its region)."""
DEFAULT_NETWORK = "default"
"""The network a project starts with: auto mode, one subnetwork named ``default`` per region."""


class Network(Spec):
    """Where the cluster is in the VPC, and how its control plane is reached."""

    network: Annotated[str, StringConstraints(pattern=rf"^({NETWORK_NAME}|{SHARED_NETWORK})$")] = Field(
        default=DEFAULT_NETWORK,
        description=(
            "The VPC network of the cluster (and of its Cloud NAT): a network of the environment's GCP "
            "project by name, or a Shared VPC network as projects/HOST/global/networks/NAME (its host "
            "project then provides Cloud NAT). Default: the project's 'default' network."
        ),
    )
    subnetwork: (
        Annotated[str, StringConstraints(pattern=rf"^({NETWORK_NAME}|{SHARED_SUBNETWORK})$")] | None
    ) = Field(
        default=None,
        description=(
            "The subnetwork the nodes take their addresses from, in the region being compiled: a name "
            "(in the network's project), or projects/HOST/regions/REGION/subnetworks/NAME (${region} "
            "may be used). Default: the subnetwork named like the network, which auto-mode networks "
            "such as 'default' have in every region."
        ),
    )
    pods_range: Annotated[str, StringConstraints(pattern=rf"^{NETWORK_NAME}$")] | None = Field(
        default=None,
        description=(
            "The subnetwork's secondary range for Pod addresses; default: GKE creates one. A Shared VPC "
            "subnetwork needs it (GKE cannot add ranges to another project's subnetwork)."
        ),
    )
    services_range: Annotated[str, StringConstraints(pattern=rf"^{NETWORK_NAME}$")] | None = Field(
        default=None,
        description="The subnetwork's secondary range for Service addresses; give it with podsRange.",
    )
    private_cluster: bool = Field(
        default=True,
        description=(
            "Nodes without public IPs (their egress goes through Cloud NAT); the control plane keeps its "
            "public endpoint."
        ),
    )
    master_cidr: Cidr | None = Field(
        default=None,
        description=(
            "The /28 of the private control plane, unique in the VPC network; default: one of "
            "172.16.0.0/16 chosen by GCP project, project name, environment and region."
        ),
    )
    authorized_networks: list[AuthorizedNetwork] = Field(
        default=[], description="IPv4 ranges allowed to reach the control plane."
    )

    @model_validator(mode="after")
    def _shared_vpc(self) -> Self:
        if (self.pods_range is None) != (self.services_range is None):
            raise ValueError("give both 'podsRange' and 'servicesRange' (secondary ranges), or neither")
        network = re.fullmatch(SHARED_NETWORK, self.network)
        subnetwork = re.fullmatch(SHARED_SUBNETWORK, self.subnetwork or "")
        if subnetwork and not network:
            raise ValueError(
                "a subnetwork given as projects/HOST/regions/REGION/subnetworks/NAME needs the network "
                "as projects/HOST/global/networks/NAME"
            )
        if network and subnetwork and subnetwork[1] != network[1]:
            raise ValueError(
                f"subnetwork is in project {subnetwork[1]}, but the network is in {network[1]}: "
                "a subnetwork belongs to its network's project"
            )
        if network and self.pods_range is None:
            raise ValueError(
                "a Shared VPC network needs 'podsRange' and 'servicesRange': GKE cannot create "
                "secondary ranges in the host project's subnetwork"
            )
        return self


class IngressGateway(Spec):
    """The Istio ingress gateway endpoints are published on, as the mesh was installed."""

    selector: dict[str, str] = Field(
        default={"istio": "ingressgateway"}, description="Labels of the gateway's pods."
    )
    service_account: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]+/[a-z0-9-]+$")] = Field(
        default="istio-system/istio-ingressgateway-service-account",
        description="namespace/name of the gateway's Kubernetes service account (the Helm chart names "
        "it after the release, e.g. istio-ingress/istio-ingressgateway).",
    )
    exposure: Literal["internal", "external"] = Field(
        default="internal",
        description=(
            "Who can reach the gateway's load balancer. internal: GKE's internal passthrough Network Load "
            "Balancer, an address in the cluster's VPC network only; external: a public IP address, "
            "reachable from the internet (a finding of policy MLP004 in production). Sets the Service of "
            "the gateway mlopsctl installs; for a gateway installed otherwise, declare what its Service is."
        ),
    )


class Security(Spec):
    service_accounts: dict[Name, ServiceAccount] = Field(
        default={}, description="Google service accounts by name, that pipelines and endpoints may run as."
    )
    kms: dict[Name, KmsKey] = Field(
        default={}, description="Cloud KMS keys by name, for buckets and datasets."
    )
    default_kms_key: Name | None = Field(
        default=None, description=("Protect every bucket and dataset with this key unless it names another.")
    )
    network: Network = Field(
        default=Network(), description="The cluster's VPC network and control-plane access."
    )
    mtls: Literal["STRICT", "PERMISSIVE"] = Field(
        default="STRICT",
        description="Istio mutual TLS mode of the project's namespace: STRICT (mTLS only) or PERMISSIVE.",
    )
    trust_domain: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$")] = Field(
        default="cluster.local",
        description="The mesh's trust domain, which callers' identities carry "
        "(Cloud Service Mesh: <gcpProject>.svc.id.goog).",
    )
    ingress_gateway: IngressGateway = Field(
        default=IngressGateway(), description="The Istio ingress gateway that endpoints are published on."
    )
