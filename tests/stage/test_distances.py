"""Distances between serving and baseline distributions: Jensen-Shannon divergence and L-infinity."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pytest

from mlopsctl_stage.distances import (
    BINS,
    PIECE,
    against_tallies,
    categorical,
    compare,
    numeric,
    reference,
    tally,
)


def js_divergence(p: Sequence[float], q: Sequence[float]) -> float:
    """Base-2 Jensen-Shannon divergence from its definition, for comparison."""
    p_n = np.asarray(p, float) / sum(p)
    q_n = np.asarray(q, float) / sum(q)
    m = (p_n + q_n) / 2

    def kl(a: np.ndarray, b: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / b[mask])))

    return 0.5 * kl(p_n, m) + 0.5 * kl(q_n, m)


def floats(values: list[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


@pytest.mark.parametrize(
    ("serving", "baseline", "expected"),
    [
        # the same sample: no divergence
        (list(range(100)), list(range(100)), 0.0),
        # every serving value above the baseline's maximum: all mass in the open bin, full divergence
        ([500.0] * 10, list(range(100)), 1.0),
        ([-5.0] * 3, list(range(100)), 1.0),
        # half the serving mass in the baseline's first bin, half in its last
        ([0.0] * 50 + [99.0] * 50, list(range(100)), None),
    ],
)
def test_numeric_divergence(serving: list[float], baseline: list[float], expected: float | None) -> None:
    found = numeric(floats(serving), floats(baseline))
    assert found.distance is not None
    if expected is None:
        # baseline: 10 per bin; serving: 50 in the first and last bins
        expected = js_divergence([0, 50] + [0] * 8 + [50, 0], [0] + [10] * 10 + [0])
    assert found.distance == pytest.approx(expected, abs=1e-12)
    assert 0.0 <= found.distance <= 1.0
    assert found.serving_count == len(serving) and found.baseline_count == len(baseline)


def test_numeric_bins_are_the_baselines() -> None:
    baseline = floats([0.0, 1.0, 2.0, 10.0])
    found = numeric(floats([-1.0, 0.5, 10.0, 11.0]), baseline)
    edges = found.statistics["edges"]
    assert edges == pytest.approx(list(np.linspace(0.0, 10.0, BINS + 1)))
    # below the range, first bin, last bin (the maximum is inside), above the range
    assert found.statistics["serving"] == [1, 1] + [0] * 8 + [1, 1]
    assert found.statistics["baseline"] == [0, 1, 1, 1] + [0] * 6 + [1, 0]
    assert sum(found.statistics["baseline"]) == 4


def test_numeric_divergence_matches_its_definition_on_shifted_normals() -> None:
    rng = np.random.default_rng(7)
    baseline = rng.normal(0, 1, 20_000)
    serving = rng.normal(0.5, 1, 5_000)
    found = numeric(serving, baseline)
    assert found.distance == pytest.approx(
        js_divergence(found.statistics["serving"], found.statistics["baseline"]), rel=1e-9
    )
    assert found.distance is not None
    assert 0.02 < found.distance < 0.2  # a half-sigma shift is a clear but partial drift


@pytest.mark.parametrize(
    ("serving", "baseline", "expected"),
    [
        (["a", "b"], ["b", "a"], 0.0),
        (["a"] * 8 + ["b"] * 2, ["a"] * 5 + ["b"] * 5, 0.3),
        (["c"], ["a", "b"], 1.0),  # a value the baseline never had
        (["a", "b", "c", "d"], ["a", "a", "a", "a"], 0.75),
    ],
)
def test_categorical_l_infinity(serving: list[str], baseline: list[str], expected: float) -> None:
    found = categorical(pa.array(serving), pa.array(baseline))
    assert found.distance == pytest.approx(expected)
    assert found.statistics["serving"] == pytest.approx(
        {v: serving.count(v) / len(serving) for v in set(serving)}
    )


@pytest.mark.parametrize("kind", ["numeric", "categorical"])
def test_nothing_to_compare(kind: str) -> None:
    values = pa.array([1.0, None]) if kind == "numeric" else pa.array(["a", None])
    empty = pa.array([None], values.type)
    assert compare(kind, empty, values).distance is None
    assert compare(kind, values, empty).distance is None
    found = compare(kind, values, values)
    assert found.distance == 0.0
    assert (found.serving_count, found.baseline_count) == (1, 1)  # nulls are left out


def test_constant_baseline() -> None:
    found = numeric(floats([3.0] * 5), floats([3.0] * 10))
    assert found.distance == 0.0
    shifted = numeric(floats([4.0] * 5), floats([3.0] * 10))
    assert shifted.distance == pytest.approx(1.0)
    assert not math.isnan(shifted.distance or math.nan)


def test_numeric_columns_in_chunks_bin_as_one_sample() -> None:
    """Columns as the stage reads them: many chunks, some longer than a piece, with missing values;
    the baseline's minimum and maximum in different chunks."""
    rng = np.random.default_rng(3)
    serving = rng.normal(0.3, 1, 3 * PIECE)
    baseline = rng.normal(0, 1, 2 * PIECE + 5)
    baseline[7], baseline[-2] = -9.0, 9.0

    def chunked(values: np.ndarray, cuts: list[int]) -> pa.ChunkedArray:
        parts = np.split(values, cuts)
        return pa.chunked_array([pa.array([*part, None]) for part in parts])

    found = compare("numeric", chunked(serving, [10, 2 * PIECE + 3]), chunked(baseline, [PIECE]))
    expected = numeric(serving, baseline)
    assert found == expected
    assert found.statistics["edges"][0] == -9.0 and found.statistics["edges"][-1] == 9.0
    assert (found.serving_count, found.baseline_count) == (serving.size, baseline.size)


@pytest.mark.parametrize(
    ("kind", "serving", "baseline"),
    [
        ("numeric", [0.5, None, 2.0, 7.5, -1.0, 3.0, 3.0], [0.0, 1.0, 2.0, 3.0, None]),
        ("categorical", ["a", "b", None, "c", "a", "a", "d"], ["a", "b", "b", None]),
    ],
)
def test_serving_values_counted_in_parts_compare_as_a_whole(
    kind: str, serving: list[object], baseline: list[object]
) -> None:
    """As the stage counts a feature: slice by slice against the baseline's reference, an empty slice
    and one of missing values among them."""
    whole, base = pa.array(serving), pa.array(baseline)
    parts = [whole.slice(0, 3), whole.slice(3, 0), pa.array([None], whole.type), whole.slice(3)]
    tallies = [tally(part, reference(kind, base)) for part in parts]
    assert against_tallies(tallies, reference(kind, base)) == compare(kind, whole, base)
    assert against_tallies([], reference(kind, base)).distance is None
