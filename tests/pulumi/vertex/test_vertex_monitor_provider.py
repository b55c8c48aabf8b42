"""The ModelMonitor provider against the real v1beta1 GAPIC REST clients and a fake Vertex AI."""

from __future__ import annotations

from typing import Any

import pytest
from vertex_fake import FakeVertex, canonical
from vertex_providers import state

from mlopsctl.pulumi.vertex.client import VertexError
from mlopsctl.pulumi.vertex.monitor import ModelMonitorProvider, monitor_id

PARENT = "projects/acme/locations/us-central1"
MONITOR = f"{PARENT}/modelMonitors/fraud-drift"
PROVIDER = ModelMonitorProvider()


def inputs(**changes: Any) -> dict[str, Any]:
    return {
        "project": "acme",
        "location": "us-central1",
        "displayName": "fraud drift",
        "model": f"{PARENT}/models/acme-fraud@3",
        "trainingDataset": "bq://acme.fraud.train",
        "features": [{"name": "amount", "type": "float"}, {"name": "country", "type": "categorical"}],
        "skewThresholds": {"amount": 0.2},
        "driftThresholds": {},
        "defaultThreshold": 0.3,
        "schedule": "TZ=UTC 0 3 * * *",
        "window": "1d",
        "servingDataset": "bq://acme.fraud.requests",
        "notificationEmails": ["ml@acme.example"],
        "notificationChannels": ["projects/acme/notificationChannels/42"],
        **changes,
    }


def _schedules(fake: FakeVertex) -> dict[str, dict[str, Any]]:
    """Check → its schedule, by display name."""
    return {s["displayName"].rsplit("-", 1)[-1]: s for s in fake.schedules.values()}


def test_create_makes_the_monitor_and_a_schedule_for_each_check(fake: FakeVertex) -> None:
    created = PROVIDER.create(inputs())
    assert created.id == MONITOR and state(created)["name"] == MONITOR
    (create,) = [c for c in fake.calls if c.route == "create_monitor"]
    assert create.query["modelMonitorId"] == "fraud-drift"
    monitor = fake.monitors[canonical(MONITOR)]
    assert monitor["modelMonitoringTarget"] == {
        "vertexModel": {"model": f"{PARENT}/models/acme-fraud", "modelVersionId": "3"}
    }
    assert monitor["trainingDataset"]["columnizedDataset"]["bigquerySource"] == {
        "tableUri": "bq://acme.fraud.train"
    }
    assert monitor["modelMonitoringSchema"]["featureFields"][1] == {
        "name": "country",
        "dataType": "categorical",
    }
    assert monitor["notificationSpec"] == {
        "emailConfig": {"userEmails": ["ml@acme.example"]},
        "enableCloudLogging": True,
        "notificationChannelConfigs": [{"notificationChannel": "projects/acme/notificationChannels/42"}],
    }
    skew = monitor["tabularObjective"]["featureDriftSpec"]
    assert skew["featureAlertConditions"] == {"amount": {"threshold": 0.2}}
    assert skew["defaultNumericAlertCondition"] == {"threshold": 0.3}
    schedules = _schedules(fake)
    assert state(created)["scheduleNames"] == {check: s["name"] for check, s in schedules.items()}
    request = schedules["skew"]["createModelMonitoringJobRequest"]
    assert (schedules["skew"]["cron"], request["parent"]) == ("TZ=UTC 0 3 * * *", MONITOR)
    spec = request["modelMonitoringJob"]["modelMonitoringSpec"]["objectiveSpec"]
    assert (
        spec["baselineDataset"]["columnizedDataset"]["bigquerySource"]["tableUri"] == "bq://acme.fraud.train"
    )
    assert spec["targetDataset"]["columnizedDataset"] == {
        "bigquerySource": {"tableUri": "bq://acme.fraud.requests"},
        "timestampField": "timestamp",
    }
    assert spec["targetDataset"]["timeOffset"] == {"window": "1d"}
    drift = schedules["drift"]["createModelMonitoringJobRequest"]["modelMonitoringJob"]["modelMonitoringSpec"]
    assert drift["objectiveSpec"]["baselineDataset"]["timeOffset"] == {"offset": "1d", "window": "1d"}


def test_endpoint_logs_can_be_the_serving_data(fake: FakeVertex) -> None:
    endpoint = f"{PARENT}/endpoints/1234567890"
    PROVIDER.create(inputs(servingDataset=None, endpoints=[endpoint], skewThresholds=None))
    (drift,) = fake.schedules.values()
    spec = drift["createModelMonitoringJobRequest"]["modelMonitoringJob"]["modelMonitoringSpec"]
    assert spec["objectiveSpec"]["targetDataset"]["vertexEndpointLogs"] == {"endpoints": [endpoint]}


@pytest.mark.parametrize(
    ("changes", "replaces"),
    [
        ({}, None),
        ({"defaultThreshold": 0.25}, []),
        ({"skewThresholds": {"amount": 0.1}}, []),
        ({"driftThresholds": None}, []),
        ({"schedule": "0 6 * * *"}, []),
        ({"model": f"{PARENT}/models/acme-fraud@4"}, ["model"]),
        ({"displayName": "fraud monitor"}, ["displayName"]),
    ],
    ids=["same", "default-threshold", "threshold", "drop-a-check", "schedule", "model", "name"],
)
def test_diff_updates_settings_in_place_and_replaces_for_another_model_deleting_first(
    fake: FakeVertex, changes: dict[str, Any], replaces: list[str] | None
) -> None:
    created = PROVIDER.create(inputs())
    diff = PROVIDER.diff(created.id, state(created), inputs(**changes))
    assert diff.changes is (replaces is not None)
    assert (diff.replaces or None) == (replaces or None)
    assert diff.delete_before_replace is (True if replaces else None)


def test_an_update_keeps_unchanged_schedules_and_replaces_changed_ones(fake: FakeVertex) -> None:
    created = PROVIDER.create(inputs())
    before = _schedules(fake)
    done = len(fake.calls)
    updated = PROVIDER.update(created.id, state(created), inputs(driftThresholds={"country": 0.5}))
    assert fake.routes()[done:] == [
        "get_monitor",
        "update_monitor",
        "list_schedules",
        "create_schedule",
        "delete_schedule",
    ]
    after = _schedules(fake)
    assert after["skew"]["name"] == before["skew"]["name"]
    assert after["drift"]["name"] != before["drift"]["name"]
    assert state(updated)["scheduleNames"] == {"skew": after["skew"]["name"], "drift": after["drift"]["name"]}
    (patch,) = [c for c in fake.calls if c.route == "update_monitor"]
    assert patch.query["updateMask"].split(",") == [
        "trainingDataset",
        "modelMonitoringSchema",
        "tabularObjective",
        "notificationSpec",
        "outputSpec",
    ]


def test_without_a_schedule_the_monitor_has_none(fake: FakeVertex) -> None:
    created = PROVIDER.create(inputs())
    updated = PROVIDER.update(created.id, state(created), inputs(schedule=""))
    assert fake.schedules == {} and state(updated)["scheduleNames"] == {}


def test_an_interrupted_create_is_finished_on_the_next_attempt(fake: FakeVertex) -> None:
    fake.fail("create_schedule", "INVALID_ARGUMENT", "bad cron")
    with pytest.raises(
        VertexError, match=r"^schedule the skew check of .*fraud-drift: 400 INVALID_ARGUMENT: bad cron$"
    ):
        PROVIDER.create(inputs())
    created = PROVIDER.create(inputs())
    assert fake.routes("create_monitor", "update_monitor") == ["create_monitor", "update_monitor"]
    assert sorted(state(created)["scheduleNames"]) == ["drift", "skew"] and len(fake.schedules) == 2


def test_delete_removes_the_monitor_with_its_schedules_and_is_done_when_gone(fake: FakeVertex) -> None:
    created = PROVIDER.create(inputs())
    PROVIDER.delete(created.id, state(created))
    assert fake.monitors == {} and fake.schedules == {}
    PROVIDER.delete(created.id, state(created))
    assert [c.query.get("force") for c in fake.calls if c.route == "delete_monitor"] == ["true", "true"]


@pytest.mark.parametrize(
    ("changes", "failure"),
    [
        ({}, None),
        ({"skewThresholds": {"amont": 0.2}}, ("skewThresholds.amont", "not one of the features")),
        ({"driftThresholds": {"amount": 0.0}}, ("driftThresholds.amount", "expected a threshold above 0")),
        (
            {"features": [{"name": "amount", "type": "double"}]},
            ("features[0].type", "'double' is not one of"),
        ),
        (
            {"features": [{"name": "amount"}], "skewThresholds": None},
            ("features[0]", "expected {name, type}"),
        ),
        ({"servingDataset": None}, ("schedule", "needs exactly one of servingDataset and endpoints")),
        (
            {"endpoints": ["projects/acme/locations/us-central1/endpoints/1"]},
            ("schedule", "needs exactly one"),
        ),
        ({"skewThresholds": None, "driftThresholds": None}, ("schedule", "nothing to run")),
        ({"window": "1 day"}, ("window", "'1 day': a number and w, d or h")),
        ({"trainingDataset": "acme.fraud.train"}, ("trainingDataset", "expected bq://")),
        ({"model": f"{PARENT}/models/acme-fraud"}, ("model", "expected a model version's name")),
        ({"skewThresholds": None, "driftThresholds": None, "schedule": ""}, None),
    ],
    ids=[
        "valid",
        "threshold-feature",
        "threshold-value",
        "data-type",
        "feature-shape",
        "no-serving-data",
        "two-serving-data",
        "no-check",
        "window",
        "training-data",
        "model-without-version",
        "monitor-only",
    ],
)
def test_check_reports_each_bad_input_by_name(
    changes: dict[str, Any], failure: tuple[str, str] | None
) -> None:
    found = PROVIDER.check({}, inputs(**changes)).failures
    width = len(failure[1]) if failure else 0
    assert [(f.property, f.reason[:width]) for f in found] == ([failure] if failure else [])


@pytest.mark.parametrize(
    ("display_name", "expected"),
    [
        ("fraud drift", "fraud-drift"),
        ("Fraud / Drift (v2)", "fraud-drift-v2"),
        ("2024 fraud", "m-2024-fraud"),
    ],
)
def test_the_monitor_id_comes_from_the_display_name(display_name: str, expected: str) -> None:
    assert monitor_id(display_name) == expected
    assert monitor_id("x" * 70 + "-y").endswith("x") and len(monitor_id("x" * 70)) == 63


def test_a_customer_managed_key_encrypts_the_monitor_and_another_replaces_it(fake: FakeVertex) -> None:
    key = "projects/acme/locations/us-central1/keyRings/acme-prod/cryptoKeys/data"
    PROVIDER.create(inputs(kmsKeyName=key))
    assert fake.monitors[canonical(MONITOR)]["encryptionSpec"] == {"kmsKeyName": key}
    old = PROVIDER.check({}, inputs(kmsKeyName=key)).inputs
    new = PROVIDER.check({}, inputs(kmsKeyName=f"{key}-2")).inputs
    assert "kmsKeyName" in (PROVIDER.diff(MONITOR, {**old, "name": MONITOR}, new).replaces or [])
