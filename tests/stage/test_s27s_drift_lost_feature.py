"""``drift``/``skew``: a feature absent from every request of the window is a one-sided breach, as one
sent as null is; a feature the baseline table lacks still fails the job."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlopsctl_stage.cli import main

SERVING = "proj.logs.loans_requests"
BASELINE = "proj.training.loans_baseline"
STATS = "proj.training.monitor_stats"
ALERTS = "proj.training.monitor_alerts"
END = datetime(2025, 6, 10, 3, 0, tzinfo=UTC)
HOUR = 3600


def instance(i: int, income: str) -> dict[str, Any]:
    """A request's instance; ``income`` is ``sent`` (a value), ``null`` or ``absent`` (no key)."""
    found: dict[str, Any] = {"age": 20 + i % 40, "city": ["oslo", "rome"][i % 2]}
    if income != "absent":
        found["income"] = None if income == "null" else 1000.0 + i
    return found


def requests(count: int, end: datetime, income: str, start: int = 0) -> list[dict[str, Any]]:
    """Request-log rows, one a minute back from ``end``."""
    return [
        {
            "timestamp": (end - timedelta(minutes=i)).isoformat(),
            "request_id": f"req-{start + i}",
            "request": json.dumps({"instances": [instance(start + i, income)]}),
            "response": json.dumps({"predictions": [0.5]}),
        }
        for i in range(count)
    ]


def write_jsonl(root: Path, table: str, rows: list[dict[str, Any]]) -> None:
    path = root / "bigquery" / f"{table}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        out.writelines(json.dumps(row) + "\n" for row in rows)


def read_jsonl(root: Path, table: str) -> list[dict[str, Any]]:
    path = root / "bigquery" / f"{table}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def write_baseline(root: Path, count: int, income: bool) -> None:
    rows = [instance(i, "sent") for i in range(count)]
    if not income:
        rows = [{k: v for k, v in row.items() if k != "income"} for row in rows]
    path = root / "bigquery" / f"{BASELINE}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def config(kind: str = "drift", **extra: Any) -> dict[str, Any]:
    return {
        "monitor": "loans",
        "type": kind,
        "serving": {"table": SERVING, "samplingRate": 1.0},
        "baseline": {"table": BASELINE},
        "windowSeconds": 2 * HOUR,
        "features": {
            "age": {"kind": "numeric", "threshold": 0.5},
            "city": {"kind": "categorical", "threshold": 0.5},
            "income": {"kind": "numeric", "threshold": 0.5},
        },
        "output": {"statistics": STATS, "alerts": ALERTS},
        "notify": ["oncall"],
    } | extra


def summary(root: Path, settings: dict[str, Any]) -> dict[str, Any]:
    path = root.parent / "summary.json"
    main([settings["type"], "--config", json.dumps(settings), "--summary", str(path)])
    found: dict[str, Any] = json.loads(path.read_text())
    return found


@pytest.mark.parametrize("kind", ["drift", "skew"])
@pytest.mark.parametrize("income", ["absent", "null"])
def test_a_feature_no_request_holds_is_a_one_sided_breach(
    local_root: Path, capsys: pytest.CaptureFixture[str], kind: str, income: str
) -> None:
    write_baseline(local_root, 342, income=True)
    write_jsonl(local_root, SERVING, requests(100, END, income))
    found = summary(local_root, config(kind))
    reason = "no values in the 100 requests; the baseline has 342"
    assert found["breached"] is True
    assert found["features"]["income"] == {
        "kind": "numeric",
        "distance": None,
        "threshold": 0.5,
        "breach": True,
        "servingCount": 0,
        "baselineCount": 342,
        "reason": reason,
    }
    assert not found["features"]["age"]["breach"] and not found["features"]["city"]["breach"]
    out = capsys.readouterr().out
    assert f"yes: {reason}" in out
    assert [row["feature"] for row in read_jsonl(local_root, ALERTS)] == ["income"]
    stats = {row["feature"]: row for row in read_jsonl(local_root, STATS)}
    assert json.loads(stats["income"]["statistics"])["reason"] == reason
    breach = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert breach[0]["event"] == f"{kind}-breach" and breach[0]["features"] == ["income"]


def test_a_feature_the_baseline_table_lacks_still_fails(
    local_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_baseline(local_root, 50, income=False)
    write_jsonl(local_root, SERVING, requests(10, END, "absent"))
    with pytest.raises(SystemExit) as exit_info:
        main(["drift", "--config", json.dumps(config())])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err == f"mlopsctl-stage drift: baseline.table ({BASELINE}): no feature 'income' in the data\n"
    assert read_jsonl(local_root, STATS) == []


def test_a_feature_no_request_of_a_baseline_request_log_holds_still_fails(
    local_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_jsonl(local_root, BASELINE, requests(50, END - timedelta(days=30), "absent"))
    write_jsonl(local_root, SERVING, requests(10, END, "sent"))
    with pytest.raises(SystemExit) as exit_info:
        main(["drift", "--config", json.dumps(config())])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err == f"mlopsctl-stage drift: baseline.table ({BASELINE}): no feature 'income' in the data\n"


@pytest.mark.parametrize(
    ("before", "now", "breach", "reason"),
    [
        ("absent", "sent", True, "no values in the baseline; the 60 requests have 60"),
        ("sent", "absent", True, "no values in the 60 requests; the baseline has 60"),
        ("absent", "absent", False, None),
    ],
)
def test_the_window_before_is_requests_too(
    local_root: Path, before: str, now: str, breach: bool, reason: str | None
) -> None:
    """With ``previousWindow`` the baseline is the requests of the window before: a feature absent
    from them is a feature without values there, as in the serving window."""
    write_jsonl(local_root, SERVING, requests(60, END, now))
    write_jsonl(local_root, SERVING, requests(60, END - timedelta(hours=2, minutes=1), before, start=60))
    settings = config(baseline={"previousWindow": True})
    found = summary(local_root, settings)["features"]["income"]
    assert found["breach"] is breach and found["distance"] is None
    assert found.get("reason") == reason
