"""The Deployment provider against the real GAPIC REST client and a fake Vertex AI on 127.0.0.1.

The fake refuses what the real service refuses (undeploying a model that has traffic, a split
not adding up to 100), so an update that ran in the wrong order fails here too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pulumi.runtime.rpc import UNKNOWN
from vertex_fake import FakeVertex, canonical, serving
from vertex_providers import state

from mlopsctl.pulumi.vertex.client import ENDPOINT_ENV, VertexError
from mlopsctl.pulumi.vertex.deployment import DeploymentProvider
from mlopsctl.pulumi.vertex.model import ModelVersionProvider

MODEL = "projects/acme/locations/us-central1/models/acme-fraud"
ENDPOINT = "projects/acme/locations/us-central1/endpoints/1234567890"
PROVIDER = DeploymentProvider()
CHANGES = ("deploy", "mutate", "set_split", "undeploy")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeVertex]:
    """A fake with the endpoint and three versions of the model (v1 is ``default``)."""
    with serving() as found:
        monkeypatch.setenv(ENDPOINT_ENV, found.url)
        found.add_endpoint("acme", "us-central1", "1234567890")
        for run in (3, 4, 5):
            ModelVersionProvider().create(
                {
                    "project": "acme",
                    "location": "us-central1",
                    "modelId": "acme-fraud",
                    "displayName": "fraud",
                    "artifactUri": f"gs://acme-models/fraud/{run}/",
                    "containerImageUri": "us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-3:latest",
                }
            )
        found.calls.clear()
        yield found


def model(key: str, version: int | str, **changes: Any) -> dict[str, Any]:
    """One entry of ``deployedModels`` as Pulumi hands it over: numbers as floats."""
    return {
        "key": key,
        "model": f"{MODEL}@{version}",
        "machineType": "n1-standard-4",
        "minReplicaCount": 1.0,
        "maxReplicaCount": 3.0,
        **changes,
    }


def inputs(models: list[dict[str, Any]], split: dict[str, float], **changes: Any) -> dict[str, Any]:
    return {
        "project": "acme",
        "location": "us-central1",
        "endpoint": "1234567890",
        "deployedModels": models,
        "trafficSplit": split,
        **changes,
    }


BLUE = inputs([model("blue", 1)], {"blue": 100.0})


def test_create_deploys_each_model_under_its_key_then_splits_the_traffic(fake: FakeVertex) -> None:
    gpu = model(
        "green", 2, machineType="n1-standard-8", acceleratorType="NVIDIA_TESLA_T4", acceleratorCount=1.0
    )
    created = PROVIDER.create(inputs([model("blue", 1), gpu], {"blue": 90.0, "green": 10.0}))
    assert fake.routes(*CHANGES) == ["deploy", "deploy", "set_split"]
    deployed = fake.deployed(ENDPOINT)
    ids = {key: deployed[key]["id"] for key in ("blue", "green")}
    assert created.id == ENDPOINT and state(created)["deployedModelIds"] == ids
    assert fake.endpoints[canonical(ENDPOINT)]["trafficSplit"] == {ids["blue"]: 90, ids["green"]: 10}
    assert (deployed["blue"]["modelVersionId"], deployed["green"]["modelVersionId"]) == ("1", "2")
    assert deployed["green"]["dedicatedResources"] == {
        "machineSpec": {"machineType": "n1-standard-8", "acceleratorType": 5, "acceleratorCount": 1},
        "minReplicaCount": 1,
        "maxReplicaCount": 3,
    }


@pytest.mark.parametrize(
    ("after", "replaces"),
    [
        (BLUE, None),
        (inputs([model("blue", 1, maxReplicaCount=None, minReplicaCount=3.0)], {"blue": 100}), []),
        (inputs([model("blue", 2)], {"blue": 100.0}), []),
        (inputs([model("blue", UNKNOWN)], {"blue": 100.0}), []),
        ({**BLUE, "endpoint": "999"}, ["endpoint"]),
    ],
    ids=["same", "replicas", "model", "unknown-model-in-preview", "endpoint"],
)
def test_diff_changes_the_deployment_in_place_and_replaces_it_for_another_endpoint(
    fake: FakeVertex, after: dict[str, Any], replaces: list[str] | None
) -> None:
    created = PROVIDER.create(BLUE)
    diff = PROVIDER.diff(created.id, state(created), after)
    assert diff.changes is (replaces is not None)
    assert (diff.replaces or None) == (replaces or None)


def _update(before: dict[str, Any], after: dict[str, Any], fake: FakeVertex) -> list[str]:
    """Applies ``before`` then updates to ``after``; the changing calls of the update, in order."""
    created = PROVIDER.create(before)
    done = len(fake.calls)
    updated = PROVIDER.update(created.id, state(created), after)
    assert set(state(updated)["deployedModelIds"]) == {m["key"] for m in after["deployedModels"]}
    return [c.route for c in fake.calls[done:] if c.route in CHANGES]


@pytest.mark.parametrize(
    ("after", "calls"),
    [
        (
            inputs([model("blue", 1), model("green", 2)], {"blue": 90.0, "green": 10.0}),
            ["deploy", "set_split"],
        ),
        (inputs([model("green", 2)], {"green": 100.0}), ["deploy", "set_split", "undeploy"]),
        (inputs([model("blue", 2)], {"blue": 100.0}), ["deploy", "set_split", "undeploy"]),
        (
            inputs([model("blue", 1, machineType="n1-highmem-4")], {"blue": 100.0}),
            ["deploy", "set_split", "undeploy"],
        ),
        (inputs([model("blue", 1, minReplicaCount=2.0, maxReplicaCount=6.0)], {"blue": 100.0}), ["mutate"]),
        (BLUE, []),
    ],
    ids=["add-a-canary", "swap-variants", "new-version", "new-machine", "replicas", "nothing"],
)
def test_an_update_deploys_before_it_splits_and_undeploys_last(
    fake: FakeVertex, after: dict[str, Any], calls: list[str]
) -> None:
    assert _update(BLUE, after, fake) == calls
    deployed = fake.deployed(ENDPOINT)
    assert sorted(deployed) == sorted(m["key"] for m in after["deployedModels"])
    for entry in after["deployedModels"]:
        resources = deployed[entry["key"]]["dedicatedResources"]
        assert resources["machineSpec"]["machineType"] == entry["machineType"]
        assert (resources["minReplicaCount"], resources["maxReplicaCount"]) == (
            entry["minReplicaCount"],
            entry["maxReplicaCount"],
        )
    split = fake.endpoints[canonical(ENDPOINT)]["trafficSplit"]
    assert split == {deployed[k]["id"]: v for k, v in after["trafficSplit"].items()}


def test_a_rollout_interrupted_after_its_deploy_finishes_without_deploying_again(fake: FakeVertex) -> None:
    created = PROVIDER.create(BLUE)
    after = inputs([model("blue", 1), model("green", 2)], {"blue": 50.0, "green": 50.0})
    fake.fail("set_split", "FAILED_PRECONDITION", "The endpoint is being updated")
    with pytest.raises(VertexError, match=r"set the traffic split of .*: 400 FAILED_PRECONDITION"):
        PROVIDER.update(created.id, state(created), after)
    green = fake.deployed(ENDPOINT)["green"]["id"]
    done = len(fake.calls)
    retried = PROVIDER.update(created.id, state(created), after)
    assert [c.route for c in fake.calls[done:] if c.route in CHANGES] == ["set_split"]
    assert state(retried)["deployedModelIds"]["green"] == green


def test_create_over_a_deployment_made_before_the_state_was_lost_changes_nothing(fake: FakeVertex) -> None:
    first = PROVIDER.create(BLUE)
    done = len(fake.calls)
    again = PROVIDER.create(BLUE)
    assert fake.routes()[done:] == ["get_endpoint"]
    assert state(again) == state(first)


def test_delete_takes_the_traffic_off_then_undeploys_everything_and_is_done_when_gone(
    fake: FakeVertex,
) -> None:
    created = PROVIDER.create(inputs([model("blue", 1), model("green", 2)], {"blue": 90.0, "green": 10.0}))
    PROVIDER.delete(created.id, state(created))
    assert fake.routes(*CHANGES)[-3:] == ["set_split", "undeploy", "undeploy"]
    assert fake.endpoints[canonical(ENDPOINT)]["deployedModels"] == []
    PROVIDER.delete(created.id, state(created))
    del fake.endpoints[canonical(ENDPOINT)]
    PROVIDER.delete(created.id, state(created))


def test_a_failed_deploy_names_the_key_the_model_and_the_reason_and_leaves_the_traffic(
    fake: FakeVertex,
) -> None:
    created = PROVIDER.create(BLUE)
    fake.fail("deploy", "INVALID_ARGUMENT", "Machine type n1-mega-2 is not supported.", in_operation=True)
    green = model("green", 2, machineType="n1-mega-2")
    done = len(fake.calls)
    with pytest.raises(VertexError) as caught:
        PROVIDER.update(
            created.id, state(created), inputs([model("blue", 1), green], {"blue": 50.0, "green": 50.0})
        )
    reason = "400 INVALID_ARGUMENT: Machine type n1-mega-2 is not supported."
    assert str(caught.value) == f"deploy 'green' ({MODEL}@2) to {ENDPOINT}: {reason}"
    assert fake.routes()[done:] == ["get_endpoint", "deploy"]
    blue = state(created)["deployedModelIds"]["blue"]
    assert fake.endpoints[canonical(ENDPOINT)]["trafficSplit"] == {blue: 100}


WITH_IDS = inputs(
    [model("blue", 1, id="1000000001"), model("green", 2, id="1000000002")], {"blue": 90.0, "green": 10.0}
)


def test_given_ids_name_the_deployed_models_and_find_them_again(fake: FakeVertex) -> None:
    """The compiler's ids are the deployed models' own (the request log names them), and a create
    over them, state lost, finds them by id and changes nothing."""
    created = PROVIDER.create(WITH_IDS)
    deployed = fake.deployed(ENDPOINT)
    assert (deployed["blue"]["id"], deployed["green"]["id"]) == ("1000000001", "1000000002")
    assert state(created)["deployedModelIds"] == {"blue": "1000000001", "green": "1000000002"}
    assert fake.endpoints[canonical(ENDPOINT)]["trafficSplit"] == {"1000000001": 90, "1000000002": 10}
    done = len(fake.calls)
    assert state(PROVIDER.create(WITH_IDS)) == state(created)
    assert fake.routes()[done:] == ["get_endpoint"]


def test_an_id_given_to_a_deployment_made_without_ids_deploys_it_anew_beside_the_old(
    fake: FakeVertex,
) -> None:
    """A stack made before deployed models had ids: each is deployed again under its id, the traffic
    moves, and the old ones are undeployed, in that order."""
    before = inputs([model("blue", 1), model("green", 2)], {"blue": 90.0, "green": 10.0})
    assert _update(before, WITH_IDS, fake) == ["deploy", "deploy", "set_split", "undeploy", "undeploy"]
    assert {d["id"] for d in fake.deployed(ENDPOINT).values()} == {"1000000001", "1000000002"}


def test_an_id_that_serves_another_model_is_refused_saying_so(fake: FakeVertex) -> None:
    PROVIDER.create(inputs([model("blue", 1, id="1000000001")], {"blue": 100.0}))
    moved = inputs([model("blue", 2, id="1000000001")], {"blue": 100.0})
    with pytest.raises(VertexError, match=r"deployed model 1000000001 on .* serves .*acme-fraud as 'blue'"):
        PROVIDER.create(moved)


def test_a_missing_endpoint_is_reported_as_such(fake: FakeVertex) -> None:
    with pytest.raises(
        VertexError, match=r"get endpoint .*/endpoints/404 \(create it before its deployment\): 404"
    ):
        PROVIDER.create({**BLUE, "endpoint": "404"})


@pytest.mark.parametrize(
    ("models", "split", "failure"),
    [
        ([model("blue", 1)], {"blue": 100.0}, None),
        ([], {}, None),
        (
            [model("blue", 1), model("green", 2)],
            {"blue": 90.0, "green": 5.0},
            ("trafficSplit", "percentages add up"),
        ),
        ([model("blue", 1)], {"blue": 100.0, "red": 0.0}, ("trafficSplit.red", "not a key")),
        ([model("blue", 1), model("blue", 2)], {"blue": 100.0}, ("deployedModels", "key 'blue' appears")),
        (
            [model("blue", 1, acceleratorType="NVIDIA_T4")],
            {"blue": 100.0},
            ("deployedModels[0].acceleratorType", ""),
        ),
        (
            [model("blue", 1, acceleratorType="NVIDIA_L4")],
            {"blue": 100.0},
            ("deployedModels[0].acceleratorCount", ""),
        ),
        (
            [model("blue", 1, minReplicaCount=4.0)],
            {"blue": 100.0},
            ("deployedModels[0]", "replicas: expected"),
        ),
        ([model("blue", 1, machine="n1")], {"blue": 100.0}, ("deployedModels[0].machine", "unknown field")),
        (
            [model("blue", 1, model="fraud@1")],
            {"blue": 100.0},
            ("deployedModels[0].model", "'fraud@1' is not"),
        ),
        ([model("blue", UNKNOWN)], {"blue": 100.0}, None),
        (
            [model("blue", 1, id="12345678901")],
            {"blue": 100.0},
            ("deployedModels[0].id", "'12345678901': 1 to"),
        ),
        ([model("blue", 1, id="4a")], {"blue": 100.0}, ("deployedModels[0].id", "'4a': 1 to 10 digits")),
    ],
    ids=[
        "valid",
        "empty",
        "sum",
        "split-key",
        "duplicate",
        "accelerator",
        "accelerator-count",
        "replicas",
        "unknown-field",
        "model-name",
        "preview",
        "id-length",
        "id-digits",
    ],
)
def test_check_reports_each_bad_entry_by_its_path(
    models: list[dict[str, Any]], split: dict[str, float], failure: tuple[str, str] | None
) -> None:
    found = PROVIDER.check({}, inputs(models, split)).failures
    width = len(failure[1]) if failure else 0
    assert [(f.property, f.reason[:width]) for f in found] == ([failure] if failure else [])
