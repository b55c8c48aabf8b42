"""``mlopsctl run MONITOR --local`` of a drift or skew monitor placed on Vertex AI: the stage runtime's job,
configured from the compiled ModelMonitor, reads the endpoint's Vertex AI request-response log (sample data
of the logging dataset) over the compiled window; ``--act`` runs what the compiled retraining chain starts.
Expected distances are recomputed here with numpy and scipy."""

from __future__ import annotations

import json
import pathlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_helpers import monitor_run
from drift_reference import instances, jsd, l_infinity
from helpers import compile_text, run
from run_projects import HEAD, LOGGED_SCORER, NOTE, RETRAIN, jsonl, project

from mlopsctl.compiler.vertex_models import DEPLOYMENT, MODEL_MONITOR
from mlopsctl.run.errors import RunError
from mlopsctl.run.result import PipelineResult, StepResult
from mlopsctl.run.vertex_monitor import resolved

CONFIG = (
    HEAD
    + LOGGED_SCORER
    + RETRAIN
    + """\
monitors:
  scorer-watch:
    type: TYPE
    endpoint: scorer
    baseline: {dataset: serving, table: training}
    features:
      amount: {kind: numeric, threshold: 0.1}
      country: {kind: categorical, threshold: 0.2}
    schedule: {cron: "0 * * * *"}
    window: 2h
    actions:
      notify: [team]
      retrain: retrain
      retrainParameters: {reason: TYPE}
alertChannels:
  team: {type: email, address: team@example.com}
placement: {endpoints: vertex, monitors: vertex, pipelines: PIPELINES}
"""
)
END = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
REGION = "us-central1"


def deployed_ids(config: pathlib.Path) -> dict[str, str]:
    """The compiled id of each variant's deployed model on endpoint scorer, by variant."""
    [graph] = [g for t, g in compile_text(config.parent, config.read_text()).items() if t.region == REGION]
    [deployment] = graph.of_type(DEPLOYMENT)
    return {str(e["key"]): str(e["id"]) for e in deployment.inputs["deployedModels"]}


def logged(found: list[dict[str, Any]], end: datetime, form: str, deployed: str) -> list[dict[str, object]]:
    """Vertex AI's log rows of deployed model ``deployed``, one a minute back from ``end``: instances
    as objects or as arrays in the compiled feature order (amount, country)."""
    return [
        {
            "endpoint": "projects/123/locations/us-central1/endpoints/741610339",
            "deployed_model_id": deployed,
            "logging_time": (end - timedelta(minutes=i)).isoformat(),
            "request_id": i,
            "request_payload": [json.dumps(x if form == "object" else [x["amount"], x["country"]])],
            "response_payload": ["0.5"],
        }
        for i, x in enumerate(found)
    ]


def monitored(
    folder: pathlib.Path, kind: str, form: str, *, drifts: bool, pipelines: str = "gke"
) -> tuple[pathlib.Path, list[dict[str, Any]], list[dict[str, Any]]]:
    """The project and its sample data: the training table, and two windows of 2 hours of logged
    requests (the later drifting or not); returns (config, served instances, their baseline)."""
    text = CONFIG.replace("TYPE", kind).replace("PIPELINES", pipelines)
    config = project(folder, text, NOTE)
    main = deployed_ids(config)["main"]
    tables = folder / "sample-data" / "datasets" / "serving"
    training = instances(300, 10.0, seed=1)
    jsonl(tables / "training.jsonl", training)
    served = instances(120, 16.0 if drifts else 10.0, seed=2, lean=drifts)
    earlier = instances(120, 10.0, seed=3)
    # [END - 2h, END] is the window (it ends at the newest request); [END - 4h, END - 2h) the one before.
    jsonl(
        tables / "scorer_requests.jsonl",
        logged(served, END, form, main) + logged(earlier, END - timedelta(minutes=121), form, main),
    )
    return config, served, earlier if kind == "drift" else training


@pytest.mark.parametrize("form", ["object", "array"])
@pytest.mark.parametrize("kind", ["drift", "skew"])
@pytest.mark.parametrize("drifts", [False, True])
def test_the_model_monitor_runs_on_the_sample_data(
    tmp_path: pathlib.Path, kind: str, form: str, drifts: bool
) -> None:
    config, served, baseline = monitored(tmp_path, kind, form, drifts=drifts)
    result = monitor_run(config, "scorer-watch", tmp_path / "out")
    assert result.ok and result.failure is None

    amount, country = result.features["amount"], result.features["country"]
    expected = jsd([x["amount"] for x in served], [x["amount"] for x in baseline])
    assert amount.distance == pytest.approx(expected, rel=1e-9)
    expected = l_infinity([x["country"] for x in served], [x["country"] for x in baseline])
    assert country.distance == pytest.approx(expected, rel=1e-9)
    assert (amount.kind, amount.threshold, country.kind, country.threshold) == (
        "numeric",
        0.1,
        "categorical",
        0.2,
    )
    assert (result.breached, amount.breach, country.breach) == (drifts, drifts, drifts)
    assert result.runs == {}
    if not drifts:
        assert result.actions == []
        return
    [notify, retrain] = result.actions
    assert notify == {"type": "notify", "event": f"{kind}-breach", "channels": ["team"], "done": False}
    version = retrain.pop("pipelineVersion")
    assert retrain == {"type": "retrain", "pipeline": "retrain", "done": False}
    assert isinstance(version, str) and version.startswith("retrain-")  # the PipelineVersion it runs


CANARY = """\
    rollout: {strategy: canary, baseline: main, candidate: next, steps: [10, 50, 100]}
"""


@pytest.mark.parametrize("kind", ["drift", "skew"])
def test_only_the_monitored_versions_requests_count(tmp_path: pathlib.Path, kind: str) -> None:
    """A canary's requests are in the endpoint's log too, under its own deployed model id; Model
    Monitoring monitors the version served as ``default``, so they do not count, drifting as they may."""
    text = CONFIG.replace("TYPE", kind).replace("PIPELINES", "gke")
    text = text.replace(
        "        artifactUri: gs://demo-${env}-${region}-models/scorer/v1\n",
        (
            "        artifactUri: gs://demo-${env}-${region}-models/scorer/v1\n"
            "      v2:\n"
            "        artifactUri: gs://demo-${env}-${region}-models/scorer/v2\n"
        ),
    )
    text = text.replace(
        "      main: {model: scorer, version: v1}\n",
        "      main: {model: scorer, version: v1}\n      next: {model: scorer, version: v2}\n" + CANARY,
    )
    config = project(tmp_path, text, NOTE)
    ids = deployed_ids(config)
    assert ids["main"] != ids["next"] and all(len(i) == 10 and i.isdigit() for i in ids.values())
    tables = tmp_path / "sample-data" / "datasets" / "serving"
    training, served = instances(300, 10.0, seed=1), instances(60, 10.0, seed=2)
    tried, earlier = instances(60, 16.0, seed=4, lean=True), instances(60, 10.0, seed=3)
    jsonl(tables / "training.jsonl", training)
    rows = logged(served, END, "object", ids["main"]) + logged(tried, END, "object", ids["next"])
    rows += logged(earlier, END - timedelta(minutes=121), "object", ids["main"])
    jsonl(tables / "scorer_requests.jsonl", rows)

    result = monitor_run(config, "scorer-watch", tmp_path / "out")
    assert result.ok, result
    baseline = earlier if kind == "drift" else training
    expected = jsd([x["amount"] for x in served], [x["amount"] for x in baseline])
    assert result.features["amount"].distance == pytest.approx(expected, rel=1e-9)
    assert result.breached is False
    _, _, stderr = run("run", "scorer-watch", config, "-e", "dev", "--local", "-o", tmp_path / "cli")
    assert "60 of 120 requests from " in stderr
    assert f"than the monitored version's (deployed_model_id {ids['main']}), and do not count" in stderr

    # The same requests all answered by the monitored version breach.
    rows = [{**row, "deployed_model_id": ids["main"]} for row in rows]
    jsonl(tables / "scorer_requests.jsonl", rows)
    assert monitor_run(config, "scorer-watch", tmp_path / "again").breached is True


@pytest.mark.parametrize("pipelines", ["gke", "vertex"])
def test_act_runs_what_the_retraining_chain_starts(tmp_path: pathlib.Path, pipelines: str) -> None:
    """Pipelines on GKE: the retrain receiver's start-run config of the monitor's subscription; on
    Vertex AI: the PipelineJob of the workflow that the topic's Eventarc trigger executes."""
    config, _, _ = monitored(tmp_path, "drift", "object", drifts=True, pipelines=pipelines)
    result = monitor_run(config, "scorer-watch", tmp_path / "out", act=True)
    assert result.ok, result
    assert result.runs == {
        "retrain": PipelineResult(
            "retrain", {"note": StepResult("succeeded", {"said": "retrained for drift"})}
        )
    }
    [_, retrain] = result.actions
    assert (retrain["pipeline"], retrain["done"]) == ("retrain", True)
    version = str(retrain["pipelineVersion"])
    if pipelines == "vertex":
        assert version.startswith("gs://demo-dev-us-central1-pipeline-root/pipelines/retrain/"), version
    else:
        assert version.startswith("retrain-"), version


def test_act_without_a_breach_runs_nothing(tmp_path: pathlib.Path) -> None:
    config, _, _ = monitored(tmp_path, "skew", "array", drifts=False)
    result = monitor_run(config, "scorer-watch", tmp_path / "out", act=True)
    assert (result.ok, result.breached, result.actions, result.runs) == (True, False, [], {})


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [{"timestamp": "2025-06-02T12:00:00Z", "request_id": "r1", "request": "{}", "response": "{}"}],
            "has no column 'logging_time'",
        ),
        (
            [
                {
                    "logging_time": "2025-06-02T12:00:00Z",
                    "deployed_model_id": "1",
                    "request_payload": '{"amount": 1.0}',
                }
            ],
            "request_payload holds string, not lists of JSON texts",
        ),
    ],
)
def test_a_request_log_in_another_form_fails_the_monitor_saying_why(
    tmp_path: pathlib.Path, rows: list[dict[str, object]], message: str
) -> None:
    config, _, _ = monitored(tmp_path, "drift", "object", drifts=True)
    jsonl(tmp_path / "sample-data" / "datasets" / "serving" / "scorer_requests.jsonl", rows)
    result = monitor_run(config, "scorer-watch", tmp_path / "out")
    assert not result.ok and result.features == {}
    assert result.failure is not None
    table = "acme-demo-dev.serving_dev_us_central1.scorer_requests"
    assert result.failure.startswith(f"exit code 1: mlopsctl-stage drift: serving.table ({table}): "), result
    assert message in result.failure
    assert "Vertex AI's request-response log" in result.failure

    code, stdout, _ = run("run", "scorer-watch", config, "-e", "dev", "--local", "-o", tmp_path / "cli")
    assert code == 1 and stdout.startswith("monitor scorer-watch failed: exit code 1: ")


def test_cli_prints_the_result_as_one_json_document(tmp_path: pathlib.Path) -> None:
    config, _, _ = monitored(tmp_path, "skew", "object", drifts=True)
    code, stdout, stderr = run(
        "run", "scorer-watch", config, "-e", "dev", "--local", "-o", tmp_path / "out", "-f", "json"
    )
    assert code == 0, stderr
    found = json.loads(stdout)
    assert (found["monitor"], found["breached"], sorted(found["features"])) == (
        "scorer-watch",
        True,
        ["amount", "country"],
    )
    assert [a["type"] for a in found["actions"]] == ["notify", "retrain"]
    assert "[scorer-watch] skew monitor scorer-watch: 120 requests" in stderr


def test_a_value_known_only_after_apply_is_refused(tmp_path: pathlib.Path) -> None:
    config, _, _ = monitored(tmp_path, "drift", "object", drifts=False)
    [graph] = [g for t, g in compile_text(tmp_path, config.read_text()).items() if t.region == "us-central1"]
    [monitor] = graph.of_type(MODEL_MONITOR)
    endpoint = resolved(graph, monitor.inputs["endpoints"], "monitor")
    assert endpoint == ["projects/acme-demo-dev/locations/us-central1/endpoints/741610339"]
    with pytest.raises(
        RunError, match=r"monitor: the name of .*ModelVersion/scorer@v1 is known only after apply"
    ):
        resolved(graph, monitor.inputs["model"], "monitor")
