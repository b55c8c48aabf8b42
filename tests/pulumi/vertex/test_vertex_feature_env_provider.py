"""The ModelVersion provider uploads a version's container environment (the feature views its endpoints
read), against the real GAPIC REST client and a fake Vertex AI on 127.0.0.1."""

from __future__ import annotations

from typing import Any

import pytest
from vertex_fake import FakeVertex, canonical
from vertex_providers import state

from mlopsctl.pulumi.vertex.model import ModelVersionProvider

MODEL = "projects/acme/locations/us-central1/models/acme-fraud"
PROVIDER = ModelVersionProvider()
VIEW = "projects/acme/locations/us-central1/featureOnlineStores/online_dev/featureViews/customer_profile"
ENV = [{"name": "MLOPSCTL_FEATURE_VIEW_CUSTOMER_PROFILE", "value": VIEW}]


def inputs(**changes: Any) -> dict[str, Any]:
    """Inputs as Pulumi hands them to the provider: numbers as floats."""
    return {
        "project": "acme",
        "location": "us-central1",
        "modelId": "acme-fraud",
        "displayName": "fraud",
        "artifactUri": "gs://acme-models/fraud/3/",
        "containerImageUri": "us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-6:latest",
        "containerPorts": [8080.0],
        "versionAliases": ["default"],
        **changes,
    }


def _uploaded(fake: FakeVertex) -> list[dict[str, Any]]:
    return [c.body["model"]["containerSpec"] for c in fake.calls if c.route == "upload"]


def test_the_upload_sets_the_containers_environment(fake: FakeVertex) -> None:
    created = PROVIDER.create(inputs(containerEnv=ENV))
    assert state(created)["containerEnv"] == ENV
    [spec] = _uploaded(fake)
    assert spec == {
        "imageUri": "us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-6:latest",
        "ports": [{"containerPort": 8080}],
        "env": ENV,
    }
    assert fake.models[canonical(MODEL)]["1"]["containerSpec"]["env"] == ENV


def test_without_views_the_container_has_no_environment(fake: FakeVertex) -> None:
    PROVIDER.create(inputs())
    [spec] = _uploaded(fake)
    assert "env" not in spec


@pytest.mark.parametrize(
    ("pushed", "adopted"),
    [({}, False), ({"containerEnv": ENV}, True)],
    ids=["pushed-without-environment", "same-environment"],
)
def test_a_pushed_version_is_adopted_only_with_the_same_environment(
    fake: FakeVertex, pushed: dict[str, Any], adopted: bool
) -> None:
    first = PROVIDER.create(inputs(versionAliases=[], **pushed))
    declared = PROVIDER.create(inputs(containerEnv=ENV))
    assert (declared.id == first.id) is adopted
    assert len(_uploaded(fake)) == (1 if adopted else 2)


@pytest.mark.parametrize(
    ("olds", "news", "replaces"),
    [
        ({"containerEnv": ENV}, {"containerEnv": ENV}, None),
        ({}, {"containerEnv": []}, None),
        ({}, {"containerEnv": ENV}, ["containerEnv"]),
        ({"containerEnv": ENV}, {}, ["containerEnv"]),
        ({"containerEnv": ENV}, {"containerEnv": [{**ENV[0], "value": VIEW + "2"}]}, ["containerEnv"]),
    ],
    ids=["same", "empty-is-none", "added", "removed", "changed"],
)
def test_a_new_environment_is_a_new_version(
    fake: FakeVertex, olds: dict[str, Any], news: dict[str, Any], replaces: list[str] | None
) -> None:
    created = PROVIDER.create(inputs(**olds))
    diff = PROVIDER.diff(created.id, state(created), inputs(**news))
    assert diff.changes is (replaces is not None)
    assert (diff.replaces or None) == replaces


@pytest.mark.parametrize(
    "env",
    [
        [{"name": "1BAD", "value": "x"}],
        [{"name": "GOOD"}],
        [{"name": "GOOD", "value": 3.0}],
        ["GOOD=x"],
        [{"name": "GOOD", "value": "x", "valueFrom": "y"}],
    ],
    ids=["name", "no-value", "number", "string", "extra-key"],
)
def test_check_refuses_what_is_not_a_variable(env: list[Any]) -> None:
    failures = PROVIDER.check({}, inputs(containerEnv=env)).failures
    assert [f.property for f in failures] == ["containerEnv"]
