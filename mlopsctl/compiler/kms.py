"""CMEK: the key ring and keys that buckets, datasets, the registry, Vertex AI's resources, Pub/Sub
topics and the GKE cluster's Secrets are encrypted with, and the service agents allowed to use them."""

from __future__ import annotations

from typing import Literal

from mlopsctl.compiler.apis import service_agent
from mlopsctl.compiler.context import BuildContext
from mlopsctl.config.durations import parse_duration
from mlopsctl.config.naming import key_ring_name
from mlopsctl.config.sourcemap import Path
from mlopsctl.graph import JSON, fn_invoke, fn_join, fn_output

KEY_RING = "gcp:kms/keyRing:KeyRing"
CRYPTO_KEY = "gcp:kms/cryptoKey:CryptoKey"
CRYPTO_KEY_IAM_MEMBER = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"

Agent = Literal["storage", "bigquery", "artifactregistry", "aiplatform", "pubsub", "container"]
"""The Google-managed service account that encrypts a service's data with a customer key."""


def key_reference(ctx: BuildContext, key: str | None, agent: Agent) -> tuple[str | None, tuple[str, ...]]:
    """The full key id for a key declared under security.kms, and the graph nodes it needs.

    A key mlopsctl creates is usable only once ``agent`` may encrypt with it: the grant
    is added on the key's first use by that agent, and the resource using the key must
    depend on it. An existing key (``key:``) is the owner's to grant.
    """
    name = key or ctx.config.security.default_kms_key
    if name is None:
        return None, ()
    spec = ctx.config.security.kms[name]
    if spec.key:
        return spec.key, ()
    location = spec.location or ctx.target.region
    ring = f"projects/{ctx.gcp_project}/locations/{location}/keyRings/{key_ring_name(ctx.config, ctx.target)}"
    key_id = f"{ring}/cryptoKeys/{name}"
    key_address = ctx.address(CRYPTO_KEY, name)
    return key_id, (key_address, _agent_grant(ctx, name, key_id, key_address, agent))


def default_key(ctx: BuildContext, agent: Agent, field: str) -> tuple[dict[str, JSON], tuple[str, ...]]:
    """The inputs that encrypt a resource with ``security.defaultKmsKey`` (none without one): its key
    name under ``field`` (``encryptionSpec`` for Vertex AI, which nests it), and what it waits for."""
    key_id, depends = key_reference(ctx, None, agent)
    if key_id is None:
        return {}, ()
    if field == "encryptionSpec":
        return {field: {"kmsKeyName": key_id}}, depends
    return {field: key_id}, depends


def _agent_grant(ctx: BuildContext, name: str, key_id: str, key_address: str, agent: Agent) -> str:
    """The address of ``agent``'s encrypter/decrypter grant on key ``name``, added if new."""
    address = ctx.address(CRYPTO_KEY_IAM_MEMBER, f"{agent}-agent-{name}")
    if address not in ctx.graph.resources:
        source: Path = ("security", "kms", name)
        member, made = _agent_member(ctx, agent, source)
        ctx.add(
            CRYPTO_KEY_IAM_MEMBER,
            f"{agent}-agent-{name}",
            {"cryptoKeyId": key_id, "role": ENCRYPTER_DECRYPTER, "member": member},
            source=source,
            depends_on=(key_address, *made),
        )
    return address


_AGENT_EMAILS: dict[Agent, tuple[str, str]] = {
    "storage": ("gcp:storage/getProjectServiceAccount:getProjectServiceAccount", "emailAddress"),
    "bigquery": ("gcp:bigquery/getDefaultServiceAccount:getDefaultServiceAccount", "email"),
}
"""Agents whose email a provider function returns: (function token, returned property)."""


_IDENTITIES: dict[Agent, str] = {
    "artifactregistry": "artifactregistry",
    "aiplatform": "vertex",
    "pubsub": "pubsub",
    "container": "container",
}
"""Agents made to exist by a ServiceIdentity (key of ``apis.APIS``): they may otherwise appear only
when their service is first used, after the grant that needs them."""


def _agent_member(ctx: BuildContext, agent: Agent, source: Path) -> tuple[JSON, tuple[str, ...]]:
    """The IAM member of a service agent, and what makes it exist. Its email holds the project
    number, unknown at compile time: a provider function (which creates the agent if need be) or
    the agent's ServiceIdentity gives it when the program applies."""
    if agent in _AGENT_EMAILS:
        function, returns = _AGENT_EMAILS[agent]
        member = fn_join("", ["serviceAccount:", fn_invoke(function, {"project": ctx.gcp_project}, returns)])
        return member, ()
    identity = service_agent(ctx, _IDENTITIES[agent], source)
    return fn_output(identity, "member"), (identity,)


def build(ctx: BuildContext) -> None:
    """A key ring per location (named after the location) and a key per key not named as existing."""
    for name, spec in sorted(ctx.config.security.kms.items()):
        if spec.key:
            continue
        location = spec.location or ctx.target.region
        ring = ctx.address(KEY_RING, location)
        if ring not in ctx.graph.resources:
            ctx.add(
                KEY_RING,
                location,
                {
                    "name": key_ring_name(ctx.config, ctx.target),
                    "location": location,
                    "project": ctx.gcp_project,
                },
                source=("security", "kms", name),
                protect=True,
            )
        ctx.add(
            CRYPTO_KEY,
            name,
            {
                "name": name,
                "keyRing": (
                    f"projects/{ctx.gcp_project}/locations/{location}/keyRings/"
                    + key_ring_name(ctx.config, ctx.target)
                ),
                "purpose": "ENCRYPT_DECRYPT",
                "rotationPeriod": f"{parse_duration(spec.rotation)}s",
                "labels": ctx.gcp_labels(),
            },
            source=("security", "kms", name),
            depends_on=(ring,),
            protect=True,
        )
