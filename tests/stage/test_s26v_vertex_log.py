"""``drift``/``skew`` reading Vertex AI's request-response log (``serving.format: vertex``): each row's
``request_payload`` one JSON instance per element, an object keyed by feature or an array in the order of
``serving.positional``; ``baseline.previousWindow`` compares with the window before, as Vertex AI's drift.
Expected distances are recomputed here with numpy and scipy."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from drift_reference import instances, jsd, l_infinity

from mlopsctl_stage.cli import main

LOG = "proj.logs.scorer_requests"
TRAINING = "proj.training.baseline"
END = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)
HOUR = 3600


def log_rows(found: list[dict[str, Any]], end: datetime, form: str) -> list[dict[str, Any]]:
    """Rows of Vertex AI's log, one a minute back from ``end``, one instance each."""
    rows = []
    for i, instance in enumerate(found):
        payload = instance if form == "object" else [instance["amount"], instance["country"]]
        rows.append(
            {
                "endpoint": "projects/1/locations/us-central1/endpoints/741610339",
                "deployed_model_id": "5",
                "logging_time": (end - timedelta(minutes=i)).isoformat(),
                "request_id": i,
                "request_payload": [json.dumps(payload)],
                "response_payload": [json.dumps(0.5)],
            }
        )
    return rows


def write_jsonl(root: Path, table: str, rows: list[dict[str, Any]]) -> None:
    path = root / "bigquery" / f"{table}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def config(**extra: Any) -> dict[str, Any]:
    return {
        "monitor": "scorer-drift",
        "type": "drift",
        "windowSeconds": 2 * HOUR,
        "serving": {"table": LOG, "format": "vertex", "positional": ["amount", "country"]},
        "baseline": {"previousWindow": True},
        "features": {
            "amount": {"kind": "numeric", "threshold": 0.1},
            "country": {"kind": "categorical", "threshold": 0.2},
        },
        "notify": ["team"],
    } | extra


def summary_of(local_root: Path, settings: dict[str, Any], stage: str = "drift") -> dict[str, Any]:
    path = local_root.parent / "summary.json"
    main([stage, "--config", json.dumps(settings), "--dry-run", "--summary", str(path)])
    found: dict[str, Any] = json.loads(path.read_text())
    return found


def refusal(settings: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit:
        main(["drift", "--config", json.dumps(settings), "--dry-run"])
    assert exit.value.code == 1
    return capsys.readouterr().err


@pytest.mark.parametrize("form", ["object", "array"])
@pytest.mark.parametrize(("current_mean", "breach"), [(10.0, False), (16.0, True)])
def test_drift_compares_the_window_with_the_one_before(
    local_root: Path, form: str, current_mean: float, breach: bool
) -> None:
    # The serving window is [END - 2h, END] (it ends at the newest request), the one before it
    # [END - 4h, END - 2h): 120 requests each, none at END - 2h itself.
    served = instances(120, current_mean, seed=1, lean=breach)
    earlier = instances(120, 10.0, seed=2)
    rows = log_rows(served, END, form) + log_rows(earlier, END - timedelta(minutes=121), form)
    write_jsonl(local_root, LOG, rows)
    summary = summary_of(local_root, config())

    amount, country = summary["features"]["amount"], summary["features"]["country"]
    expected = jsd([i["amount"] for i in served], [i["amount"] for i in earlier])
    assert amount["distance"] == pytest.approx(expected, rel=1e-9)
    expected = l_infinity([i["country"] for i in served], [i["country"] for i in earlier])
    assert country["distance"] == pytest.approx(expected, rel=1e-9)
    assert (amount["servingCount"], amount["baselineCount"]) == (120, 120)
    assert summary["breached"] is breach
    assert (amount["breach"], country["breach"]) == (breach, breach)
    if breach:
        assert summary["actions"] == [
            {"type": "notify", "event": "drift-breach", "channels": ["team"], "done": False}
        ]


@pytest.mark.parametrize("form", ["object", "array"])
def test_skew_compares_the_window_with_the_training_data(local_root: Path, form: str) -> None:
    training = instances(300, 10.0, seed=3)
    write_jsonl(local_root, TRAINING, training)
    current = instances(60, 13.0, seed=4)
    write_jsonl(local_root, LOG, log_rows(current, END, form))
    settings = config(type="skew", baseline={"table": TRAINING})
    summary = summary_of(local_root, settings, stage="skew")

    amount = summary["features"]["amount"]
    expected = jsd([i["amount"] for i in current], [i["amount"] for i in training])
    assert amount["distance"] == pytest.approx(expected, rel=1e-9) and expected > 0.1
    assert amount["breach"] is True and summary["actions"][0]["event"] == "skew-breach"
    assert (amount["servingCount"], amount["baselineCount"]) == (60, 300)


def test_requests_with_several_instances_count_each(local_root: Path) -> None:
    current, earlier = instances(40, 10.0, seed=5), instances(40, 10.0, seed=6)
    rows = log_rows(current[::2], END, "object") + log_rows(earlier, END - timedelta(minutes=121), "object")
    for row, extra in zip(rows, current[1::2], strict=False):
        row["request_payload"].append(json.dumps(extra))
    write_jsonl(local_root, LOG, rows)
    amount = summary_of(local_root, config())["features"]["amount"]
    served = [i for pair in zip(current[::2], current[1::2], strict=True) for i in pair]
    expected = jsd([i["amount"] for i in served], [i["amount"] for i in earlier])
    assert amount["servingCount"] == 40
    assert amount["distance"] == pytest.approx(expected, rel=1e-9)


def test_a_request_log_of_mlopsctl_is_not_vertex_ai_log(
    local_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [{"timestamp": END.isoformat(), "request_id": "r", "request": "{}", "response": "{}"}]
    write_jsonl(local_root, LOG, rows)
    err = refusal(config(), capsys)
    assert f"serving.table ({LOG}): has no column 'logging_time'" in err
    assert "it is not Vertex AI's request-response log" in err
    assert "request_payload (REPEATED STRING)" in err


@pytest.mark.parametrize(
    ("payload", "holds"),
    [
        ('{"amount": 1.0, "country": "be"}', "holds string, not lists of JSON texts"),
        ([{"amount": 1.0, "country": "be"}], "holds lists of struct<amount: double, country: string>"),
    ],
)
def test_a_payload_that_is_not_json_texts_is_refused(
    local_root: Path, capsys: pytest.CaptureFixture[str], payload: Any, holds: str
) -> None:
    write_jsonl(local_root, LOG, [{"logging_time": END.isoformat(), "request_payload": payload}])
    err = refusal(config(), capsys)
    assert f"serving.table ({LOG}): request_payload {holds}" in err
    assert "each element one instance as JSON text" in err


def test_drift_without_requests_in_the_window_before_is_refused(
    local_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_jsonl(local_root, LOG, log_rows(instances(30, 10.0, seed=7), END, "object"))
    err = refusal(config(), capsys)
    assert "has no requests: drift compares the window with the one before it" in err
    assert "from 2025-06-02T08:00:00+00:00 to 2025-06-02T10:00:00+00:00" in err


def test_vertex_ai_log_takes_no_sampling_rate(local_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(local_root, LOG, log_rows(instances(3, 10.0, seed=8), END, "object"))
    settings = config(serving={"table": LOG, "format": "vertex", "samplingRate": 0.5})
    assert "serving.samplingRate: Vertex AI's log is sampled by its endpoint" in refusal(settings, capsys)


def test_an_unknown_format_is_refused(local_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = config(serving={"table": LOG, "format": "vertex-ai"})
    assert "serving.format: must be kserve or vertex, not 'vertex-ai'" in refusal(settings, capsys)


def test_a_run_that_writes_rows_needs_its_output_tables(
    local_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_jsonl(local_root, LOG, log_rows(instances(300, 10.0, seed=9), END, "object"))
    with pytest.raises(SystemExit):
        main(["drift", "--config", json.dumps(config())])
    assert "output.statistics: missing from --config" in capsys.readouterr().err
