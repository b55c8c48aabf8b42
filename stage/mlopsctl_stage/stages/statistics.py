"""``statistics``: TFMD feature statistics of each split of an examples artifact, as TFDV computes them.

Every column is one feature (a struct column also yields one feature per field, under its struct
path); list columns give several values per example. Types follow TFDV: integers and timestamps are
``INT``, floats ``FLOAT``, strings ``STRING``, binary ``BYTES``; a boolean is a categorical ``INT``
(0/1) with string statistics, as a TF Example holds it. Means, deviations, extremes and counts are
exact; quantiles of large features are estimated from a sample. Features are computed in parallel
threads: the work is in Arrow and NumPy kernels, which release the GIL.
"""

from __future__ import annotations

import argparse
import itertools
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlopsctl_stage import numbers, tfmd
from mlopsctl_stage.artifacts import staged_dir
from mlopsctl_stage.errors import StageError
from mlopsctl_stage.tables import read_examples
from mlopsctl_stage.tfmd import Histogram, Proto, Stats

HISTOGRAM_BUCKETS = 10
TOP_VALUES = 20
RANK_BUCKETS = 1000
"""TFDV's defaults: buckets of the numeric histograms, top values and rank histogram length."""
QUANTILE_SAMPLE = 100_000
"""Quantiles (the median, the quantiles histogram) of more values than this come from a random sample
of this many (a rank error of about 0.2%), as TFDV's own are approximate (sketches)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--examples", required=True, help="The examples artifact (folder).")
    parser.add_argument("--statistics", required=True, help="Where to write the statistics artifact.")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    splits, _ = read_examples(args.examples)
    protos = {name: dataset_statistics(table) for name, table in splits.items()}
    with staged_dir(args.statistics) as out:
        tfmd.write_splits(out, tfmd.STATISTICS_FILE, protos)


def dataset_statistics(table: pa.Table) -> Proto:
    """The ``DatasetFeatureStatisticsList`` of one table: one dataset, TFDV's default slice."""
    result = tfmd.new_statistics_list()
    dataset = result.datasets.add(name=tfmd.DEFAULT_SLICE, num_examples=table.num_rows)
    paths, columns = [], []
    for path, column in _features(table):
        if not pa.types.is_null(column.type):
            paths.append(path)
            columns.append(column)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        features = list(pool.map(feature_statistics, paths, columns, itertools.repeat(table.num_rows)))
    dataset.features.extend(features)
    return result


def feature_statistics(path: tuple[str, ...], column: pa.ChunkedArray, num_rows: int) -> Proto:
    """The ``FeatureNameStatistics`` of one column (``num_rows`` examples)."""
    feature = Stats(path={"step": list(path)})
    value_type = _value_type(column.type)
    values = _decoded(pc.list_flatten(column) if _is_list(column.type) else column, value_type)
    common = _common_statistics(column, num_rows)
    if pa.types.is_boolean(value_type):
        feature.type = Stats.INT
        _string_statistics(feature.string_stats, values.cast(pa.int8()).cast(pa.string()), common)
    elif pa.types.is_integer(value_type) or pa.types.is_temporal(value_type):
        feature.type = Stats.INT
        _numeric_statistics(feature.num_stats, values, common)
    elif pa.types.is_floating(value_type) or pa.types.is_decimal(value_type):
        feature.type = Stats.FLOAT
        _numeric_statistics(feature.num_stats, values, common)
    elif _is_string(value_type):
        feature.type = Stats.STRING
        _string_statistics(feature.string_stats, values, common)
    elif _is_binary(value_type):
        feature.type = Stats.BYTES
        _bytes_statistics(feature.bytes_stats, values, common)
    elif pa.types.is_struct(value_type):
        feature.type = Stats.STRUCT
        feature.struct_stats.common_stats.CopyFrom(common)
    else:
        raise StageError(f"column {'.'.join(path)}", f"unsupported Arrow type {column.type}")
    return feature


def _features(table: pa.Table) -> Iterator[tuple[tuple[str, ...], pa.ChunkedArray]]:
    """Each column with its path, then (for a struct) its fields, with the struct's nulls applied."""

    def walk(
        path: tuple[str, ...], column: pa.ChunkedArray
    ) -> Iterator[tuple[tuple[str, ...], pa.ChunkedArray]]:
        yield path, column
        if pa.types.is_struct(column.type):
            for field, child in zip(column.type, column.flatten(), strict=True):
                yield from walk((*path, field.name), child)

    for name, column in zip(table.column_names, table.columns, strict=True):
        yield from walk((name,), column)


def _common_statistics(column: pa.ChunkedArray, num_rows: int) -> Proto:
    """Presence and valency: how many examples have the feature, and how many values each."""
    common = tfmd.new_common_statistics()
    present = num_rows - column.null_count
    common.num_non_missing = present
    common.num_missing = column.null_count
    if not present:
        return common
    if _is_list(column.type):
        counts = _numbers(pc.list_value_length(column))
        common.min_num_values = int(counts.min())
        common.max_num_values = int(counts.max())
        common.avg_num_values = float(counts.mean())
        common.tot_num_values = int(counts.sum())
        _quantiles_histogram(common.num_values_histogram, counts)
    else:  # one value in each present example
        common.min_num_values = common.max_num_values = 1
        common.avg_num_values = 1.0
        common.tot_num_values = present
        _quantiles_histogram(common.num_values_histogram, np.ones(1), samples=present)
    return common


def _numeric_statistics(stats: Proto, values: pa.ChunkedArray, common: Proto) -> None:
    stats.common_stats.CopyFrom(common)
    data = _numbers(values)
    nan = np.isnan(data)
    num_nan = int(np.count_nonzero(nan))
    if num_nan:
        data = data[~nan]
    standard = stats.histograms.add(num_nan=num_nan, type=Histogram.STANDARD)
    quantiles = stats.histograms.add(num_nan=num_nan, type=Histogram.QUANTILES)
    if not data.size:
        return
    scale = numbers.scale(data)
    stats.mean = float((data / scale).mean()) * scale
    stats.std_dev = float((data / scale).std()) * scale
    stats.min = float(data.min())
    stats.max = float(data.max())
    stats.num_zeros = int(np.count_nonzero(data == 0))
    finite = data if np.isfinite(stats.mean) else data[np.isfinite(data)]
    if finite.size:
        stats.median = float(_quantiles_histogram(quantiles, finite)[HISTOGRAM_BUCKETS // 2])
        _standard_histogram(standard, finite)


def _quantiles_histogram(histogram: Proto, data: np.ndarray, samples: int | None = None) -> np.ndarray:
    """Buckets holding equal shares of the values (``samples`` of them, ``data.size`` unless said);
    returns the bucket boundaries, the inner ones from a sample of ``QUANTILE_SAMPLE`` values at most."""
    sample = data
    if data.size > QUANTILE_SAMPLE:
        sample = data[np.random.default_rng(0).integers(0, data.size, QUANTILE_SAMPLE)]
    scale = numbers.scale(sample)
    boundaries = np.asarray(
        np.quantile(sample / scale, np.linspace(0.0, 1.0, HISTOGRAM_BUCKETS + 1)) * scale, dtype=np.float64
    )
    boundaries[0], boundaries[-1] = data.min(), data.max()
    histogram.type = Histogram.QUANTILES
    share = (data.size if samples is None else samples) / HISTOGRAM_BUCKETS
    for low, high in itertools.pairwise(boundaries):
        histogram.buckets.add(low_value=float(low), high_value=float(high), sample_count=share)
    return boundaries


def _standard_histogram(histogram: Proto, data: np.ndarray) -> None:
    """Equal-width buckets from the minimum to the maximum (one bucket when they are equal)."""
    low, high = float(data.min()), float(data.max())
    if low == high:
        histogram.buckets.add(low_value=low, high_value=high, sample_count=float(data.size))
        return
    scale = numbers.scale(data)
    edges = numbers.edges(low, high, HISTOGRAM_BUCKETS)
    index = ((data / scale - low / scale) * (HISTOGRAM_BUCKETS / (high / scale - low / scale))).astype(
        np.intp
    )
    np.minimum(index, HISTOGRAM_BUCKETS - 1, out=index)  # the maximum goes in the last bucket
    counts = np.bincount(index, minlength=HISTOGRAM_BUCKETS)
    for count, (start, end) in zip(counts, itertools.pairwise(edges), strict=True):
        histogram.buckets.add(low_value=float(start), high_value=float(end), sample_count=float(count))


def _string_statistics(stats: Proto, values: pa.ChunkedArray, common: Proto) -> None:
    stats.common_stats.CopyFrom(common)
    present = values.drop_null()
    if not len(present):
        return
    counts = pa.Table.from_struct_array(pc.value_counts(present))
    stats.unique = counts.num_rows
    stats.avg_length = float(pc.mean(pc.binary_length(present)).as_py())
    top = pc.select_k_unstable(
        counts,
        k=min(RANK_BUCKETS, counts.num_rows),
        sort_keys=[("counts", "descending"), ("values", "ascending")],
    )
    ranked = counts.take(top)
    labels = ranked.column("values").to_pylist()
    frequencies = ranked.column("counts").to_pylist()
    for rank, (label, frequency) in enumerate(zip(labels, frequencies, strict=True)):
        if rank < TOP_VALUES:
            stats.top_values.add(value=label, frequency=frequency)
        stats.rank_histogram.buckets.add(low_rank=rank, high_rank=rank, label=label, sample_count=frequency)


def _bytes_statistics(stats: Proto, values: pa.ChunkedArray, common: Proto) -> None:
    stats.common_stats.CopyFrom(common)
    present = values.drop_null()
    if not len(present):
        return
    lengths = _numbers(pc.binary_length(present))
    stats.unique = int(pc.count_distinct(present).as_py())
    stats.avg_num_bytes = float(lengths.mean())
    stats.min_num_bytes = float(lengths.min())
    stats.max_num_bytes = float(lengths.max())


def _numbers(values: pa.ChunkedArray) -> np.ndarray:
    """The non-null values as float64 (timestamps and dates as their integer encoding)."""
    present = values.drop_null()
    if pa.types.is_temporal(present.type):
        present = present.cast(pa.int32() if present.type.bit_width == 32 else pa.int64())
    return np.asarray(present.cast(pa.float64(), safe=False).to_numpy(), dtype=np.float64)


def _decoded(values: pa.ChunkedArray, value_type: pa.DataType) -> pa.ChunkedArray:
    return values.cast(value_type) if pa.types.is_dictionary(values.type) else values


def _value_type(arrow_type: pa.DataType) -> pa.DataType:
    """The type of the values: the item type of a list, the value type of a dictionary."""
    if _is_list(arrow_type):
        return _value_type(arrow_type.value_type)
    if pa.types.is_dictionary(arrow_type):
        return arrow_type.value_type
    return arrow_type


def _is_list(arrow_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_list(arrow_type)
        or pa.types.is_large_list(arrow_type)
        or pa.types.is_fixed_size_list(arrow_type)
    )


def _is_string(arrow_type: pa.DataType) -> bool:
    return bool(pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type))


def _is_binary(arrow_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_binary(arrow_type)
        or pa.types.is_large_binary(arrow_type)
        or pa.types.is_fixed_size_binary(arrow_type)
    )
