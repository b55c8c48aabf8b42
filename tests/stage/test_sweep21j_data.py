"""Data the examples do not have: values near 1e308, times in mixed forms, one class only, an empty
baseline, a trial's traceback, usage errors. Each works, or fails with one line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tensorflow_metadata.proto.v0 import statistics_pb2
from test_drift import BASELINE, END, SERVING, log_rows, monitor_config, run, write_jsonl

from mlopsctl_stage import distances
from mlopsctl_stage.cli import main
from mlopsctl_stage.errors import StageError
from mlopsctl_stage.metrics import Predictions, UnavailableMetric, compute
from mlopsctl_stage.storage.formats import since
from mlopsctl_stage.tables import write_examples

HUGE = [1e308, -1e308, 0.0, 1.0, -1e308, 1e308]


def _numeric_stats(folder: Path, feature: str) -> statistics_pb2.NumericStatistics:
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    stats.ParseFromString((folder / "Split-train/FeatureStats.pb").read_bytes())
    [found] = [f for f in stats.datasets[0].features if f.path.step == [feature]]
    return found.num_stats


def test_statistics_of_values_near_the_largest_float(tmp_path: Path) -> None:
    splits = {"train": pa.table({"x": HUGE * 3}), "eval": pa.table({"x": HUGE})}
    write_examples(tmp_path / "examples", splits, {"label": None, "source": "test"})
    main(["statistics", "--examples", str(tmp_path / "examples"), "--statistics", str(tmp_path / "stats")])
    stats = _numeric_stats(tmp_path / "stats", "x")
    assert (stats.min, stats.max) == (-1e308, 1e308)
    assert abs(stats.mean) < 1e300 and stats.std_dev == pytest.approx(np.sqrt(4 / 6) * 1e308)
    [standard, quantiles] = stats.histograms
    assert [b.sample_count for b in standard.buckets] == [6, 0, 0, 0, 0, 6, 0, 0, 0, 6]
    assert standard.buckets[0].low_value == -1e308 and standard.buckets[-1].high_value == 1e308
    assert all(np.isfinite(b.low_value) for b in quantiles.buckets)


@pytest.mark.parametrize(
    ("serving", "baseline", "distance"),
    [
        ([1e308, -1e308, 0.0], [-1e308, 1e308, 5.0], 0.0),  # the same three bins on a range of 2e308
        ([1.0, 2.0, 1e308], [1.0, 2.0, 3.0], pytest.approx(1 / 3)),  # far above: the open bin
        ([1.0, 2.0], [1.0, 2.0, np.inf], pytest.approx(0.1909, abs=1e-4)),  # inf: in the open bin
        ([np.inf], [1.0, 2.0], 1.0),
    ],
)
def test_numeric_distance_of_extreme_values(
    serving: list[float], baseline: list[float], distance: object
) -> None:
    with np.errstate(all="raise"):
        found = distances.numeric(np.array(serving), np.array(baseline))
    assert found.distance == distance


def test_times_in_mixed_iso_forms_are_filtered_as_utc() -> None:
    text = [
        "2025-06-02T11:58:46.886Z",
        "2025-06-02 10:00:00",
        "2025-06-02T13:30:00+02:00",
        "2025-06-01",
        None,
    ]
    table = pa.table({"timestamp": text, "n": [1, 2, 3, 4, 5]})
    kept = since(table, "timestamp", datetime(2025, 6, 2, 11, tzinfo=UTC), "serving.table (t)")
    assert kept["n"].to_pylist() == [1, 3]


def test_a_time_that_is_not_iso_is_named() -> None:
    table = pa.table({"timestamp": ["2025-06-02T11:58:46Z", "02/06/2025 11:58"]})
    with pytest.raises(StageError) as error:
        since(table, "timestamp", datetime(2025, 6, 2, tzinfo=UTC), "serving.table (t)")
    assert "'02/06/2025 11:58' is not an ISO 8601 time" in str(error.value)


def test_drift_reads_request_times_in_mixed_forms(
    local_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = log_rows(200, END)
    for i, row in enumerate(rows):
        time = datetime.fromisoformat(row["timestamp"])
        row["timestamp"] = time.strftime("%Y-%m-%d %H:%M:%S" if i % 2 else "%Y-%m-%dT%H:%M:%S.%fZ")
    write_jsonl(local_root, SERVING, rows)
    pq.write_table(
        pa.Table.from_pylist([{"amount": 100.0, "country": "de", "age": 30}] * 50), _baseline(local_root)
    )
    run(monitor_config(), "--dry-run")
    assert "200 requests" in capsys.readouterr().out


def _baseline(root: Path) -> Path:
    path = root / "bigquery" / f"{BASELINE}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_drift_against_a_baseline_without_rows_fails(
    local_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_jsonl(local_root, SERVING, log_rows(50, END))
    schema = pa.schema({"amount": pa.float64(), "country": pa.string(), "age": pa.int64()})
    pq.write_table(schema.empty_table(), _baseline(local_root))
    with pytest.raises(SystemExit) as exit_:
        run(monitor_config(), "--dry-run")
    assert exit_.value.code == 1
    assert capsys.readouterr().err == (
        f"mlopsctl-stage drift: baseline.table ({BASELINE}): has no rows: "
        "the requests have nothing to be compared with\n"
    )


def test_auc_pr_without_positive_examples_is_unavailable() -> None:
    classes = np.array([False, True])
    y_true = np.zeros(4, dtype=bool)
    scores = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.7, 0.3]])
    predictions = Predictions("classification", y_true, scores.argmax(axis=1) == 1, scores, classes)
    with pytest.raises(UnavailableMetric, match="no positive examples"):
        compute("auc_pr", predictions)


TRIAL = """\
import sys
print("Traceback (most recent call last):")
print('    booster = fit(load(args.examples, "train"), params)')
print("ValueError: Label contains NaN")
sys.exit(1)
"""


def test_a_failed_trials_traceback_is_not_read_as_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "trial.py").write_text(TRIAL)
    settings = {"root": str(tmp_path / "data"), "code": {"trainer:1": str(tmp_path)}, "trials": 2}
    (tmp_path / "local.json").write_text(json.dumps(settings))
    monkeypatch.setenv("MLOPSCTL_STAGE_LOCAL", str(tmp_path / "local.json"))
    container = {"name": "training", "image": "trainer:1", "command": ["python", "trial.py"], "args": []}
    pod = {"spec": {"template": {"spec": {"containers": [container]}}}}
    experiment = {
        "apiVersion": "kubeflow.org/v1beta1",
        "kind": "Experiment",
        "metadata": {"name": "p-tune", "namespace": "demo"},
        "spec": {
            "algorithm": {"algorithmName": "random"},
            "trialTemplate": {"primaryContainerName": "training", "trialSpec": {"kind": "Job", **pod}},
        },
    }
    config = {
        "experiment": experiment,
        "searchSpace": {"depth": {"type": "int", "min": 2, "max": 8, "scale": "linear"}},
        "objective": {"metric": "auc_pr", "goal": "maximize"},
    }
    with pytest.raises(SystemExit) as exit_:
        main(["tune-job", "--config", json.dumps(config), "--best-hyperparameters", str(tmp_path / "best")])
    assert exit_.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (
        "mlopsctl-stage tune-job: Experiment p-tune: every one of the 2 local trials failed; "
        "p-tune-local-2 exited 1: ValueError: Label contains NaN"
    )


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["ingest", "--config", "{}"],
            "mlopsctl-stage ingest: usage: the following arguments are required: --examples "
            "(see mlopsctl-stage ingest --help)",
        ),
        (
            ["schema", "--statistics", "a", "--schema", "b", "--bogus", "1"],
            "mlopsctl-stage schema: usage: unrecognized arguments: --bogus 1 "
            "(see mlopsctl-stage schema --help)",
        ),
        (
            ["serve", "--model-uri", "x", "--protocol", "v9"],
            "mlopsctl-stage serve: usage: argument --protocol: invalid choice: 'v9' (choose from 'v1', 'v2') "
            "(see mlopsctl-stage serve --help)",
        ),
        (
            [],
            "mlopsctl-stage: usage: the following arguments are required: STAGE (see mlopsctl-stage --help)",
        ),
    ],
)
def test_a_usage_error_is_one_line(argv: list[str], line: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert capsys.readouterr().err == line + "\n"


def test_ingest_refuses_a_bad_split_before_reading_the_source(
    local_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = {"source": {"gcs": "gs://absent/prefix/"}, "split": {"eval": "x"}}
    with pytest.raises(SystemExit) as exit_:
        main(["ingest", "--config", json.dumps(config), "--examples", str(tmp_path / "examples")])
    assert exit_.value.code == 1
    assert (
        capsys.readouterr().err == "mlopsctl-stage ingest: split.eval (x): must be a number between 0 and 1\n"
    )
