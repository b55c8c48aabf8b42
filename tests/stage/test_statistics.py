"""The ``statistics`` stage: TFMD statistics of each split, read back with the protos."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from tensorflow_metadata.proto.v0 import statistics_pb2

from mlopsctl_stage.cli import main
from mlopsctl_stage.tables import write_examples

Stats = statistics_pb2.FeatureNameStatistics


def _examples(folder: Path, train: pa.Table, evaluation: pa.Table | None = None) -> Path:
    write_examples(
        folder, {"train": train, "eval": evaluation if evaluation is not None else train}, {"label": None}
    )
    return folder


def _statistics(local_root: Path, train: pa.Table, evaluation: pa.Table | None = None) -> dict[str, Any]:
    examples = _examples(local_root / "examples", train, evaluation)
    out = local_root / "statistics"
    main(["statistics", "--examples", str(examples), "--statistics", str(out)])
    found = {}
    for split in ("train", "eval"):
        stats_list = statistics_pb2.DatasetFeatureStatisticsList()
        stats_list.ParseFromString((out / f"Split-{split}" / "FeatureStats.pb").read_bytes())
        assert len(stats_list.datasets) == 1
        found[split] = stats_list.datasets[0]
    return found


def _feature(dataset: Any, *path: str) -> Any:
    matches = [f for f in dataset.features if tuple(f.path.step) == path]
    assert len(matches) == 1, path
    return matches[0]


def test_numeric_statistics_match_numpy(local_root: Path) -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(3.0, 2.0, 1000)
    values[:10] = 0.0
    mask = np.zeros(1000, dtype=bool)
    mask[-50:] = True
    with_nan = values.copy()
    with_nan[100:105] = np.nan
    table = pa.table({"x": pa.array(with_nan, mask=mask)})
    stats = _statistics(local_root, table, table.slice(0, 400))

    dataset = stats["train"]
    assert dataset.num_examples == 1000
    x = _feature(dataset, "x")
    assert x.type == Stats.FLOAT
    present = values[:-50]
    finite = np.delete(present, range(100, 105))
    common = x.num_stats.common_stats
    assert (common.num_non_missing, common.num_missing) == (950, 50)
    assert (common.min_num_values, common.max_num_values, common.tot_num_values) == (1, 1, 950)
    assert x.num_stats.mean == pytest.approx(finite.mean())
    assert x.num_stats.std_dev == pytest.approx(finite.std())
    assert (x.num_stats.min, x.num_stats.max) == (pytest.approx(finite.min()), pytest.approx(finite.max()))
    assert x.num_stats.median == pytest.approx(np.median(finite))
    assert x.num_stats.num_zeros == 10
    standard, quantiles = x.num_stats.histograms
    assert standard.type == statistics_pb2.Histogram.STANDARD
    assert quantiles.type == statistics_pb2.Histogram.QUANTILES
    assert standard.num_nan == quantiles.num_nan == 5
    assert len(standard.buckets) == len(quantiles.buckets) == 10
    assert sum(b.sample_count for b in standard.buckets) == finite.size
    expected_counts, _ = np.histogram(finite, bins=10)
    assert [b.sample_count for b in standard.buckets] == expected_counts.tolist()
    expected_bounds = np.quantile(finite, np.linspace(0, 1, 11))
    assert [b.low_value for b in quantiles.buckets] == pytest.approx(expected_bounds[:-1].tolist())
    assert sum(b.sample_count for b in quantiles.buckets) == pytest.approx(finite.size)
    assert stats["eval"].num_examples == 400


def test_string_statistics_rank_values_by_count(local_root: Path) -> None:
    colors = ["red"] * 5 + ["blue"] * 3 + ["green"] * 3 + [None] * 2 + ["violet"]
    stats = _statistics(local_root, pa.table({"color": colors}))
    color = _feature(stats["train"], "color")
    assert color.type == Stats.STRING
    s = color.string_stats
    assert s.unique == 4
    assert [(v.value, v.frequency) for v in s.top_values] == [
        ("red", 5),
        ("blue", 3),
        ("green", 3),
        ("violet", 1),
    ]
    assert [(b.low_rank, b.high_rank, b.label, b.sample_count) for b in s.rank_histogram.buckets] == [
        (0, 0, "red", 5),
        (1, 1, "blue", 3),
        (2, 2, "green", 3),
        (3, 3, "violet", 1),
    ]
    assert s.avg_length == pytest.approx((5 * 3 + 3 * 4 + 3 * 5 + 6) / 12)
    assert (s.common_stats.num_non_missing, s.common_stats.num_missing) == (12, 2)


def test_booleans_are_categorical_ints(local_root: Path) -> None:
    stats = _statistics(local_root, pa.table({"flag": [True, True, False, None, True]}))
    flag = _feature(stats["train"], "flag")
    assert flag.type == Stats.INT
    assert flag.WhichOneof("stats") == "string_stats"
    assert [(v.value, v.frequency) for v in flag.string_stats.top_values] == [("1", 3), ("0", 1)]


def test_struct_columns_are_flattened_to_paths(local_root: Path) -> None:
    rows = [{"age": 30, "city": "Oslo"}, None, {"age": None, "city": "Rome"}, {"age": 50, "city": "Oslo"}]
    stats = _statistics(local_root, pa.table({"user": rows}))
    dataset = stats["train"]
    user = _feature(dataset, "user")
    assert user.type == Stats.STRUCT
    assert user.struct_stats.common_stats.num_missing == 1
    age = _feature(dataset, "user", "age")
    assert age.type == Stats.INT
    assert (age.num_stats.common_stats.num_non_missing, age.num_stats.common_stats.num_missing) == (2, 2)
    assert age.num_stats.mean == 40
    assert _feature(dataset, "user", "city").string_stats.unique == 2


def test_list_columns_count_values_per_example(local_root: Path) -> None:
    stats = _statistics(local_root, pa.table({"tags": [[1, 2], [3], None, [], [4, 5, 6]]}))
    tags = _feature(stats["train"], "tags")
    common = tags.num_stats.common_stats
    assert (common.num_non_missing, common.num_missing) == (4, 1)
    assert (common.min_num_values, common.max_num_values, common.tot_num_values) == (0, 3, 6)
    assert common.avg_num_values == 1.5
    assert tags.num_stats.mean == 3.5


def test_constant_column_has_one_bucket(local_root: Path) -> None:
    stats = _statistics(local_root, pa.table({"k": [7.0] * 20}))
    k = _feature(stats["train"], "k")
    assert (k.num_stats.min, k.num_stats.max, k.num_stats.std_dev) == (7.0, 7.0, 0.0)
    assert [(b.low_value, b.high_value, b.sample_count) for b in k.num_stats.histograms[0].buckets] == [
        (7, 7, 20)
    ]


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (pa.array([1, 2], pa.int8()), Stats.INT),
        (pa.array([1, 2], pa.uint32()), Stats.INT),
        (pa.array([1.5, 2.5], pa.float32()), Stats.FLOAT),
        (pa.array(["a", "b"], pa.large_string()), Stats.STRING),
        (pa.array(["a", "b"]).dictionary_encode(), Stats.STRING),
        (pa.array([b"\x00", b"\x01"]), Stats.BYTES),
        (pa.array([0, 86_400], pa.timestamp("s")), Stats.INT),
        (pa.array([0, 1], pa.date32()), Stats.INT),
        (pa.array([[1.0], [2.0, 3.0]]), Stats.FLOAT),
    ],
)
def test_arrow_types_map_to_tfdv_types(local_root: Path, array: pa.Array, expected: int) -> None:
    assert _feature(_statistics(local_root, pa.table({"c": array}))["train"], "c").type == expected


def test_all_null_columns_are_left_out(local_root: Path) -> None:
    stats = _statistics(local_root, pa.table({"x": [1, 2], "nothing": pa.nulls(2)}))
    assert [tuple(f.path.step) for f in stats["train"].features] == [("x",)]


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        (lambda root: root / "missing", "not an examples artifact: no metadata.json"),
        (
            lambda root: _examples(
                root / "ex", pa.table({"m": pa.array([[("k", 1)]], pa.map_(pa.string(), pa.int64()))})
            ),
            "column m: unsupported Arrow type map<string, int64",
        ),
    ],
)
def test_bad_examples_fail_with_one_line(
    local_root: Path, capsys: pytest.CaptureFixture[str], prepare: object, message: str
) -> None:
    examples = prepare(local_root)  # type: ignore[operator]
    out = local_root / "statistics"
    with pytest.raises(SystemExit) as exit_info:
        main(["statistics", "--examples", str(examples), "--statistics", str(out)])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("mlopsctl-stage statistics: ") and message in err
    assert err.count("\n") == 1
    assert not out.exists()
