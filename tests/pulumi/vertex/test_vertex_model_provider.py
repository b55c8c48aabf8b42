"""The ModelVersion provider against the real GAPIC REST client and a fake Vertex AI on 127.0.0.1."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.runtime.rpc import UNKNOWN
from vertex_fake import FakeVertex, canonical
from vertex_providers import state

from mlopsctl.pulumi.vertex.client import VertexError
from mlopsctl.pulumi.vertex.model import ModelVersionProvider

MODEL = "projects/acme/locations/us-central1/models/acme-fraud"
PROVIDER = ModelVersionProvider()


def inputs(**changes: Any) -> dict[str, Any]:
    """Inputs as Pulumi hands them to the provider: numbers as floats."""
    return {
        "project": "acme",
        "location": "us-central1",
        "modelId": "acme-fraud",
        "displayName": "fraud",
        "artifactUri": "gs://acme-models/fraud/3/",
        "containerImageUri": "us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-3:latest",
        "containerPorts": [8080.0],
        "predictRoute": "/predict",
        "healthRoute": "/health",
        "versionAliases": ["default"],
        "labels": {"variant": "blue"},
        "description": "fraud model, run 3",
        **changes,
    }


def test_the_first_upload_creates_the_model_and_later_ones_add_versions(fake: FakeVertex) -> None:
    first = PROVIDER.create(inputs())
    second = PROVIDER.create(inputs(artifactUri="gs://acme-models/fraud/4/", versionAliases=["candidate"]))
    assert (first.id, state(first)["versionId"]) == (f"{MODEL}@1", "1")
    assert (state(second)["name"], state(second)["versionId"]) == (f"{MODEL}@2", "2")
    uploads = [c.body for c in fake.calls if c.route == "upload"]
    assert uploads[0]["modelId"] == "acme-fraud" and "parentModel" not in uploads[0]
    assert uploads[1]["parentModel"] == MODEL and "modelId" not in uploads[1]
    assert uploads[0]["model"] == {
        "displayName": "fraud",
        "versionDescription": "fraud model, run 3",
        "versionAliases": ["default"],
        "labels": {"variant": "blue"},
        "artifactUri": "gs://acme-models/fraud/3/",
        "containerSpec": {
            "imageUri": "us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-3:latest",
            "ports": [{"containerPort": 8080}],
            "predictRoute": "/predict",
            "healthRoute": "/health",
        },
    }
    versions = fake.models[canonical(MODEL)]
    assert (versions["1"]["versionAliases"], versions["2"]["versionAliases"]) == (["default"], ["candidate"])


def test_a_model_made_meanwhile_by_another_version_is_uploaded_to(fake: FakeVertex) -> None:
    PROVIDER.create(inputs())
    fake.fail("get_model", "NOT_FOUND", "not yet")  # both versions saw no model; the other one won
    created = PROVIDER.create(inputs(artifactUri="gs://acme-models/fraud/4/", versionAliases=[]))
    assert state(created)["versionId"] == "2"
    assert [("parentModel" in c.body) for c in fake.calls if c.route == "upload"] == [False, False, True]


@pytest.mark.parametrize(
    ("changes", "replaces"),
    [
        ({}, None),
        ({"containerPorts": [8080]}, None),
        ({"versionAliases": ["default", "prod"]}, []),
        ({"labels": {"variant": "green"}}, []),
        ({"description": "run 4"}, []),
        ({"displayName": "Fraud"}, []),
        ({"artifactUri": "gs://acme-models/fraud/4/"}, ["artifactUri"]),
        (
            {"containerImageUri": "us-docker.pkg.dev/vertex-ai/prediction/xgboost-cpu.2-1:latest"},
            ["containerImageUri"],
        ),
        ({"containerPorts": [9000.0]}, ["containerPorts"]),
        ({"predictRoute": "/v2/predict"}, ["predictRoute"]),
        ({"modelId": "acme-fraud-2"}, ["modelId"]),
        ({"artifactUri": UNKNOWN}, ["artifactUri"]),
    ],
    ids=[
        "same",
        "ints",
        "aliases",
        "labels",
        "description",
        "display-name",
        "artifact",
        "image",
        "ports",
        "route",
        "model",
        "unknown-in-preview",
    ],
)
def test_diff_updates_aliases_and_labels_in_place_and_replaces_for_new_content(
    fake: FakeVertex, changes: dict[str, Any], replaces: list[str] | None
) -> None:
    created = PROVIDER.create(inputs())
    diff = PROVIDER.diff(created.id, state(created), inputs(**changes))
    assert diff.changes is (replaces is not None)
    assert (diff.replaces or None) == (replaces or None)
    assert diff.delete_before_replace is (False if replaces else None)


def test_an_update_moves_aliases_and_changes_labels_only_where_the_server_differs(fake: FakeVertex) -> None:
    PROVIDER.create(inputs())
    old = state(
        PROVIDER.create(inputs(artifactUri="gs://acme-models/fraud/4/", versionAliases=["candidate"]))
    )
    new = inputs(
        artifactUri="gs://acme-models/fraud/4/", versionAliases=["prod"], labels={"variant": "green"}
    )
    updated = PROVIDER.update(old["name"], old, new)
    assert state(updated)["name"] == old["name"] and state(updated)["versionId"] == "2"
    merge, patch = (c for c in fake.calls if c.route in ("merge_aliases", "update_model"))
    assert merge.raw.endswith("/models/acme-fraud%402:mergeVersionAliases")
    assert merge.body == {"versionAliases": ["prod", "-candidate"]}
    assert (patch.query["updateMask"], patch.body["labels"]) == ("labels", {"variant": "green"})
    assert fake.models[canonical(MODEL)]["2"]["versionAliases"] == ["prod"]
    before = len(fake.calls)
    PROVIDER.update(old["name"], state(updated), new)  # already so: nothing to change
    assert fake.routes()[before:] == ["get_model"]


def test_delete_removes_the_version_then_the_model_and_is_done_when_gone(fake: FakeVertex) -> None:
    first = state(PROVIDER.create(inputs()))
    second = state(PROVIDER.create(inputs(artifactUri="gs://acme-models/fraud/4/", versionAliases=[])))
    PROVIDER.delete(second["name"], second)
    assert list(fake.models[canonical(MODEL)]) == ["1"]
    PROVIDER.delete(first["name"], first)  # the last version: the model goes
    assert fake.models == {}
    PROVIDER.delete(first["name"], first)
    PROVIDER.delete(second["name"], second)
    assert fake.routes("delete_version", "delete_model") == ["delete_version", "delete_model"]
    assert fake.calls[-1].route == "list_versions"


def test_a_refused_delete_says_what_and_why(fake: FakeVertex) -> None:
    PROVIDER.create(inputs())
    second = state(
        PROVIDER.create(inputs(artifactUri="gs://acme-models/fraud/4/", versionAliases=["default"]))
    )
    with pytest.raises(VertexError) as caught:
        PROVIDER.delete(second["name"], second)
    reason = "400 FAILED_PRECONDITION: Cannot delete the default version of a model"
    assert str(caught.value) == f"delete model version {MODEL}@2: {reason}"


def test_a_failed_upload_names_the_model_and_the_servers_reason(fake: FakeVertex) -> None:
    fake.fail("upload", "INVALID_ARGUMENT", "Container image not found", in_operation=True)
    with pytest.raises(VertexError) as caught:
        PROVIDER.create(inputs())
    assert str(caught.value) == (
        f"upload a version of model {MODEL}: 400 INVALID_ARGUMENT: Container image not found"
    )


@pytest.mark.parametrize(
    ("changes", "failure"),
    [
        ({}, None),
        ({"modelId": "7fraud"}, ("modelId", "'7fraud' is not a model id")),
        ({"versionAliases": ["Prod"]}, ("versionAliases", "'Prod' does not match")),
        ({"artifactUri": "/models/3"}, ("artifactUri", "expected a gs:// folder")),
        ({"containerPorts": [0.0]}, ("containerPorts", "expected port numbers")),
        ({"labels": ["a"]}, ("labels", "expected a map, got ['a']")),
        ({"artifactUri": None}, ("artifactUri", "required")),
        ({"artifactURI": "gs://b/"}, ("artifactURI", "unknown input (it takes artifactUri,")),
        ({"artifactUri": UNKNOWN, "modelId": UNKNOWN}, None),
    ],
    ids=["valid", "model-id", "alias", "artifact", "port", "labels", "required", "unknown-key", "preview"],
)
def test_check_reports_each_bad_input_by_name(
    changes: dict[str, Any], failure: tuple[str, str] | None
) -> None:
    found = PROVIDER.check({}, inputs(**changes)).failures
    width = len(failure[1]) if failure else 0
    assert [(f.property, f.reason[:width]) for f in found] == ([failure] if failure else [])


def test_a_version_a_pipeline_pushed_is_adopted_not_registered_twice(fake: FakeVertex) -> None:
    """push registers the folder without aliases; the declared version takes it over and sets them."""
    pushed = PROVIDER.create(inputs(artifactUri="gs://acme-models/fraud/2/"))
    before = len([c for c in fake.calls if c.route == "upload"])
    declared = PROVIDER.create(inputs(artifactUri="gs://acme-models/fraud/2", versionAliases=["candidate"]))
    assert declared.id == pushed.id == f"{MODEL}@1"
    assert len([c for c in fake.calls if c.route == "upload"]) == before
    assert fake.models[canonical(MODEL)]["1"]["versionAliases"] == ["candidate", "default"]
    other_image = inputs(containerImageUri="us-docker.pkg.dev/vertex-ai/prediction/xgboost-cpu.2-1:latest")
    assert PROVIDER.create(other_image).id == f"{MODEL}@2"  # same folder, another container: a new version


def test_a_customer_managed_key_encrypts_the_upload_and_a_new_key_is_a_new_version(fake: FakeVertex) -> None:
    key = "projects/acme/locations/us-central1/keyRings/ring/cryptoKeys/models"
    PROVIDER.create(inputs(kmsKeyName=key))
    [upload] = [c.body for c in fake.calls if c.route == "upload"]
    assert upload["model"]["encryptionSpec"] == {"kmsKeyName": key}
    old = PROVIDER.check({}, inputs(kmsKeyName=key)).inputs
    new = PROVIDER.check({}, inputs(kmsKeyName=f"{key}-2")).inputs
    assert PROVIDER.diff(f"{MODEL}@1", {**old, "name": f"{MODEL}@1", "versionId": "1"}, new).replaces == [
        "kmsKeyName"
    ]
