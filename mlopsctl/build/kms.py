"""CMEK: the key ring and keys that buckets and datasets are encrypted with."""

from __future__ import annotations

from mlopsctl.build.context import BuildContext
from mlopsctl.durations import parse_duration

KEY_RING = "gcp:kms/keyRing:KeyRing"
CRYPTO_KEY = "gcp:kms/cryptoKey:CryptoKey"


def key_ring_name(ctx: BuildContext) -> str:
    return f"{ctx.config.project.name}-{ctx.target.env}"


def key_reference(ctx: BuildContext, key: str | None) -> tuple[str | None, tuple[str, ...]]:
    """The full key id for a key declared under security.kms, and the graph nodes it needs."""
    name = key or ctx.config.security.default_kms_key
    if name is None:
        return None, ()
    spec = ctx.config.security.kms[name]
    if spec.key:
        return spec.key, ()
    location = spec.location or ctx.target.region
    key_id = (
        f"projects/{ctx.gcp_project}/locations/{location}/keyRings/{key_ring_name(ctx)}/cryptoKeys/{name}"
    )
    return key_id, (ctx.address(CRYPTO_KEY, name),)


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
                    "name": key_ring_name(ctx),
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
                "keyRing": f"projects/{ctx.gcp_project}/locations/{location}/keyRings/{key_ring_name(ctx)}",
                "purpose": "ENCRYPT_DECRYPT",
                "rotationPeriod": f"{parse_duration(spec.rotation)}s",
                "labels": ctx.gcp_labels(),
            },
            source=("security", "kms", name),
            depends_on=(ring,),
            protect=True,
        )
