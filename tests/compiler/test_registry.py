from __future__ import annotations

import pathlib

import pytest
from helpers import MINIMAL, write

from mlopsctl.api import compile_graphs, validate
from mlopsctl.compiler.kms import CRYPTO_KEY, CRYPTO_KEY_IAM_MEMBER
from mlopsctl.compiler.registry import CLEANUP_POLICIES, REPOSITORY
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import JSON, Resource

EUROPE = Target("prod", "europe-west4")
LABELS = {
    "managed-by": "mlopsctl",
    "mlops-project": "demo",
    "mlops-env": "prod",
    "mlops-region": "europe-west4",
    # Provenance: the address (no commit: the config is in no Git repository).
    "mlops-type": "gcp-artifactregistry-repository-repository",
    "mlops-name": "demo",
}
KEYS = """\
security:
  kms:
    images: {}
  defaultKmsKey: images
"""
EXISTING_KEY = """\
    regionOverrides:
      europe-west4:
        security:
          kms:
            images: {key: projects/shared/locations/europe-west4/keyRings/r/cryptoKeys/k}
          defaultKmsKey: images
"""
"""An existing key in Europe, for the European region only (MINIMAL ends with prod's regions)."""


def repository(tmp_path: pathlib.Path, extra: str) -> Resource:
    validation = validate(ConfigSource(write(tmp_path, MINIMAL + extra), "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    [found] = [r for r in compile_graphs(validation)[EUROPE] if r.type == REPOSITORY]
    return found


@pytest.mark.parametrize(
    ("extra", "key", "depends_on"),
    [
        ("", None, ()),
        (
            KEYS,
            "projects/acme-demo-prod/locations/europe-west4/keyRings/demo-prod/cryptoKeys/images",
            (
                f"prod/europe-west4/{CRYPTO_KEY}/images",
                f"prod/europe-west4/{CRYPTO_KEY_IAM_MEMBER}/artifactregistry-agent-images",
            ),
        ),
        (EXISTING_KEY, "projects/shared/locations/europe-west4/keyRings/r/cryptoKeys/k", ()),
    ],
)
def test_repository(tmp_path: pathlib.Path, extra: str, key: str | None, depends_on: tuple[str, ...]) -> None:
    found = repository(tmp_path, extra)
    expected: dict[str, JSON] = {
        "repositoryId": "demo",
        "project": "acme-demo-prod",
        "location": "europe-west4",
        "format": "DOCKER",
        "description": "Images of demo (prod), managed by mlopsctl.",
        "dockerConfig": {"immutableTags": True},
        "cleanupPolicyDryRun": False,
        "cleanupPolicies": CLEANUP_POLICIES,
        "labels": LABELS,
    }
    if key:
        expected["kmsKeyName"] = key
    assert dict(found.inputs) == expected
    assert found.depends_on == depends_on
    assert found.protect is True
    assert found.address == "prod/europe-west4/gcp:artifactregistry/repository:Repository/demo"


def test_cleanup_keeps_recent_versions_and_deletes_only_old_untagged_images() -> None:
    assert CLEANUP_POLICIES == [
        {"id": "keep-recent", "action": "KEEP", "mostRecentVersions": {"keepCount": 20}},
        {
            "id": "delete-old-untagged",
            "action": "DELETE",
            "condition": {"tagState": "UNTAGGED", "olderThan": "2592000s"},
        },
    ]
