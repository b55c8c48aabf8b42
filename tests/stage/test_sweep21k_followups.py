"""Follow-ups of the stage runtime sweep: a feature with values on one side only is drift; files of one
source with different columns warn (or fail on types that cannot be unified); every local trial failed
says why; an empty table file says so."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fake_kfp_api import FakeKfp
from test_drift import (
    ALERTS,
    BASELINE,
    COUNTRIES,
    END,
    SERVING,
    STATS,
    kfp,
    log_lines,
    log_rows,
    monitor_config,
    normal_instance,
    read_jsonl,
    run,
    write_baseline,
    write_jsonl,
)
from test_tune_job import CONFIG, EXPERIMENT, local

from mlopsctl_stage import storage
from mlopsctl_stage.cli import main
from mlopsctl_stage.metrics import Predictions, UnavailableMetric, compute
from mlopsctl_stage.tables import read_examples

__all__ = ["kfp", "local"]


def _without_amount(i: int, rng: np.random.Generator) -> dict[str, Any]:
    return normal_instance(i, rng) | {"amount": None}


def _baseline_without_amount(root: Path, amount: float | None) -> None:
    rows = [{"amount": amount, "country": COUNTRIES[i % 3], "age": 20 + i % 40} for i in range(300)]
    path = root / "bigquery" / f"{BASELINE}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.Table.from_pylist(
            rows, pa.schema({"amount": pa.float64(), "country": pa.string(), "age": pa.int64()})
        ),
        path,
    )


def test_a_feature_the_requests_lost_is_a_breach_that_notifies_and_retrains(
    local_root: Path, kfp: FakeKfp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_baseline(local_root)  # 2000 rows, amount in every one
    write_jsonl(local_root, SERVING, log_rows(400, END, _without_amount))
    run(monitor_config(kfp), "--summary", str(tmp_path / "s.json"))
    out = capsys.readouterr().out
    reason = "no values in the 400 requests; the baseline has 2000"

    summary = json.loads((tmp_path / "s.json").read_text())
    amount = summary["features"]["amount"]
    assert summary["breached"] is True
    assert (amount["breach"], amount["distance"], amount["reason"]) == (True, None, reason)
    assert "reason" not in summary["features"]["country"] and not summary["features"]["country"]["breach"]
    [entry] = log_lines(out)
    assert entry["features"] == ["amount"]
    assert entry["message"] == f"drift monitor fraud-drift: 1 feature(s) in breach: amount ({reason})"
    assert [r["feature"] for r in read_jsonl(local_root, ALERTS)] == ["amount"]
    [row] = [r for r in read_jsonl(local_root, STATS) if r["feature"] == "amount"]
    assert json.loads(row["statistics"]) == {"reason": reason}
    assert len(kfp.created_runs()) == 1
    assert any(line.startswith("amount") and line.endswith(f"yes: {reason}") for line in out.splitlines())


@pytest.mark.parametrize("baseline_amount", [None, float("nan")])
def test_a_feature_the_baseline_lacks_is_a_breach(
    local_root: Path, tmp_path: Path, baseline_amount: float | None
) -> None:
    _baseline_without_amount(local_root, baseline_amount)
    write_jsonl(local_root, SERVING, log_rows(200, END))
    run(monitor_config(), "--dry-run", "--summary", str(tmp_path / "s.json"))
    amount = json.loads((tmp_path / "s.json").read_text())["features"]["amount"]
    reason = "no values in the baseline; the 200 requests have 200"
    assert (amount["breach"], amount["distance"], amount.get("reason")) == (True, None, reason)


@pytest.mark.parametrize("baseline_amount", [None, float("nan")])
def test_a_feature_without_values_on_either_side_is_no_data(
    local_root: Path, tmp_path: Path, baseline_amount: float | None
) -> None:
    _baseline_without_amount(local_root, baseline_amount)
    write_jsonl(local_root, SERVING, log_rows(200, END, _without_amount))
    run(monitor_config(), "--dry-run", "--summary", str(tmp_path / "s.json"))
    summary = json.loads((tmp_path / "s.json").read_text())
    amount = summary["features"]["amount"]
    assert (amount["breach"], amount["distance"], "reason" in amount) == (False, None, False)
    assert summary["breached"] is False


def _parquet(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def _ingest(source: dict[str, Any], out: Path) -> None:
    main(["ingest", "--config", json.dumps({"source": source}), "--examples", str(out)])


def test_files_with_different_columns_are_ingested_with_one_warning(
    local_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = local_root / "gcs/b/in"
    _parquet(folder / "a.parquet", pa.table({"x": range(50), "y": [1.5] * 50}))
    _parquet(folder / "b.parquet", pa.table({"x": range(50, 100)}))
    (folder / "c.csv").write_text("x,z\n" + "".join(f"{i},a\n" for i in range(100, 150)))
    _ingest({"gcs": "gs://b/in/"}, tmp_path / "out")
    assert capsys.readouterr().err == (
        "mlopsctl-stage: warning: files (gs://b/in/): some files lack columns, read as null there: "
        "'y' (missing from 2 of 3 files), 'z' (missing from 2 of 3 files)\n"
    )
    rows = pa.concat_tables(read_examples(tmp_path / "out")[0].values())
    assert rows.num_rows == 150 and rows.column_names == ["x", "y", "z"]
    assert rows["y"].null_count == 100


def test_files_with_the_same_columns_ingest_without_a_warning(
    local_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = local_root / "gcs/b/in"
    _parquet(folder / "a.parquet", pa.table({"x": range(50)}))  # int64, unified with b's doubles
    _parquet(folder / "b.parquet", pa.table({"x": [0.5] * 50}))
    _ingest({"gcs": "gs://b/in/"}, tmp_path / "out")
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("files", "why"),
    [
        ({"a.csv": "x\n1\n", "b.csv": "x\nz\n"}, "column 'x' is int64 in a.csv but string in b.csv"),
        (
            {"a.jsonl": '{"x": 1, "n": {"k": 1}}\n', "b.jsonl": '{"x": 2, "n": [1]}\n'},
            "column 'n' is struct<k: int64> in a.jsonl but list<item: int64> in b.jsonl",
        ),
    ],
)
def test_a_column_whose_types_cannot_be_unified_fails_in_one_line(
    local_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], files: dict[str, str], why: str
) -> None:
    for name, text in files.items():
        storage.write_bytes(f"gs://b/in/{name}", text.encode())
    with pytest.raises(SystemExit) as exit_:
        _ingest({"gcs": "gs://b/in/"}, tmp_path / "out")
    assert exit_.value.code == 1
    assert capsys.readouterr().err == (
        f"mlopsctl-stage ingest: files (gs://b/in/): the files' columns do not agree: {why}\n"
    )


@pytest.mark.parametrize("text", ["", "\n  \n"])
def test_an_empty_jsonl_table_file_says_it_is_empty(
    local_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    path = local_root / "bigquery" / "p.d.t.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(SystemExit):
        _ingest({"bigquery": {"table": "p.d.t"}}, tmp_path / "out")
    assert (
        capsys.readouterr().err == f"mlopsctl-stage ingest: file ({path}): is empty: no rows and no columns\n"
    )


TRIAL = """\
import sys
print("loading examples")
print("ValueError: Input X contains NaN. " + "x" * 300)
print("")
print("   ")
sys.exit(int(sys.argv[-1].split("=")[1]) if len(sys.argv) > 1 else 1)
"""


@pytest.mark.parametrize(
    ("exit_code", "how"),
    [(3, "p-tune-local-3 exited 3"), (0, "p-tune-local-3 exited 0 without a loss=VALUE line")],
)
def test_when_every_local_trial_fails_the_line_ends_with_the_last_ones_last_words(
    local: Path, capsys: pytest.CaptureFixture[str], exit_code: int, how: str
) -> None:
    (local / "code/tune.py").write_text(TRIAL)
    experiment = copy.deepcopy(EXPERIMENT)
    [container] = experiment["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]["containers"]
    container["args"] = [f"--code={exit_code}"]
    with pytest.raises(SystemExit):
        main(
            [
                "tune-job",
                "--config",
                json.dumps({**CONFIG, "experiment": experiment}),
                "--best-hyperparameters",
                str(local / "best"),
            ]
        )
    last = capsys.readouterr().err.strip().splitlines()[-1]
    shown = "ValueError: Input X contains NaN. " + "x" * (199 - 34) + "…"
    assert last == (
        f"mlopsctl-stage tune-job: Experiment p-tune: every one of the 3 local trials failed; {how}: {shown}"
    )


@pytest.mark.parametrize(
    ("name", "y_true", "y_pred", "reason"),
    [
        ("precision", [True, False, True], [False, False, False], "the model predicts no positive example"),
        ("recall", [False, False, False], [True, False, False], "no positive examples"),
        ("f1", [False, False, False], [False, False, False], "no positive examples, and none predicted"),
    ],
)
def test_a_metric_that_divides_by_zero_is_unavailable_not_zero(
    name: str, y_true: list[bool], y_pred: list[bool], reason: str
) -> None:
    predictions = Predictions(
        "classification", np.array(y_true), np.array(y_pred), None, np.array([False, True])
    )
    with pytest.raises(UnavailableMetric, match=f"^{reason}$"):
        compute(name, predictions)


def test_a_macro_average_leaves_out_the_classes_where_the_metric_is_undefined() -> None:
    classes = np.array(["a", "b", "c"])
    y_true = np.array(["a", "a", "b", "b"])
    y_pred = np.array(["a", "b", "b", "b"])  # class c: neither present nor predicted
    predictions = Predictions("classification", y_true, y_pred, None, classes)
    assert compute("precision", predictions) == pytest.approx((1.0 + 2 / 3) / 2)
    assert compute("recall", predictions) == pytest.approx((0.5 + 1.0) / 2)


def test_an_empty_shard_among_a_sources_files_is_skipped(
    local_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage.write_bytes("gs://b/in/part-0.jsonl", b"".join(b'{"x": %d}\n' % i for i in range(60)))
    storage.write_bytes("gs://b/in/part-1.jsonl", b"")
    storage.write_bytes("gs://b/in/part-2.csv.gz", gzip.compress(b"\n"))
    _ingest({"gcs": "gs://b/in/"}, tmp_path / "out")
    assert capsys.readouterr().err == ""
    assert sum(len(split) for split in read_examples(str(tmp_path / "out"))[0].values()) == 60


def test_a_source_whose_files_are_all_empty_fails_in_one_line(
    local_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage.write_bytes("gs://b/in/part-0.jsonl", b"")
    storage.write_bytes("gs://b/in/part-1.csv", b" \n")
    with pytest.raises(SystemExit) as exit_:
        _ingest({"gcs": "gs://b/in/"}, tmp_path / "out")
    assert exit_.value.code == 1
    assert capsys.readouterr().err == (
        "mlopsctl-stage ingest: files (gs://b/in/): every data file there is empty: no rows and no columns\n"
    )
