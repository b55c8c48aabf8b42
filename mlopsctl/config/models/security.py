"""Security: service accounts, CMEK keys, cluster network and mesh mTLS."""

from typing import Annotated, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from mlopsctl.config.models.types import Duration, Name, Spec
from mlopsctl.durations import parse_duration

Cidr = Annotated[str, StringConstraints(pattern=r"^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$")]
Role = Annotated[str, StringConstraints(pattern=r"^roles/[A-Za-z0-9_.]+$")]


class ServiceAccount(Spec):
    description: str = ""
    roles: list[Role] = Field(
        default=[],
        description=(
            "Extra project roles beyond what the account's references imply; keep empty where possible."
        ),
    )


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
    name: Name
    cidr: Cidr


class Network(Spec):
    private_cluster: bool = True
    master_cidr: Cidr | None = Field(
        default=None,
        description=(
            "The /28 of the private control plane, unique in the VPC network; default: one of "
            "172.16.0.0/16 chosen by environment and region."
        ),
    )
    authorized_networks: list[AuthorizedNetwork] = []


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


class Security(Spec):
    service_accounts: dict[Name, ServiceAccount] = {}
    kms: dict[Name, KmsKey] = {}
    default_kms_key: Name | None = Field(
        default=None, description=("Protect every bucket and dataset with this key unless it names another.")
    )
    network: Network = Network()
    mtls: Literal["STRICT", "PERMISSIVE"] = "STRICT"
    trust_domain: Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$")] = Field(
        default="cluster.local",
        description="The mesh's trust domain, which callers' identities carry "
        "(Cloud Service Mesh: <gcpProject>.svc.id.goog).",
    )
    ingress_gateway: IngressGateway = IngressGateway()
