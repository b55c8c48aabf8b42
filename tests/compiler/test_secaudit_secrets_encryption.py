"""With ``security.defaultKmsKey`` the cluster encrypts its Secrets in etcd with the key (application-
layer Secrets encryption), once GKE's service agent may use the key; the key is in the cluster's region."""

from __future__ import annotations

import pathlib

import pytest
from helpers import MINIMAL, compile_text, diagnostics

from mlopsctl.compiler.apis import SERVICE, SERVICE_IDENTITY
from mlopsctl.compiler.cluster import CLUSTER
from mlopsctl.compiler.kms import CRYPTO_KEY, CRYPTO_KEY_IAM_MEMBER, ENCRYPTER_DECRYPTER
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource, address_of, fn_output

DEV = Target("dev", "us-central1")
KEY_ID = "projects/acme-demo-dev/locations/us-central1/keyRings/demo-dev/cryptoKeys/main"
EXISTING = "projects/acme-keys/locations/us-central1/keyRings/shared/cryptoKeys/gke"


def _graph(tmp_path: pathlib.Path, security: str) -> Graph:
    return compile_text(tmp_path, MINIMAL.split("  prod:\n", 1)[0] + security)[DEV]


def _cluster(graph: Graph) -> Resource:
    [cluster] = [r for r in graph if r.type == CLUSTER]
    return cluster


def test_a_default_key_encrypts_the_clusters_secrets(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path, "security:\n  kms: {main: {}}\n  defaultKmsKey: main\n")
    cluster = _cluster(graph)
    assert cluster.inputs["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": KEY_ID}
    assert graph.resources[address_of(DEV, CRYPTO_KEY, "main")].inputs["name"] == "main"
    # GKE's service agent (service-NUMBER@container-engine-robot) may use the key before the cluster does.
    grant = graph.resources[address_of(DEV, CRYPTO_KEY_IAM_MEMBER, "container-agent-main")]
    identity = address_of(DEV, SERVICE_IDENTITY, "container")
    assert dict(grant.inputs) == {
        "cryptoKeyId": KEY_ID,
        "role": ENCRYPTER_DECRYPTER,
        "member": fn_output(identity, "member"),
    }
    assert set(grant.depends_on) == {address_of(DEV, CRYPTO_KEY, "main"), identity}
    assert dict(graph.resources[identity].inputs) == {
        "project": "acme-demo-dev",
        "service": "container.googleapis.com",
    }
    assert graph.resources[identity].depends_on == (address_of(DEV, SERVICE, "container"),)
    assert {grant.address, address_of(DEV, CRYPTO_KEY, "main")} <= set(cluster.depends_on)


def test_an_existing_key_is_used_as_it_is(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path, f"security:\n  kms: {{gke: {{key: {EXISTING}}}}}\n  defaultKmsKey: gke\n")
    assert _cluster(graph).inputs["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": EXISTING}
    # Its owner grants GKE's agent, as for every other service's agent on an existing key.
    assert not [r for r in graph if r.type == CRYPTO_KEY_IAM_MEMBER]


def test_without_a_default_key_the_cluster_keeps_googles_encryption(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path, "security:\n  kms: {main: {}}\n")
    assert "databaseEncryption" not in _cluster(graph).inputs
    assert address_of(DEV, CRYPTO_KEY_IAM_MEMBER, "container-agent-main") not in graph.resources


@pytest.mark.parametrize("location", ["europe-west4", "global", "us"])
def test_a_default_key_outside_the_clusters_region_is_refused(tmp_path: pathlib.Path, location: str) -> None:
    found = diagnostics(
        tmp_path, MINIMAL + f"security:\n  kms: {{main: {{location: {location}}}}}\n  defaultKmsKey: main\n"
    )
    assert any("error E405" in first and "default KMS key 'main'" in first for first, _ in found), found
