"""``drift`` and ``skew`` in local mode: request logs and baselines under ``$ROOT/bigquery``."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fake_kfp_api
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fake_kfp_api import FakeKfp

from mlopsctl_stage.cli import main

SERVING = "proj.logs.fraud_requests"
BASELINE = "proj.training.baseline"
STATS = "proj.training.monitor_fraud_drift_statistics"
ALERTS = "proj.training.monitor_fraud_drift_alerts"
END = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
COUNTRIES = ["de", "fr", "us"]

Instance = Callable[[int, np.random.Generator], dict[str, Any]]


def normal_instance(i: int, rng: np.random.Generator) -> dict[str, Any]:
    return {
        "amount": float(rng.normal(100, 10)),
        "country": COUNTRIES[i % 3],
        "age": int(rng.integers(20, 60)),
    }


def shifted_instance(i: int, rng: np.random.Generator) -> dict[str, Any]:
    return {**normal_instance(i, rng), "amount": float(rng.normal(160, 10))}


def v1(instances: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    return {"instances": instances}, {
        "predictions": [{"score": 0.1 + 0.01 * (k % 5)} for k in range(len(instances))]
    }


def v2(instances: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    names = ["amount", "country", "age"]
    inputs = [
        {
            "name": n,
            "shape": [len(instances), 1],
            "datatype": "BYTES" if n == "country" else "FP32",
            "data": [[x[n]] for x in instances],
        }
        for n in names
    ]
    return {"inputs": inputs}, {
        "outputs": [{"name": "score", "data": [0.1] * len(instances), "shape": [len(instances)]}]
    }


def log_rows(
    count: int,
    end: datetime,
    instance: Instance = normal_instance,
    body: Any = v1,
    seed: int = 0,
    per_request: int = 1,
) -> list[dict[str, Any]]:
    """Request-log rows, one a minute back from ``end``, as the request logger writes them."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        request, response = body([instance(i * per_request + k, rng) for k in range(per_request)])
        rows.append(
            {
                "timestamp": (end - timedelta(minutes=i)).isoformat(),
                "request_id": f"req-{seed}-{i}",
                "endpoint": "fraud",
                "variant": "fraud-primary",
                "model": "fraud",
                "model_version": "v3",
                "request": json.dumps(request),
                "response": json.dumps(response),
                "latency_ms": 12.5,
                "status": 200,
            }
        )
    return rows


def write_jsonl(root: Path, table: str, rows: list[dict[str, Any]]) -> None:
    path = root / "bigquery" / f"{table}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        out.writelines(json.dumps(row) + "\n" for row in rows)


def read_jsonl(root: Path, table: str) -> list[dict[str, Any]]:
    path = root / "bigquery" / f"{table}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def write_baseline(root: Path, count: int = 2000, seed: int = 1, **extra: Any) -> None:
    rng = np.random.default_rng(seed)
    rows = [normal_instance(i, rng) | {"label": int(i % 7 == 0)} | extra for i in range(count)]
    path = root / "bigquery" / f"{BASELINE}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def monitor_config(kfp: FakeKfp | None = None, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "monitor": "fraud-drift",
        "type": "drift",
        "endpoint": "fraud",
        "serving": {"table": SERVING, "samplingRate": 1.0},
        "baseline": {"table": BASELINE},
        "window": "24h",
        "windowSeconds": 86400,
        "features": {
            "amount": {"kind": "numeric", "metric": "jensen_shannon_divergence", "threshold": 0.1},
            "country": {"kind": "categorical", "metric": "l_infinity_distance", "threshold": 0.1},
            "age": {"kind": "numeric", "metric": "jensen_shannon_divergence", "threshold": 0.2},
        },
        "output": {"statistics": STATS, "alerts": ALERTS},
        "notify": ["oncall"],
        "retrain": [],
    }
    if kfp is not None:
        config["retrain"] = [
            {
                "endpoint": kfp.url,
                "namespace": "team",
                "experiment": "train",
                "pipeline": "train",
                "pipelineVersion": "train-abc",
                "serviceAccount": "pipeline-train",
                "parameters": {"reason": "drift"},
            }
        ]
    return config | extra


def run(config: dict[str, Any], *flags: str, stage: str = "drift") -> None:
    main([stage, "--config", json.dumps(config), *flags])


def log_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


@pytest.fixture
def kfp() -> Iterator[FakeKfp]:
    for fake in fake_kfp_api.serve():
        fake.add_pipeline("train", "team", ["train-abc"])
        yield fake


def test_drift_breach_writes_rows_notifies_and_retrains(
    local_root: Path, kfp: FakeKfp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_baseline(local_root)
    write_jsonl(local_root, SERVING, log_rows(400, END, shifted_instance))
    summary_path = tmp_path / "summary.json"
    run(monitor_config(kfp), "--summary", str(summary_path))
    out = capsys.readouterr().out

    summary = json.loads(summary_path.read_text())
    assert summary["monitor"] == "fraud-drift" and summary["breached"] is True
    features = summary["features"]
    assert features["amount"]["breach"] is True and features["amount"]["distance"] > 0.5
    assert features["country"]["breach"] is False and features["country"]["distance"] < 0.01
    assert features["age"]["breach"] is False
    assert features["amount"]["servingCount"] == 400 and features["amount"]["baselineCount"] == 2000

    stats = read_jsonl(local_root, STATS)
    assert sorted(r["feature"] for r in stats) == ["age", "amount", "country"]
    amount = next(r for r in stats if r["feature"] == "amount")
    assert amount["monitor"] == "fraud-drift" and amount["kind"] == "numeric" and amount["threshold"] == 0.1
    assert (amount["serving_count"], amount["baseline_count"]) == (400, 2000)
    assert sum(json.loads(amount["statistics"])["serving"]) == 400
    assert datetime.fromisoformat(amount["run_time"]).tzinfo is not None
    alerts = read_jsonl(local_root, ALERTS)
    assert [(a["feature"], a["distance"]) for a in alerts] == [("amount", amount["distance"])]
    assert set(alerts[0]) == {"run_time", "monitor", "feature", "kind", "distance", "threshold"}

    [entry] = log_lines(out)
    assert entry["severity"] == "WARNING" and entry["event"] == "drift-breach"
    assert entry["mlopsctl.dev/monitor"] == "fraud-drift"
    assert entry["features"] == ["amount"] and entry["channels"] == ["oncall"]
    [started] = kfp.created_runs()
    assert started["runtime_config"] == {"parameters": {"reason": "drift"}}
    assert started["service_account"] == "pipeline-train"
    assert summary["actions"] == [
        {"type": "notify", "event": "drift-breach", "channels": ["oncall"], "done": True},
        {
            "type": "retrain",
            "pipeline": "train",
            "pipelineVersion": "train-abc",
            "runId": kfp.runs[-1]["run_id"],
            "done": True,
        },
    ]
    header = next(line for line in out.splitlines() if line.startswith("feature"))
    assert header.split() == ["feature", "kind", "distance", "threshold", "breach"]
    assert any(
        line.split()[:2] == ["amount", "numeric"] and line.endswith("yes") for line in out.splitlines()
    )


def test_no_drift_takes_no_action(local_root: Path, kfp: FakeKfp, capsys: pytest.CaptureFixture[str]) -> None:
    write_baseline(local_root)
    write_jsonl(local_root, SERVING, log_rows(400, END))
    run(monitor_config(kfp))
    assert log_lines(capsys.readouterr().out) == []
    assert len(read_jsonl(local_root, STATS)) == 3
    assert read_jsonl(local_root, ALERTS) == []
    assert kfp.created_runs() == []


def test_dry_run_reports_only(
    local_root: Path, kfp: FakeKfp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_baseline(local_root)
    write_jsonl(local_root, SERVING, log_rows(400, END, shifted_instance))
    run(monitor_config(kfp), "--dry-run", "--summary", str(tmp_path / "s.json"))
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["breached"] is True
    assert [a["done"] for a in summary["actions"]] == [False, False]
    assert log_lines(capsys.readouterr().out) == []
    assert read_jsonl(local_root, STATS) == [] and kfp.created_runs() == []


@pytest.mark.parametrize("now", [None, END.isoformat()])
def test_window_ends_at_now_or_the_newest_request(
    local_root: Path, tmp_path: Path, now: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Drifted requests older than the window, or after ``now``, are not compared."""
    write_baseline(local_root)
    write_jsonl(local_root, SERVING, log_rows(100, END - timedelta(hours=30), shifted_instance))
    write_jsonl(local_root, SERVING, log_rows(200, END, seed=2))
    if now is not None:
        write_jsonl(local_root, SERVING, log_rows(50, END + timedelta(hours=2), shifted_instance, seed=3))
        settings = Path(os.environ["MLOPSCTL_STAGE_LOCAL"])
        settings.write_text(json.dumps(json.loads(settings.read_text()) | {"now": now}))
    run(monitor_config(), "--summary", str(tmp_path / "s.json"))
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["features"]["amount"]["servingCount"] == 200
    assert summary["breached"] is False
    assert (
        "200 requests from 2025-02-28T12:00:00+00:00 to 2025-03-01T12:00:00+00:00" in capsys.readouterr().out
    )


def test_sampling_is_deterministic(local_root: Path, tmp_path: Path) -> None:
    write_baseline(local_root)
    write_jsonl(local_root, SERVING, log_rows(1000, END))
    counts = []
    for _ in range(2):
        run(
            monitor_config(serving={"table": SERVING, "samplingRate": 0.25}),
            "--summary",
            str(tmp_path / "s.json"),
        )
        counts.append(json.loads((tmp_path / "s.json").read_text())["features"]["amount"]["servingCount"])
    assert counts[0] == counts[1]
    assert 200 < counts[0] < 300


@pytest.mark.parametrize("body", [v1, v2])
def test_skew_against_a_request_log_baseline(
    local_root: Path, tmp_path: Path, body: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both protocols, several instances per request, an output feature; the baseline is a request log."""
    write_jsonl(local_root, BASELINE, log_rows(300, END, body=body, seed=5, per_request=3))
    write_jsonl(local_root, SERVING, log_rows(100, END, shifted_instance, body=body, per_request=3))
    config = monitor_config(type="skew")
    config["features"]["score"] = {"kind": "numeric", "threshold": 0.1}
    run(config, "--summary", str(tmp_path / "s.json"), stage="skew")
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["features"]["amount"]["servingCount"] == 300
    assert summary["features"]["amount"]["baselineCount"] == 900
    assert summary["features"]["score"]["servingCount"] == 300
    assert summary["features"]["score"]["distance"] == pytest.approx(0.0)
    assert [name for name, f in summary["features"].items() if f["breach"]] == ["amount"]
    assert log_lines(capsys.readouterr().out)[0]["event"] == "skew-breach"


def test_positional_instances_are_named_by_the_baselines_columns(local_root: Path, tmp_path: Path) -> None:
    def positional(instances: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"instances": [[x["amount"], x["country"], x["age"]] for x in instances]}, {
            "predictions": [0.5]
        }

    write_baseline(local_root)  # columns: amount, country, age, label
    write_jsonl(local_root, SERVING, log_rows(200, END, shifted_instance, body=positional))
    run(monitor_config(), "--summary", str(tmp_path / "s.json"))
    features = json.loads((tmp_path / "s.json").read_text())["features"]
    assert features["amount"]["breach"] and not features["country"]["breach"]
    assert features["age"]["servingCount"] == 200


def test_missing_feature(local_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A feature the baseline table lacks is a config error (one the requests lost is a breach:
    test_s27s_drift_lost_feature.py)."""
    write_baseline(local_root)
    write_jsonl(
        local_root, SERVING, log_rows(10, END, lambda i, rng: normal_instance(i, rng) | {"income": 1})
    )
    config = monitor_config()
    config["features"]["income"] = {"kind": "numeric", "threshold": 0.1}
    with pytest.raises(SystemExit) as exit:
        run(config)
    assert exit.value.code == 1
    assert capsys.readouterr().err == (
        f"mlopsctl-stage drift: baseline.table ({BASELINE}): no feature 'income' in the data\n"
    )
    assert read_jsonl(local_root, STATS) == []


def test_no_requests_in_the_window(local_root: Path, tmp_path: Path) -> None:
    write_baseline(local_root)
    settings = Path(os.environ["MLOPSCTL_STAGE_LOCAL"])
    settings.write_text(json.dumps(json.loads(settings.read_text()) | {"now": END.isoformat()}))
    write_jsonl(local_root, SERVING, log_rows(10, END - timedelta(days=3)))
    run(monitor_config(), "--summary", str(tmp_path / "s.json"))
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["breached"] is False
    assert {f["distance"] for f in summary["features"].values()} == {None}
    assert [r["distance"] for r in read_jsonl(local_root, STATS)] == [None, None, None]


def test_a_failed_retrain_fails_the_job_after_reporting(
    local_root: Path, kfp: FakeKfp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_baseline(local_root)
    write_jsonl(local_root, SERVING, log_rows(200, END, shifted_instance))
    kfp.failures.append((503, "unavailable"))
    with pytest.raises(SystemExit):
        run(monitor_config(kfp), "--summary", str(tmp_path / "s.json"))
    captured = capsys.readouterr()
    assert "mlopsctl-stage drift: retrain: train: pipeline 'train'" in captured.err
    assert "503 unavailable" in captured.err
    assert len(log_lines(captured.out)) == 1  # notified all the same
    assert len(read_jsonl(local_root, ALERTS)) == 1
    assert json.loads((tmp_path / "s.json").read_text())["actions"][1]["done"] is False


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"windowSeconds": 0}, "windowSeconds: must be a positive integer"),
        ({"features": {"a": {"kind": "ordinal", "threshold": 0.1}}}, "features.a.kind: must be one of"),
        (
            {"serving": {"table": SERVING, "samplingRate": 0}},
            "serving.samplingRate: must be a number in (0, 1]",
        ),
        ({"output": {}}, "output.statistics: missing from --config"),
    ],
)
def test_bad_config(
    local_root: Path, capsys: pytest.CaptureFixture[str], change: dict[str, Any], message: str
) -> None:
    write_baseline(local_root)
    write_jsonl(local_root, SERVING, log_rows(10, END))
    with pytest.raises(SystemExit):
        run(monitor_config(**change))
    assert message in capsys.readouterr().err
