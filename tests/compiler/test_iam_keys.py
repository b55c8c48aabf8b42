"""Service agents may use the keys mlopsctl creates, and only those."""

from __future__ import annotations

import pathlib

import pytest
from helpers import OWNED_STAGED_DATA, compile_text, write
from iam_cases import DEV

from mlopsctl.api import validate
from mlopsctl.compiler import kms
from mlopsctl.compiler.bigquery import DATASET
from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.kms import CRYPTO_KEY, CRYPTO_KEY_IAM_MEMBER
from mlopsctl.compiler.storage import BUCKET
from mlopsctl.config.source import ConfigSource

CMEK = OWNED_STAGED_DATA + "security:\n  kms:\n    data: {}\n  defaultKmsKey: data\n"
KEY_ID = "projects/acme-demo-dev/locations/us-central1/keyRings/demo-dev/cryptoKeys/data"


@pytest.mark.parametrize(
    ("agent", "encrypted", "member"),
    [
        (
            "storage",
            (BUCKET, "raw"),
            {
                "fn::join": [
                    "",
                    [
                        "serviceAccount:",
                        {
                            "fn::invoke": {
                                "function": "gcp:storage/getProjectServiceAccount:getProjectServiceAccount",
                                "arguments": {"project": "acme-demo-dev"},
                                "return": "emailAddress",
                            }
                        },
                    ],
                ]
            },
        ),
        (
            "bigquery",
            (DATASET, "features"),
            {
                "fn::join": [
                    "",
                    [
                        "serviceAccount:",
                        {
                            "fn::invoke": {
                                "function": "gcp:bigquery/getDefaultServiceAccount:getDefaultServiceAccount",
                                "arguments": {"project": "acme-demo-dev"},
                                "return": "email",
                            }
                        },
                    ],
                ]
            },
        ),
    ],
)
def test_service_agents_may_use_the_keys_mlopsctl_creates(
    tmp_path: pathlib.Path, agent: str, encrypted: tuple[str, str], member: object
) -> None:
    graph = compile_text(tmp_path, CMEK)[DEV]
    grant = graph.resources[f"dev/us-central1/{CRYPTO_KEY_IAM_MEMBER}/{agent}-agent-data"]
    assert dict(grant.inputs) == {
        "cryptoKeyId": KEY_ID,
        "role": "roles/cloudkms.cryptoKeyEncrypterDecrypter",
        "member": member,
    }
    assert grant.depends_on == (f"dev/us-central1/{CRYPTO_KEY}/data",)
    assert grant.source == ("security", "kms", "data")
    assert grant.address in graph.resources[f"dev/us-central1/{encrypted[0]}/{encrypted[1]}"].depends_on


def test_existing_keys_are_their_owners_to_grant(tmp_path: pathlib.Path) -> None:
    existing = "projects/keys-prj/locations/us-central1/keyRings/ring/cryptoKeys/k"
    dev_only = OWNED_STAGED_DATA.replace("regions: [us-central1, europe-west4]", "regions: [us-central1]")
    text = dev_only + f"security:\n  kms:\n    data: {{key: {existing}}}\n  defaultKmsKey: data\n"
    graph = compile_text(tmp_path, text)[DEV]
    assert not [r for r in graph if r.type == CRYPTO_KEY_IAM_MEMBER]
    assert graph.resources["dev/us-central1/gcp:storage/bucket:Bucket/raw"].depends_on == ()


def test_the_artifact_registry_agent_is_made_to_exist_before_its_grant(tmp_path: pathlib.Path) -> None:
    """The agent may otherwise appear only when Artifact Registry is first used: after this grant,
    which IAM would refuse for an account that does not exist."""
    validation = validate(ConfigSource(write(tmp_path, CMEK), "mlops.yaml", None))
    ctx = BuildContext(validation.targets[DEV].config, DEV, tmp_path)
    key_id, depends_on = kms.key_reference(ctx, None, "artifactregistry")
    grant = ctx.graph.resources[f"dev/us-central1/{CRYPTO_KEY_IAM_MEMBER}/artifactregistry-agent-data"]
    assert key_id == KEY_ID
    assert depends_on == (f"dev/us-central1/{CRYPTO_KEY}/data", grant.address)
    identity = "dev/us-central1/gcp:projects/serviceIdentity:ServiceIdentity/artifactregistry"
    assert grant.inputs["member"] == {"fn::output": {"resource": identity, "property": "member"}}
    assert grant.depends_on == (f"dev/us-central1/{CRYPTO_KEY}/data", identity)
    assert dict(ctx.graph.resources[identity].inputs) == {
        "project": "acme-demo-dev",
        "service": "artifactregistry.googleapis.com",
    }
    # A second use of the key by the same agent reuses the grant.
    assert kms.key_reference(ctx, "data", "artifactregistry") == (key_id, depends_on)
