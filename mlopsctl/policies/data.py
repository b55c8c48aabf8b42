"""Where data lives and who can read it: public access, customer-managed keys, residency."""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlopsctl.compiler.bigquery import DATASET
from mlopsctl.compiler.cluster import CLUSTER
from mlopsctl.compiler.platform import GATEWAY
from mlopsctl.compiler.registry import REPOSITORY
from mlopsctl.compiler.retrain_subscriptions import TOPIC
from mlopsctl.compiler.storage import BUCKET
from mlopsctl.compiler.vertex_features import ONLINE_STORE
from mlopsctl.compiler.vertex_models import ENDPOINT, MODEL_MONITOR, MODEL_VERSION
from mlopsctl.compiler.vertex_tracking import METADATA_STORE_TYPE, TENSORBOARD
from mlopsctl.graph import HELM_RELEASE, JSON, Resource, address_of
from mlopsctl.policies import Finding, PolicyContext, policy

PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
ENCRYPTION_KEY: dict[str, tuple[str, ...]] = {
    BUCKET: ("encryption", "defaultKmsKeyName"),
    DATASET: ("defaultEncryptionConfiguration", "kmsKeyName"),
    REPOSITORY: ("kmsKeyName",),
    ENDPOINT: ("encryptionSpec", "kmsKeyName"),
    MODEL_VERSION: ("kmsKeyName",),
    TENSORBOARD: ("encryptionSpec", "kmsKeyName"),
    METADATA_STORE_TYPE: ("encryptionSpec", "kmsKeyName"),
    TOPIC: ("kmsKeyName",),
    MODEL_MONITOR: ("kmsKeyName",),
    ONLINE_STORE: ("encryptionSpec", "kmsKeyName"),
    CLUSTER: ("databaseEncryption", "keyName"),  # the Secrets in etcd
}
"""Where each type's customer-managed key is set in its inputs."""
_REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
_ZONE = re.compile(r"^(?P<region>[a-z]+-[a-z]+[0-9]+)-[a-z]$")


def grant_members(resource: Resource) -> list[str]:
    """The principals a Google Cloud resource grants a role to (``member`` or ``members``)."""
    found = [resource.inputs.get("member"), *resource.inputs.get("members", [])]
    return [m for m in found if isinstance(m, str)]


@policy("MLP004")
def public_access(ctx: PolicyContext) -> Iterator[Finding]:
    for bucket in ctx.of_type(BUCKET):
        if bucket.inputs.get("publicAccessPrevention") != "enforced":
            yield Finding(
                f"bucket '{bucket.inputs['name']}' does not enforce public access prevention",
                hint="buckets must set publicAccessPrevention: enforced",
                address=bucket.address,
            )
    for resource in ctx.graph:
        if not resource.type.startswith("gcp:"):
            continue
        for member in sorted({m for m in grant_members(resource) if m in PUBLIC_MEMBERS}):
            yield Finding(
                f"{resource.type} '{resource.name}' grants "
                f"{resource.inputs.get('role', 'a role')} to {member}",
                hint="grant roles to service accounts or groups, never to everyone",
                address=resource.address,
            )
    yield from _public_gateway(ctx)


def _public_gateway(ctx: PolicyContext) -> Iterator[Finding]:
    """In production, endpoints published on an ingress gateway with a public IP address: anyone on
    the internet reaches them, and the gateway authenticates no caller."""
    if not ctx.production or ctx.config.security.ingress_gateway.exposure != "external":
        return
    published = sorted(
        {str(r.source[1]) for r in ctx.graph if _istio_gateway(r) and r.source[:1] == ("endpoints",)}
    )
    if not published:
        return
    release = ctx.graph.resources.get(address_of(ctx.target, HELM_RELEASE, GATEWAY))
    these = f"endpoints {', '.join(published)} are" if len(published) > 1 else f"endpoint {published[0]} is"
    yield Finding(
        f"{these} published in {ctx.target.env} on an ingress gateway with a public IP address "
        "(exposure: external): anyone on the internet can send requests, the gateway authenticates no client",
        hint="set security.ingressGateway.exposure: internal (an internal load balancer of the VPC "
        "network), or waive MLP004 for path security.ingressGateway.exposure with a reason",
        address=release.address if release else None,
        path=("security", "ingressGateway", "exposure"),
    )


def _istio_gateway(resource: Resource) -> bool:
    return (
        resource.is_kubernetes
        and resource.inputs.get("kind") == "Gateway"
        and str(resource.inputs.get("apiVersion", "")).startswith("networking.istio.io/")
    )


@policy("MLP005")
def customer_managed_keys(ctx: PolicyContext) -> Iterator[Finding]:
    if not ctx.production:
        return
    for resource in ctx.of_type(*ENCRYPTION_KEY):
        if _get(resource.inputs, ENCRYPTION_KEY[resource.type]) is None:
            kind = resource.type.rsplit(":", 1)[-1].lower()
            hint = (
                "declare a key under security.kms and set security.defaultKmsKey "
                f"(e.g. in environments.{ctx.target.env}.overrides)"
            )
            if "optimized" in resource.inputs:
                hint = "only Bigtable online serving takes a customer-managed key: set its type: bigtable"
            yield Finding(
                f"{kind} '{resource.name}' is not encrypted with a customer-managed key in {ctx.target.env}",
                hint=hint,
                address=resource.address,
                # the cluster comes from no one key of the file: the environment that would set its key
                path=("environments", ctx.target.env) if resource.type == CLUSTER else (),
            )


def _get(inputs: JSON, path: tuple[str, ...]) -> JSON:
    for part in path:
        if not isinstance(inputs, dict):
            return None
        inputs = inputs.get(part)
    return inputs


@policy("MLP006")
def data_residency(ctx: PolicyContext) -> Iterator[Finding]:
    regions = ctx.config.environments[ctx.target.env].regions
    multi = {m.lower() for m in ctx.settings.allowed_multi_regions}
    for resource in ctx.graph:
        for location in sorted(set(locations(resource))):
            if _REGION.match(location.lower()):
                allowed = location.lower() in regions
            else:
                allowed = location.lower() in multi
            if not allowed:
                yield Finding(
                    f"{resource.type.rsplit(':', 1)[-1]} '{resource.name}' is located in {location}, "
                    f"outside the regions of {ctx.target.env} ({', '.join(regions)})",
                    hint="keep data in the environment's regions; allow a multi-region with "
                    "policies.allowedMultiRegions",
                    address=resource.address,
                )


def locations(resource: Resource) -> Iterator[str]:
    """The regions, multi-regions and zones' regions a Google Cloud resource is placed in."""
    if not resource.type.startswith("gcp:") or resource.type.lower().endswith("iammember"):
        return  # a grant stores nothing: its location is that of what it grants on
    location = resource.inputs.get("location")
    if isinstance(location, str):
        yield location
    for zone in resource.inputs.get("nodeLocations", []):
        found = _ZONE.match(zone)
        yield found["region"] if found else zone
