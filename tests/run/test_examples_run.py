"""Every bundled example runs on this machine, through the specs that go to the cluster.

Each drift monitor runs with ``--act`` on the example's drifted request logs: its breach
starts the retraining pipeline, which ingests, trains, evaluates and pushes. So one run shows
the declared closed loop and runs the example's pipeline end to end. Pipelines no monitor
retrains (batch jobs) run on their own, and the remaining monitors run without acting. The
digits example's ``vertex`` environment places its pipeline on Vertex AI: its monitor retrains it
from the published template. Tracked steps (sensor-anomaly's) log nothing to Vertex AI locally.
"""

from __future__ import annotations

import json
import pathlib

import pytest
from conftest import ROOT
from helpers import run

PROJECTS = ROOT / "examples" / "projects"


def _run(tmp_path: pathlib.Path, example: str, *args: str, env: str = "dev") -> tuple[dict[str, object], str]:
    config = PROJECTS / example / "mlops.yaml"
    code, out, err = run("run", *args, config, "--env", env, "--local", "--out", tmp_path, "-f", "json")
    assert code == 0, err[-3000:]
    result: dict[str, object] = json.loads(out)
    return result, err


def _statuses(result: object) -> dict[str, str]:
    assert isinstance(result, dict)
    return {step: outcome["status"] for step, outcome in result["steps"].items()}


@pytest.mark.parametrize(
    ("example", "env", "monitor", "pipeline", "steps", "tracked"),
    [
        ("digits", "dev", "digits-drift", "train", ["ingest", "train", "evaluate", "push"], False),
        ("digits", "vertex", "digits-drift", "train", ["ingest", "train", "evaluate", "push"], False),
        (
            "fraud-tpu",
            "dev",
            "scorer-drift",
            "train",
            ["ingest", "transform", "train", "evaluate", "push"],
            False,
        ),
        (
            "sensor-anomaly",
            "dev",
            "readings-drift",
            "anomaly",
            ["ingest", "statistics", "schema", "validate", "transform", "tune", "train", "evaluate", "push"],
            True,
        ),
    ],
)
def test_drift_retrains_evaluates_and_pushes(
    tmp_path: pathlib.Path,
    example: str,
    env: str,
    monitor: str,
    pipeline: str,
    steps: list[str],
    tracked: bool,
) -> None:
    result, err = _run(tmp_path, example, monitor, "--act", env=env)
    assert ("tracking is off in local runs" in err) is tracked
    assert "metrics not logged" not in err
    assert result["breached"] is True
    actions = result["actions"]
    assert isinstance(actions, list)
    assert [a["done"] for a in actions if a["type"] == "retrain"] == [True]
    runs = result["runs"]
    assert isinstance(runs, dict) and set(runs) == {pipeline}
    assert _statuses(runs[pipeline]) == dict.fromkeys(steps, "succeeded")
    pushed = list((tmp_path / "data" / "gcs").glob("*-models/*/*/_PUSHED"))
    assert len(pushed) == 1, "the blessed model is in the registry"


def test_the_batch_job_scores_through_its_endpoint(tmp_path: pathlib.Path) -> None:
    result, _ = _run(tmp_path, "sensor-anomaly", "daily-scores")
    assert _statuses(result) == {"batch-predict": "succeeded"}
    assert list((tmp_path / "data" / "gcs").glob("*-scores/daily/*.parquet"))


def test_the_skew_monitor_reports_without_acting(tmp_path: pathlib.Path) -> None:
    result, _ = _run(tmp_path, "sensor-anomaly", "readings-skew")
    features = result["features"]
    assert isinstance(features, dict) and features
    assert result["breached"] is True and not result.get("runs")
