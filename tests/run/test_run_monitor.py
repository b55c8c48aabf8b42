"""Local runs of a drift monitor (``api.run_local``): the compiled CronJob's container, dry-run, and
retraining with ``act``; and what ``mlopsctl run MONITOR --local`` prints and exits with."""

from __future__ import annotations

import json
import pathlib

import pytest
from api_helpers import LocalOptions, monitor_run, refusal, run_locally
from helpers import run
from run_projects import HEAD, LOGGED_SCORER, NOTE, RETRAIN, drift_tables, project

from mlopsctl.run.result import FeatureResult, PipelineResult, StepResult

MONITORED = (
    HEAD
    + LOGGED_SCORER
    + RETRAIN
    + """\
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


def _monitored(folder: pathlib.Path, serving_mean: float) -> pathlib.Path:
    """The project, with requests whose amounts are around ``serving_mean`` (the baseline's: 10)."""
    config = project(folder, MONITORED, NOTE)
    drift_tables(folder, serving_mean)
    return config


def test_dry_run_reports_distances_and_the_actions_it_would_take(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    result = monitor_run(_monitored(tmp_path, serving_mean=30), "amount-drift", out)
    assert result.ok and result.failure is None
    assert (result.monitor, result.breached, result.runs) == ("amount-drift", True, {})
    assert result.features["amount"] == FeatureResult("numeric", 1.0, 0.1, breach=True)
    assert result.features["country"].breach is False
    assert result.features["country"].threshold == 0.1
    version = result.actions[1].pop("pipelineVersion")
    assert isinstance(version, str) and version.startswith("retrain-")
    assert result.actions == [
        {"type": "notify", "event": "drift-breach", "channels": ["team"], "done": False},
        {"type": "retrain", "pipeline": "retrain", "done": False},
    ]
    # A dry run writes no rows: the statistics and alerts tables are not there.
    assert sorted(p.name for p in (out / "data" / "bigquery").iterdir()) == [
        "acme-demo-dev.serving_dev_us_central1.baseline.jsonl",
        "acme-demo-dev.serving_dev_us_central1.scorer_requests.jsonl",
    ]
    assert "[amount-drift] drift monitor amount-drift: 200 requests" in capsys.readouterr().err


def test_act_runs_the_retraining_pipeline_with_its_parameters(tmp_path: pathlib.Path) -> None:
    config = _monitored(tmp_path, serving_mean=30)
    result = monitor_run(config, "amount-drift", tmp_path / "out", act=True)
    assert result.ok
    assert [(a["type"], a["done"]) for a in result.actions] == [("notify", False), ("retrain", True)]
    assert result.runs == {
        "retrain": PipelineResult(
            "retrain", {"note": StepResult("succeeded", {"said": "retrained for drift"})}
        )
    }


def test_no_breach_no_retraining(tmp_path: pathlib.Path) -> None:
    result = monitor_run(_monitored(tmp_path, serving_mean=10), "amount-drift", tmp_path / "out", act=True)
    assert result.ok
    assert (result.breached, result.actions, result.runs) == (False, [], {})


def test_a_failing_monitor_fails_the_run(tmp_path: pathlib.Path) -> None:
    config = _monitored(tmp_path, serving_mean=30)
    (tmp_path / "sample-data" / "datasets" / "serving" / "baseline.jsonl").unlink()
    result = monitor_run(config, "amount-drift", tmp_path / "out")
    assert not result.ok
    assert result.failure is not None and result.failure.startswith("exit code 1: ")
    assert result.features == {}


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("latency", {}, "monitor latency is an SLO monitor"),
        ("amount-drift", {"params": {"reason": "x"}}, "--param is for pipelines"),
    ],
)
def test_refused(tmp_path: pathlib.Path, name: str, options: LocalOptions, message: str) -> None:
    config = _monitored(tmp_path, serving_mean=30)
    found = refusal(lambda: run_locally(config, name, tmp_path / "out", **options))
    assert found.startswith(message), found


# The CLI: the monitor's result as text or JSON on stdout, exit 1 when it failed.


def test_cli_a_failing_monitor_is_one_line_and_exits_1(tmp_path: pathlib.Path) -> None:
    config = _monitored(tmp_path, serving_mean=30)
    (tmp_path / "sample-data" / "datasets" / "serving" / "baseline.jsonl").unlink()
    code, stdout, _ = run("run", "amount-drift", config, "-e", "dev", "--local", "-o", tmp_path / "out")
    assert code == 1
    assert stdout.startswith("monitor amount-drift failed: exit code 1: ")
    assert stdout.count("\n") == 1


def test_cli_json_is_the_result_as_one_document(tmp_path: pathlib.Path) -> None:
    config = _monitored(tmp_path, serving_mean=10)
    code, stdout, stderr = run(
        "run", "amount-drift", config, "-e", "dev", "--local", "-o", tmp_path / "out", "-f", "json"
    )
    assert code == 0, stderr
    result = json.loads(stdout)
    assert (result["monitor"], result["breached"], result["actions"], result["runs"]) == (
        "amount-drift",
        False,
        [],
        {},
    )
    assert set(result["features"]) == {"amount", "country"}
