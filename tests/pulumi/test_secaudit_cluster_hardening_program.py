"""The Pulumi program (the real pulumi-gcp classes, under mocks) takes the cluster's Secrets encryption,
its node pool defaults and each pool's kubelet configuration as compiled, and creates the cluster only
after GKE's service agent may use the key."""

from __future__ import annotations

import pytest
from helpers import DEV_ONLY, compile_text
from mocked import PROJECT_NUMBER, Recorder, run

from mlopsctl.compiler.cluster import CLUSTER, NODE_POOL
from mlopsctl.compiler.kms import CRYPTO_KEY_IAM_MEMBER
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph
from mlopsctl.pulumi.program import create

DEV = Target("dev", "us-central1")
SERVICE_IDENTITY = "gcp:projects/serviceIdentity:ServiceIdentity"
CONFIG = (
    DEV_ONLY
    + """\
accelerators:
  t4: {type: gpu, accelerator: nvidia-tesla-t4, count: 1, autoscaling: {minNodes: 0, maxNodes: 1}}
security:
  kms: {main: {}}
  defaultKmsKey: main
"""
)
OFF = {"insecureKubeletReadonlyPortEnabled": "FALSE"}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Graph, Recorder]:
    graph = compile_text(tmp_path_factory.mktemp("hardening"), CONFIG)[DEV]
    recorder = Recorder()
    run(lambda: create(graph), recorder)
    return graph, recorder


def test_the_provider_takes_the_hardening_inputs(compiled: tuple[Graph, Recorder]) -> None:
    graph, recorder = compiled
    [name] = [r.name for r in graph if r.type == CLUSTER]
    cluster = recorder.one(CLUSTER, name).inputs
    assert cluster["databaseEncryption"] == {
        "state": "ENCRYPTED",
        "keyName": "projects/acme-demo-dev/locations/us-central1/keyRings/demo-dev/cryptoKeys/main",
    }
    assert cluster["nodePoolDefaults"] == {"nodeConfigDefaults": OFF}
    for pool in ("t4", "system"):
        assert recorder.one(NODE_POOL, pool).inputs["nodeConfig"]["kubeletConfig"] == OFF


def test_the_cluster_waits_for_the_gke_agents_grant(compiled: tuple[Graph, Recorder]) -> None:
    graph, recorder = compiled
    [name] = [r.name for r in graph if r.type == CLUSTER]
    grant = recorder.one(CRYPTO_KEY_IAM_MEMBER, "container-agent-main")
    identity = recorder.one(SERVICE_IDENTITY, "container")
    assert identity.inputs["service"] == "container.googleapis.com"
    assert identity.urn in grant.dependencies
    # The member the agent's ServiceIdentity reports (under mocks: tests/pulumi/mocked.py).
    assert grant.inputs["member"].startswith(f"serviceAccount:service-{PROJECT_NUMBER}@")
    assert grant.inputs["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    assert grant.urn in recorder.one(CLUSTER, name).dependencies
