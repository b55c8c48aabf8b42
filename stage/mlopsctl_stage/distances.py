"""Distances between a feature's serving and baseline distributions, as TFDV and Vertex AI define them.

- numeric: the Jensen-Shannon divergence (base 2, so within [0, 1]) of two histograms on the same
  bins: ``BINS`` equal-width bins over the baseline's range, plus one open bin below it and one
  above it, so that serving values outside the baseline's range count as drift;
- categorical: the L-infinity distance of the two normalized value frequencies, the largest
  difference in the share of any one value.

Missing values (null) are left out of both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow.compute as pc

from mlopsctl_stage.features import Column

BINS = 10
"""Equal-width bins over the baseline's range (TFDV's standard histogram has 10)."""
TOP_VALUES = 50
"""Categorical values kept in the statistics written for a run (the most frequent in either data)."""


@dataclass(frozen=True)
class Comparison:
    """The distance of one feature, with the counts and distributions it was computed from.

    ``distance`` is None when either side has no values to compare.
    """

    distance: float | None
    serving_count: int
    baseline_count: int
    statistics: dict[str, Any]


def compare(kind: str, serving: Column, baseline: Column) -> Comparison:
    """The distance of ``kind`` between two columns: floats (``numeric``) or strings (``categorical``)."""
    if kind == "numeric":
        return numeric(_floats(serving), _floats(baseline))
    return categorical(pc.drop_null(serving), pc.drop_null(baseline))


def numeric(serving: npt.NDArray[np.float64], baseline: npt.NDArray[np.float64]) -> Comparison:
    """Jensen-Shannon divergence of the two samples' histograms, binned on the baseline."""
    from scipy.spatial.distance import jensenshannon

    if not serving.size or not baseline.size:
        return Comparison(None, serving.size, baseline.size, {})
    edges = np.histogram_bin_edges(baseline, bins=BINS)
    serving_counts = _bin_counts(serving, edges[0], edges[-1])
    baseline_counts = _bin_counts(baseline, edges[0], edges[-1])
    divergence = float(jensenshannon(serving_counts, baseline_counts, base=2) ** 2)
    return Comparison(
        min(max(divergence, 0.0), 1.0),
        serving.size,
        baseline.size,
        {
            "edges": [float(e) for e in edges],
            "serving": [int(c) for c in serving_counts],
            "baseline": [int(c) for c in baseline_counts],
        },
    )


def categorical(serving: Column, baseline: Column) -> Comparison:
    """L-infinity distance of the two samples' normalized value frequencies."""
    serving_freq = _frequencies(serving)
    baseline_freq = _frequencies(baseline)
    if not serving_freq or not baseline_freq:
        return Comparison(None, len(serving), len(baseline), {})
    values = serving_freq.keys() | baseline_freq.keys()
    distance = max(abs(serving_freq.get(v, 0.0) - baseline_freq.get(v, 0.0)) for v in values)
    top = sorted(values, key=lambda v: (-max(serving_freq.get(v, 0.0), baseline_freq.get(v, 0.0)), v))
    kept = top[:TOP_VALUES]
    return Comparison(
        distance,
        len(serving),
        len(baseline),
        {
            "serving": {v: serving_freq[v] for v in kept if v in serving_freq},
            "baseline": {v: baseline_freq[v] for v in kept if v in baseline_freq},
        },
    )


def _bin_counts(values: npt.NDArray[np.float64], low: float, high: float) -> npt.NDArray[np.int64]:
    """Counts in the open bin below ``low``, the BINS equal bins over [low, high], the open bin above."""
    inner = np.clip(np.floor((values - low) / ((high - low) / BINS)), 0, BINS - 1).astype(np.int64) + 1
    inner[values < low] = 0
    inner[values > high] = BINS + 1
    return np.bincount(inner, minlength=BINS + 2).astype(np.int64)


def _floats(values: Column) -> npt.NDArray[np.float64]:
    return np.asarray(pc.drop_null(values).to_numpy(zero_copy_only=False), dtype=np.float64)


def _frequencies(values: Column) -> dict[str, float]:
    if not len(values):
        return {}
    counts = pc.value_counts(values)
    total = len(values)
    return {
        str(v): int(c) / total
        for v, c in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
    }
