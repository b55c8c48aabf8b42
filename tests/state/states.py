"""Small state documents for store tests."""

from __future__ import annotations

from mlopsctl.config.target import Target
from mlopsctl.graph import address_of
from mlopsctl.state import AppliedResource, State

DEV = Target("dev", "us-central1")
PROD = Target("prod", "europe-west4")
BUCKET = "gcp:storage/bucket:Bucket"


def state_of(target: Target, *buckets: str, project: str = "demo") -> State:
    """The state of ``target`` after applying one bucket per name."""
    resources = {
        address_of(target, BUCKET, name): AppliedResource(
            address_of(target, BUCKET, name), BUCKET, name, {"name": f"{project}-{name}"}
        )
        for name in buckets
    }
    return State(project, target, "acme-demo", None, f"sha256:{'-'.join(buckets)}", resources)
