"""``mlopsctl run MONITOR --local``: the compiled CronJob's container, dry-run, and retraining with --act."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from helpers import run
from run_projects import HEAD, SCORER, drift_tables, project

MONITORED = (
    HEAD
    + """\
data:
  buckets:
    models: {}
  datasets:
    serving: {}
"""
    + SCORER
    + """\
    logging:
      dataset: serving
pipelines:
  retrain:
    parameters:
      reason: scheduled
    steps:
      note:
        image: reg/demo:1
        code: code
        command: [python, note.py]
        inputs:
          reason: params.reason
        outputs:
          said: string
monitors:
  amount-drift:
    type: drift
    endpoint: scorer
    baseline:
      dataset: serving
      table: baseline
    features:
      amount: {kind: numeric, threshold: 0.1}
      country: {kind: categorical}
    schedule:
      cron: "0 * * * *"
    actions:
      notify: [team]
      retrain: retrain
      retrainParameters:
        reason: drift
  latency:
    type: latency
    endpoint: scorer
    objective: 100
alertChannels:
  team:
    type: email
    address: team@example.com
"""
)
NOTE = {
    "note.py": """\
        import argparse, pathlib
        p = argparse.ArgumentParser()
        p.add_argument("--reason")
        p.add_argument("--said")
        a = p.parse_args()
        pathlib.Path(a.said).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(a.said).write_text(f"retrained for {a.reason}")
    """
}


def _monitored(folder: pathlib.Path, serving_mean: float) -> pathlib.Path:
    """The project, with requests whose amounts are around ``serving_mean`` (the baseline's: 10)."""
    config = project(folder, MONITORED, NOTE)
    drift_tables(folder, serving_mean)
    return config


def _run(config: pathlib.Path, out: pathlib.Path, *args: str) -> tuple[int, dict[str, Any], str]:
    code, stdout, stderr = run(
        "run", "amount-drift", config, "-e", "dev", "--local", "-o", out, "-f", "json", *args
    )
    return code, json.loads(stdout), stderr


def test_dry_run_reports_distances_and_the_actions_it_would_take(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "out"
    code, result, stderr = _run(_monitored(tmp_path, serving_mean=30), out)
    assert code == 0, stderr
    features = result.pop("features")
    version = result["actions"][1].pop("pipelineVersion")
    assert version.startswith("retrain-")
    assert features["amount"] == {"kind": "numeric", "distance": 1.0, "threshold": 0.1, "breach": True}
    assert features["country"]["breach"] is False
    assert features["country"]["threshold"] == 0.1
    assert result == {
        "monitor": "amount-drift",
        "breached": True,
        "actions": [
            {"type": "notify", "event": "drift-breach", "channels": ["team"], "done": False},
            {"type": "retrain", "pipeline": "retrain", "done": False},
        ],
        "runs": {},
    }
    # A dry run writes no rows: the statistics and alerts tables are not there.
    assert sorted(p.name for p in (out / "data" / "bigquery").iterdir()) == [
        "acme-demo-dev.serving_dev_us_central1.baseline.jsonl",
        "acme-demo-dev.serving_dev_us_central1.scorer_requests.jsonl",
    ]
    assert "[amount-drift] drift monitor amount-drift: 200 requests" in stderr


def test_act_runs_the_retraining_pipeline_with_its_parameters(tmp_path: pathlib.Path) -> None:
    code, result, stderr = _run(_monitored(tmp_path, serving_mean=30), tmp_path / "out", "--act")
    assert code == 0, stderr
    assert [(a["type"], a["done"]) for a in result["actions"]] == [("notify", False), ("retrain", True)]
    assert result["runs"] == {
        "retrain": {
            "pipeline": "retrain",
            "steps": {"note": {"status": "succeeded", "outputs": {"said": "retrained for drift"}}},
        }
    }


def test_no_breach_no_retraining(tmp_path: pathlib.Path) -> None:
    code, result, stderr = _run(_monitored(tmp_path, serving_mean=10), tmp_path / "out", "--act")
    assert code == 0, stderr
    assert (result["breached"], result["actions"], result["runs"]) == (False, [], {})


def test_a_failing_monitor_fails_the_run(tmp_path: pathlib.Path) -> None:
    config = _monitored(tmp_path, serving_mean=30)
    (tmp_path / "sample-data" / "datasets" / "serving" / "baseline.jsonl").unlink()
    code, stdout, _ = run("run", "amount-drift", config, "-e", "dev", "--local", "-o", tmp_path / "out")
    assert code == 1
    assert stdout.startswith("monitor amount-drift failed: exit code 1: ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("latency",), "error: monitor latency is an SLO monitor"),
        (("amount-drift", "--param", "reason=x"), "error: --param is for pipelines"),
    ],
)
def test_refused(tmp_path: pathlib.Path, args: tuple[str, ...], message: str) -> None:
    config = _monitored(tmp_path, serving_mean=30)
    code, _, stderr = run("run", *args, config, "-e", "dev", "--local", "-o", tmp_path / "out")
    assert code == 1
    assert stderr.startswith(message)
