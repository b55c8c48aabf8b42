"""Every bundled example runs on this machine, through the specs that go to the cluster.

Each drift monitor runs with ``--act`` on the example's drifted request logs: its breach
starts the retraining pipeline, which ingests, trains, evaluates and pushes. So one run shows
the declared closed loop and runs the example's pipeline end to end. Pipelines no monitor
retrains (batch jobs) run on their own, and the remaining monitors run without acting. The
digits example's ``vertex`` environment places its pipeline on Vertex AI: its monitor retrains it
from the published template. The sensor-anomaly example's ``vertex`` environment places its endpoint
and monitors on Vertex AI: its drift monitor runs from the compiled ModelMonitor over Vertex AI's
request-response log and retrains the pipeline in the cluster through the retraining chain. Tracked
steps (sensor-anomaly's) log nothing to Vertex AI locally.
"""

from __future__ import annotations

import pathlib

import pytest
from api_helpers import monitor_run, pipeline_run, statuses
from conftest import ROOT

PROJECTS = ROOT / "examples" / "projects"


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
        *(
            (
                "sensor-anomaly",
                env,
                "readings-drift",
                "anomaly",
                [
                    "ingest",
                    "statistics",
                    "schema",
                    "validate",
                    "transform",
                    "tune",
                    "train",
                    "evaluate",
                    "push",
                ],
                True,
            )
            for env in ("dev", "vertex")
        ),
    ],
)
def test_drift_retrains_evaluates_and_pushes(
    tmp_path: pathlib.Path,
    capsys: pytest.CaptureFixture[str],
    example: str,
    env: str,
    monitor: str,
    pipeline: str,
    steps: list[str],
    tracked: bool,
) -> None:
    config = PROJECTS / example / "mlops.yaml"
    result = monitor_run(config, monitor, tmp_path, env=env, act=True)
    err = capsys.readouterr().err
    assert result.ok, err[-3000:]
    assert ("tracking is off in local runs" in err) is tracked
    assert "metrics not logged" not in err
    assert result.breached is True
    assert [a["done"] for a in result.actions if a["type"] == "retrain"] == [True]
    assert set(result.runs) == {pipeline}
    assert statuses(result.runs[pipeline]) == dict.fromkeys(steps, "succeeded")
    pushed = list((tmp_path / "data" / "gcs").glob("*-models/*/*/_PUSHED"))
    assert len(pushed) == 1, "the blessed model is in the registry"


def test_the_batch_job_scores_through_its_endpoint(tmp_path: pathlib.Path) -> None:
    result = pipeline_run(PROJECTS / "sensor-anomaly" / "mlops.yaml", "daily-scores", tmp_path)
    assert statuses(result) == {"batch-predict": "succeeded"}
    assert list((tmp_path / "data" / "gcs").glob("*-scores/daily/*.parquet"))


@pytest.mark.parametrize("env", ["dev", "vertex"])
def test_the_skew_monitor_reports_without_acting(tmp_path: pathlib.Path, env: str) -> None:
    result = monitor_run(PROJECTS / "sensor-anomaly" / "mlops.yaml", "readings-skew", tmp_path, env=env)
    assert result.ok and result.features
    assert result.breached is True and not result.runs
