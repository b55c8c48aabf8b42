"""CMEK: the key ring and keys that buckets and datasets are encrypted with, and the
service agents allowed to use them."""

from __future__ import annotations

from typing import Literal

from mlopsctl.compiler.context import BuildContext
from mlopsctl.config.durations import parse_duration
from mlopsctl.config.naming import key_ring_name
from mlopsctl.graph import JSON, fn_invoke, fn_join

KEY_RING = "gcp:kms/keyRing:KeyRing"
CRYPTO_KEY = "gcp:kms/cryptoKey:CryptoKey"
CRYPTO_KEY_IAM_MEMBER = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"

Agent = Literal["storage", "bigquery", "artifactregistry", "aiplatform"]
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


def _agent_grant(ctx: BuildContext, name: str, key_id: str, key_address: str, agent: Agent) -> str:
    """The address of ``agent``'s encrypter/decrypter grant on key ``name``, added if new."""
    address = ctx.address(CRYPTO_KEY_IAM_MEMBER, f"{agent}-agent-{name}")
    if address not in ctx.graph.resources:
        ctx.add(
            CRYPTO_KEY_IAM_MEMBER,
            f"{agent}-agent-{name}",
            {"cryptoKeyId": key_id, "role": ENCRYPTER_DECRYPTER, "member": _agent_member(ctx, agent)},
            source=("security", "kms", name),
            depends_on=(key_address,),
        )
    return address


_AGENT_EMAILS: dict[Agent, tuple[str, str]] = {
    "storage": ("gcp:storage/getProjectServiceAccount:getProjectServiceAccount", "emailAddress"),
    "bigquery": ("gcp:bigquery/getDefaultServiceAccount:getDefaultServiceAccount", "email"),
}
"""Agents whose email a provider function returns: (function token, returned property)."""


def _agent_member(ctx: BuildContext, agent: Agent) -> JSON:
    """The IAM member of a service agent. Its email holds the project number, which is
    unknown at compile time, so the Pulumi program looks it up when it applies."""
    if agent in _AGENT_EMAILS:
        function, returns = _AGENT_EMAILS[agent]
        return fn_join("", ["serviceAccount:", fn_invoke(function, {"project": ctx.gcp_project}, returns)])
    return ctx.service_agent(agent)


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
