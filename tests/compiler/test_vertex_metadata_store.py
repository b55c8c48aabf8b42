"""The region's metadata store ``default``: created (protected, with the project's key) when experiments
are tracked, waited for by every Vertex AI grant, and registered as pulumi-gcp's AiMetadataStore."""

from __future__ import annotations

import pathlib
import sys

import pytest
from helpers import OWNED_STAGED_DATA, compile_text

from mlopsctl.compiler.kms import CRYPTO_KEY, CRYPTO_KEY_IAM_MEMBER
from mlopsctl.compiler.vertex_tracking import METADATA_STORE_TYPE
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph
from mlopsctl.plan.resource_types import replace_paths
from mlopsctl.pulumi.program import create

sys.path.append(str(pathlib.Path(__file__).resolve().parents[1] / "pulumi"))  # the shared Pulumi mocks
from mocked import PROJECT_NUMBER, Recorder, run
from tracking_cases import TRACKED

DEV = Target("dev", "us-central1")
PROD_EU = Target("prod", "europe-west4")
KEY_RING = "projects/acme-demo-dev/locations/us-central1/keyRings/demo-dev"
CMEK = "security:\n  kms:\n    demo-data: {}\n  defaultKmsKey: demo-data\n"
EXISTING_KEY = "projects/keys/locations/us-central1/keyRings/shared/cryptoKeys/vertex"
GRANT = "gcp:projects/iAMMember:IAMMember"


def _tracking(experiments: bool) -> str:
    return f"tracking: {{experiments: {str(experiments).lower()}, tensorboard: true}}\n"


def _graphs(tmp_path: pathlib.Path, *extra: str) -> dict[Target, Graph]:
    return compile_text(tmp_path, OWNED_STAGED_DATA + TRACKED + "".join(extra))


def _store(graph: Graph) -> list[str]:
    return [r.address for r in graph if r.type == METADATA_STORE_TYPE]


@pytest.mark.parametrize(
    ("experiments", "placement", "stores"),
    [(True, "gke", 1), (True, "vertex", 1), (False, "gke", 0), (False, "vertex", 0)],
    ids=["experiments-gke", "experiments-vertex", "tensorboard-only-gke", "tensorboard-only-vertex"],
)
def test_a_store_per_environment_and_region_only_with_experiments(
    tmp_path: pathlib.Path, experiments: bool, placement: str, stores: int
) -> None:
    graphs = _graphs(tmp_path, _tracking(experiments), f"placement: {{pipelines: {placement}}}\n")
    assert {t: len(_store(g)) for t, g in graphs.items()} == dict.fromkeys(graphs, stores)


def test_the_store_is_default_in_the_target_region_protected_and_without_description(
    tmp_path: pathlib.Path,
) -> None:
    graphs = _graphs(tmp_path, _tracking(True))
    [store] = [r for r in graphs[PROD_EU] if r.type == METADATA_STORE_TYPE]
    assert store.name == "default"
    assert store.protect
    assert store.source == ("tracking", "experiments")
    # What Vertex AI gives the default store it creates on first use (no labels to stamp either), so such
    # a store imports as it is.
    assert store.inputs == {"name": "default", "project": "acme-demo-prod", "region": "europe-west4"}


@pytest.mark.parametrize("placement", ["gke", "vertex"])
def test_every_vertex_ai_grant_waits_for_the_store(tmp_path: pathlib.Path, placement: str) -> None:
    graph = _graphs(tmp_path, _tracking(True), f"placement: {{pipelines: {placement}}}\n")[DEV]
    store = f"{DEV}/{METADATA_STORE_TYPE}/default"
    grants = [r for r in graph if r.type == GRANT and r.inputs["role"] == "roles/aiplatform.user"]
    assert grants
    assert all(store in g.depends_on for g in grants)


def test_with_cmek_the_store_is_encrypted_with_the_default_key_the_agent_may_use(
    tmp_path: pathlib.Path,
) -> None:
    graph = _graphs(tmp_path, _tracking(True), CMEK)[DEV]
    [store] = [r for r in graph if r.type == METADATA_STORE_TYPE]
    key = f"{KEY_RING}/cryptoKeys/demo-data"
    assert store.inputs["encryptionSpec"] == {"kmsKeyName": key}
    grant = graph.resources[f"{DEV}/{CRYPTO_KEY_IAM_MEMBER}/aiplatform-agent-demo-data"]
    assert grant.inputs["cryptoKeyId"] == key
    assert grant.inputs["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    assert set(store.depends_on) == {grant.address, f"{DEV}/{CRYPTO_KEY}/demo-data"}


def test_an_existing_key_is_named_and_its_owner_grants_it(tmp_path: pathlib.Path) -> None:
    existing = f"security:\n  kms:\n    vertex: {{key: {EXISTING_KEY}}}\n  defaultKmsKey: vertex\n"
    text = OWNED_STAGED_DATA.replace("[us-central1, europe-west4]", "[us-central1]") + TRACKED
    graph = compile_text(tmp_path, text + _tracking(True) + existing)[DEV]
    [store] = [r for r in graph if r.type == METADATA_STORE_TYPE]
    assert store.inputs["encryptionSpec"] == {"kmsKeyName": EXISTING_KEY}
    assert store.depends_on == ()
    assert not [r for r in graph if r.type == CRYPTO_KEY_IAM_MEMBER and "aiplatform" in r.name]


@pytest.mark.parametrize(
    ("change", "replaces"),
    [
        ({"region": "us-east1"}, ("region",)),
        ({"encryptionSpec": {"kmsKeyName": EXISTING_KEY}}, ("encryptionSpec",)),
        ({"description": "tracked"}, ("description",)),
    ],
)
def test_any_change_of_the_immutable_store_is_a_replacement(
    change: dict[str, object], replaces: tuple[str, ...]
) -> None:
    before = {"name": "default", "project": "p", "region": "us-central1"}
    assert replace_paths(METADATA_STORE_TYPE, before, {**before, **change}) == replaces


def test_the_pulumi_program_creates_the_store_with_the_key_as_pulumi_gcp_takes_it(
    tmp_path: pathlib.Path,
) -> None:
    graph = _graphs(tmp_path, _tracking(True), CMEK)[DEV]
    recorder = Recorder()
    run(lambda: create(graph), recorder, stack="dev-us-central1")
    store = recorder.one(METADATA_STORE_TYPE, "default")
    assert store.inputs == {
        "name": "default",
        "project": "acme-demo-dev",
        "region": "us-central1",
        "encryptionSpec": {"kmsKeyName": f"{KEY_RING}/cryptoKeys/demo-data"},
    }
    assert store.protect
    grant = recorder.one(CRYPTO_KEY_IAM_MEMBER, "aiplatform-agent-demo-data")
    agent = f"serviceAccount:service-{PROJECT_NUMBER}@gcp-sa-aiplatform.iam.gserviceaccount.com"
    assert grant.inputs["member"] == agent
    assert grant.urn in store.dependencies
    train = recorder.one(GRANT, "pipeline-train-aiplatform-user")
    assert store.urn in train.dependencies
