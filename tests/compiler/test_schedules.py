"""Schedules and new-data triggers: the CronJobs that start pipeline runs, and what they run."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
from helpers import MINIMAL
from schedule_cases import (
    BATCH,
    CRONJOB,
    DEV,
    KFP_API,
    PIPELINE,
    PROD_EU,
    PROD_US,
    _config,
    _cronjobs,
    _example,
    _graphs,
    _pod,
    _run_config,
    _schedule,
    _triggered,
    _version,
)
from upstream_schemas import UpstreamSchemas

from mlopsctl.config.models.root import DEFAULT_STAGE_IMAGE
from mlopsctl.plan import diff_target
from mlopsctl.plan.diff import REPLACE, UPDATE
from mlopsctl.state import state_from_graph


def test_digits_weekly_schedule() -> None:
    graph = _example("digits")[PROD_US]
    cronjob = _cronjobs(graph)["train-schedule"]
    assert _schedule(cronjob) == ("0 4 * * 1", "America/Chicago", "Forbid")
    assert _run_config(cronjob) == {
        "endpoint": KFP_API,
        "namespace": "digits",
        "pipeline": "train",
        "pipelineVersion": _version(graph, "train").name,
        "experiment": "train",
        "parameters": {"epochs": 20, "batch_size": 256},
        "serviceAccount": "pipeline-train-prod-usc1",
    }
    pod = _pod(cronjob)
    assert pod["serviceAccountName"] == "pipeline-train-prod-usc1"
    assert pod["containers"][0]["image"] == "us-docker.pkg.dev/acme-vision/digits/stages:1.4.2"
    spec = cronjob.inputs["spec"]
    assert (spec["startingDeadlineSeconds"], spec["jobTemplate"]["spec"]["backoffLimit"]) == (300, 2)
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 3)


def test_sensor_anomaly_schedule_trigger_and_batch_job() -> None:
    graph = _example("sensor-anomaly")[PROD_EU]
    cronjobs = _cronjobs(graph)
    [trigger] = [name for name in cronjobs if name.startswith("anomaly-on-landing-")]
    expected = ["anomaly-schedule", trigger, "batch-daily-scores-schedule", "sensor-profile-schedule"]
    assert sorted(cronjobs) == sorted(expected)
    assert _schedule(cronjobs["anomaly-schedule"]) == ("0 2 * * 1", "Europe/Brussels", "Forbid")
    assert _schedule(cronjobs["sensor-profile-schedule"]) == ("30 5 * * *", "UTC", "Forbid")
    assert _schedule(cronjobs[trigger]) == ("*/10 * * * *", "Etc/UTC", "Forbid")
    assert _run_config(cronjobs[trigger])["whenNewData"] == {
        "gcs": "gs://sensors-prod-europe-west1-landing/gateway-exports/"
    }
    batch = cronjobs["batch-daily-scores-schedule"]
    assert _schedule(batch) == ("30 5 * * *", "Europe/Brussels", "Forbid")
    config = _run_config(batch)
    assert (config["pipeline"], config["pipelineVersion"]) == (
        "batch-daily-scores",
        _version(graph, "batch-daily-scores").name,
    )
    assert config["serviceAccount"] == _pod(batch)["serviceAccountName"] == "batch-daily-scores-prod-euw1"


def test_pipeline_steps_run_outside_the_mesh() -> None:
    spec = _version(_example("sensor-anomaly")[PROD_EU], "anomaly").inputs["spec"]
    executors = spec["platformSpec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert executors and not any("podMetadata" in e for e in executors.values())


def test_schedule_parameters_overlay_pipeline_parameters(tmp_path: pathlib.Path) -> None:
    graph = _graphs(tmp_path, _config(PIPELINE))[DEV]
    cronjob = _cronjobs(graph)["train-schedule"]
    assert _run_config(cronjob)["parameters"] == {"epochs": 20, "region": "us", "fast": True}
    assert _schedule(cronjob) == ("0 3 * * *", "Etc/UTC", "Replace")


def test_changed_pipeline_changes_the_version_the_cronjob_starts(tmp_path: pathlib.Path) -> None:
    before = _graphs(tmp_path / "a", _config(PIPELINE))[DEV]
    after = _graphs(tmp_path / "b", _config(PIPELINE.replace("trainer:1", "trainer:2")))[DEV]
    old, new = (
        _run_config(_cronjobs(before)["train-schedule"]),
        _run_config(_cronjobs(after)["train-schedule"]),
    )
    assert old["pipelineVersion"] != new["pipelineVersion"] == _version(after, "train").name
    state = state_from_graph(before, project="demo", source_commit=None, config_hash="x")
    changes = {c.address: c.actions for c in diff_target(DEV, after, state).changes}
    assert changes[_cronjobs(after)["train-schedule"].address] == UPDATE
    assert changes[_version(after, "train").address] == ("create",)
    assert changes[_version(before, "train").address] == ("delete",)
    assert REPLACE not in changes.values()


@pytest.mark.parametrize(
    ("trigger", "name_prefix", "watched"),
    [
        (
            "{bucket: raw, prefix: drops/}",
            "train-on-raw-",
            {"gcs": "gs://demo-dev-us-central1-raw/drops/"},
        ),
        ("{bucket: raw}", "train-on-raw-", {"gcs": "gs://demo-dev-us-central1-raw/"}),
        (
            "{dataset: features, table: events}",
            "train-on-features-",
            {"bigquery": {"table": "acme-demo-dev.features_dev_us_central1.events"}},
        ),
        (
            "{dataset: features}",
            "train-on-features-",
            {"bigquery": {"dataset": "acme-demo-dev.features_dev_us_central1"}},
        ),
    ],
)
def test_new_data_trigger_polls(
    tmp_path: pathlib.Path, trigger: str, name_prefix: str, watched: dict[str, Any]
) -> None:
    text = _config(_triggered(f"newData: {trigger}"))
    cronjobs = _cronjobs(_graphs(tmp_path, text)[DEV])
    [name] = [n for n in cronjobs if n != "train-schedule"]
    assert name.startswith(name_prefix) and len(name) == len(name_prefix) + 6
    config = _run_config(cronjobs[name])
    assert config["whenNewData"] == watched
    assert config["parameters"] == {"epochs": 10, "region": "us", "fast": False}
    assert _schedule(cronjobs[name]) == ("*/10 * * * *", "Etc/UTC", "Forbid")


def test_triggers_on_one_bucket_get_their_own_cronjobs(tmp_path: pathlib.Path) -> None:
    text = _config(_triggered("newData: {bucket: raw, prefix: a/}", "newData: {bucket: raw, prefix: b/}"))
    graph = _graphs(tmp_path, text)[DEV]
    watched = sorted(_run_config(c).get("whenNewData", {}).get("gcs", "") for c in _cronjobs(graph).values())
    assert watched == ["", "gs://demo-dev-us-central1-raw/a/", "gs://demo-dev-us-central1-raw/b/"]


def test_monitor_triggers_are_left_to_monitors(tmp_path: pathlib.Path) -> None:
    monitor = """\
endpoints:
  api: {variants: {main: {model: m, version: v1}}}
models:
  m: {framework: sklearn, versions: {v1: {artifactUri: "gs://models/m/v1"}}}
monitors:
  up: {type: availability, endpoint: api, objective: 99.9, actions: {retrain: train}}
"""
    text = _config(_triggered("monitor: up"), monitor)
    assert sorted(_cronjobs(_graphs(tmp_path, text)[DEV])) == ["train-schedule"]


SHARED = """\
security:
  serviceAccounts:
    runner: {description: runs both pipelines}
pipelines:
  a:
    serviceAccount: runner
    steps: {s: {image: "x:1", command: [run]}}
    schedule: {cron: "0 1 * * *"}
  b:
    serviceAccount: runner
    steps: {s: {image: "x:1", command: [run]}}
    schedule: {cron: "0 2 * * *"}
"""


def test_shared_account_gets_one_role_of_each_kind_and_the_cronjobs_depend_on_them(
    tmp_path: pathlib.Path,
) -> None:
    graph = _graphs(tmp_path, _config(SHARED))[DEV]
    ksa = "account-runner-dev-usc1"
    roles = {r.name: r for r in graph if r.type.endswith(":Role")}
    bindings = {r.name: r for r in graph if r.type.endswith(":RoleBinding")}
    assert sorted(roles) == sorted(bindings) == [f"{ksa}-run-steps", f"{ksa}-runs"]
    for name, binding in bindings.items():
        assert binding.inputs["subjects"] == [{"kind": "ServiceAccount", "name": ksa, "namespace": "demo"}]
        assert binding.inputs["roleRef"]["name"] == name
        assert roles[name].inputs["metadata"]["namespace"] == "demo"
    assert {
        "apiGroups": ["pipelines.kubeflow.org"],
        "resources": ["runs"],
        "verbs": ["create"],
    } in roles[f"{ksa}-runs"].inputs["rules"]
    for cronjob in _cronjobs(graph).values():
        assert _pod(cronjob)["serviceAccountName"] == ksa
        assert set(cronjob.depends_on) == {
            "dev/us-central1/kubernetes:core/v1:Namespace/demo",
            f"dev/us-central1/kubernetes:core/v1:ServiceAccount/{ksa}",
            _version(graph, cronjob.name.removesuffix("-schedule")).address,
            *(b.address for b in bindings.values()),
        }


def test_every_object_is_valid_upstream_and_restricted(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas
) -> None:
    text = _config(_triggered("newData: {bucket: raw}"))
    graph = _graphs(
        tmp_path,
        text + BATCH.replace("    nodePool: cpu\n", "    nodePool: cpu\n    schedule: {cron: '0 1 * * *'}\n"),
    )[DEV]
    objects = [r for r in graph if r.type.split(":")[1] in ("batch/v1", "rbac.authorization.k8s.io/v1")]
    assert len(objects) == 3 + 2 * 2 * 2  # CronJobs; per account, two Roles and their RoleBindings
    for resource in objects:
        assert upstream_schemas.validate(dict(resource.inputs)) == [], resource.address
        assert resource.inputs["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "mlopsctl"
    for cronjob in _cronjobs(graph).values():
        pod = _pod(cronjob)
        assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
        [container] = pod["containers"]
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["resources"]["requests"] == {"cpu": "100m", "memory": "128Mi"}


@pytest.mark.parametrize("sections", [PIPELINE, _triggered("newData: {bucket: raw}")])
def test_runs_start_from_the_release_image_by_default(tmp_path: pathlib.Path, sections: str) -> None:
    for graph in _graphs(tmp_path, _config(sections, stage=False)).values():
        cronjobs = _cronjobs(graph).values()
        assert cronjobs and {_pod(c)["containers"][0]["image"] for c in cronjobs} == {DEFAULT_STAGE_IMAGE}


def test_minimal_config_has_no_runs(tmp_path: pathlib.Path) -> None:
    graph = _graphs(tmp_path, MINIMAL)[DEV]
    assert [r for r in graph if r.type == CRONJOB or r.type.startswith("kubernetes:rbac")] == []
