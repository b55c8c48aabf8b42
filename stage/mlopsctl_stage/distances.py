"""Distances between a feature's serving and baseline distributions, as TFDV and Vertex AI define them.

- numeric: the Jensen-Shannon divergence (base 2, so within [0, 1]) of two histograms on the same
  bins: ``BINS`` equal-width bins over the baseline's range, plus one open bin below it and one
  above it, so that serving values outside the baseline's range count as drift;
- categorical: the L-infinity distance of the two normalized value frequencies, the largest
  difference in the share of any one value.

Missing values (null) are left out of both. A baseline is summarised once (:func:`reference`); the
serving values can then be counted against it part by part (:func:`tally`) as they are read, and the
parts compared together (:func:`against_tallies`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from mlopsctl_stage import numbers
from mlopsctl_stage.features import Column

BINS = 10
"""Equal-width bins over the baseline's range (TFDV's standard histogram has 10)."""
TOP_VALUES = 50
"""Categorical values kept in the statistics written for a run (the most frequent in either data)."""
PIECE = 1 << 16
"""Numeric values binned at a time, so that the binning's temporaries stay in the CPU's caches."""


@dataclass(frozen=True)
class Comparison:
    """The distance of one feature, with the counts and distributions it was computed from.

    ``distance`` is None when either side has no values to compare.
    """

    distance: float | None
    serving_count: int
    baseline_count: int
    statistics: dict[str, Any]


@dataclass(frozen=True)
class Reference:
    """A feature's baseline as comparisons need it, summarised once: its count, and its histogram
    (``numeric``: bin edges and counts, None without values) or its value frequencies (``categorical``)."""

    kind: str
    count: int
    histogram: tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]] | None = None
    frequencies: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Tally:
    """Some of a feature's serving values counted against its :class:`Reference`: how many, and how
    many in each bin (``numeric``, None without a histogram) or of each value (``categorical``)."""

    count: int
    bins: npt.NDArray[np.int64] | None = None
    values: pa.StructArray | None = None
    """``pyarrow.compute.value_counts`` of the values."""


def compare(kind: str, serving: Column, baseline: Column) -> Comparison:
    """The distance of ``kind`` between two columns: floats (``numeric``) or strings (``categorical``)."""
    return against(serving, reference(kind, baseline))


def reference(kind: str, baseline: Column) -> Reference:
    """The baseline column of a feature of ``kind``, summarised for :func:`against`."""
    if kind == "numeric":
        return _numeric_reference(_pieces(baseline))
    present = pc.drop_null(baseline)
    return Reference(kind, len(present), frequencies=_frequencies(present))


def against(serving: Column, baseline: Reference) -> Comparison:
    """The distance between a serving column and a baseline summarised by :func:`reference`."""
    return against_tallies([tally(serving, baseline)], baseline)


def tally(serving: Column, baseline: Reference) -> Tally:
    """Serving values (some or all of them) counted against ``baseline``; missing ones left out."""
    if baseline.kind == "numeric":
        return _numeric_tally(_pieces(serving), baseline)
    present = pc.drop_null(serving)
    return Tally(len(present), values=pc.value_counts(present) if len(present) else None)


def against_tallies(tallies: Sequence[Tally], baseline: Reference) -> Comparison:
    """The distance between all the serving values that ``tallies`` counted and ``baseline``."""
    count = sum(t.count for t in tallies)
    if baseline.kind == "numeric":
        return _numeric(count, [t.bins for t in tallies if t.bins is not None], baseline)
    return _categorical(count, _tallied_frequencies(tallies, count), baseline)


def numeric(serving: npt.NDArray[np.float64], baseline: npt.NDArray[np.float64]) -> Comparison:
    """Jensen-Shannon divergence of the two samples' histograms, binned on the baseline."""
    reference = _numeric_reference([baseline])
    return against_tallies([_numeric_tally([serving], reference)], reference)


def categorical(serving: Column, baseline: Column) -> Comparison:
    """L-infinity distance of the two samples' normalized value frequencies."""
    reference = Reference("categorical", len(baseline), frequencies=_frequencies(baseline))
    return _categorical(len(serving), _frequencies(serving), reference)


def _numeric_reference(pieces: list[npt.NDArray[np.float64]]) -> Reference:
    count = sum(p.size for p in pieces)
    if not count:
        return Reference("numeric", 0)
    # The edges span the finite values: an infinite one counts in an open bin, as an outlier does.
    finite = [p[np.isfinite(p)] for p in pieces]
    extremes = [(p.min(), p.max()) for p in finite if p.size] or [(0.0, 0.0)]
    edges = _edges(float(min(e[0] for e in extremes)), float(max(e[1] for e in extremes)))
    return Reference("numeric", count, (edges, _bin_counts(pieces, edges[0], edges[-1])))


def _numeric_tally(pieces: list[npt.NDArray[np.float64]], baseline: Reference) -> Tally:
    count = sum(p.size for p in pieces)
    if not count or baseline.histogram is None:
        return Tally(count)
    edges = baseline.histogram[0]
    return Tally(count, bins=_bin_counts(pieces, edges[0], edges[-1]))


def _numeric(count: int, bins: list[npt.NDArray[np.int64]], baseline: Reference) -> Comparison:
    from scipy.spatial.distance import jensenshannon

    if not count or baseline.histogram is None:
        return Comparison(None, count, baseline.count, {})
    edges, baseline_counts = baseline.histogram
    serving_counts = np.sum(bins, axis=0)
    divergence = float(jensenshannon(serving_counts, baseline_counts, base=2) ** 2)
    return Comparison(
        min(max(divergence, 0.0), 1.0),
        count,
        baseline.count,
        {
            "edges": [float(e) for e in edges],
            "serving": [int(c) for c in serving_counts],
            "baseline": [int(c) for c in baseline_counts],
        },
    )


def _categorical(count: int, serving_freq: dict[str, float], baseline: Reference) -> Comparison:
    baseline_freq = baseline.frequencies
    if not serving_freq or not baseline_freq:
        return Comparison(None, count, baseline.count, {})
    values = serving_freq.keys() | baseline_freq.keys()
    distance = max(abs(serving_freq.get(v, 0.0) - baseline_freq.get(v, 0.0)) for v in values)
    top = sorted(values, key=lambda v: (-max(serving_freq.get(v, 0.0), baseline_freq.get(v, 0.0)), v))
    kept = top[:TOP_VALUES]
    return Comparison(
        distance,
        count,
        baseline.count,
        {
            "serving": {v: serving_freq[v] for v in kept if v in serving_freq},
            "baseline": {v: baseline_freq[v] for v in kept if v in baseline_freq},
        },
    )


def _edges(low: float, high: float) -> npt.NDArray[np.float64]:
    """``BINS`` equal bins from ``low`` to ``high`` (one unit wide around a single value, as numpy's
    ``histogram_bin_edges``)."""
    if low == high:
        low, high = low - 0.5, high + 0.5
    return numbers.edges(low, high, BINS)


def _bin_counts(pieces: list[npt.NDArray[np.float64]], low: float, high: float) -> npt.NDArray[np.int64]:
    """Counts in the open bin below ``low``, the BINS equal bins over [low, high], the open bin above."""
    counts = np.zeros(BINS + 2, dtype=np.int64)
    unit = numbers.scale([low, high])
    width = (high / unit - low / unit) / BINS
    for values in pieces:
        with np.errstate(over="ignore"):  # a value far outside the range: infinite, then in an open bin
            inner = np.clip(np.floor((values / unit - low / unit) / width), 0, BINS - 1).astype(np.int64) + 1
        inner[values < low] = 0
        inner[values > high] = BINS + 1
        counts += np.bincount(inner, minlength=BINS + 2)
    return counts


def _pieces(values: Column) -> list[npt.NDArray[np.float64]]:
    """The values but the missing ones, in pieces of at most ``PIECE`` (views of Arrow's buffers)."""
    pieces = []
    for chunk in values.chunks if isinstance(values, pa.ChunkedArray) else [values]:
        present = pc.drop_null(chunk) if chunk.null_count else chunk
        array = np.asarray(present.to_numpy(zero_copy_only=False), dtype=np.float64)
        pieces += [array[start : start + PIECE] for start in range(0, array.size, PIECE)]
    return pieces


def _frequencies(values: Column) -> dict[str, float]:
    if not len(values):
        return {}
    counts = pc.value_counts(values)
    return _shares(counts.field("values"), counts.field("counts"), len(values))


def _tallied_frequencies(tallies: Sequence[Tally], total: int) -> dict[str, float]:
    parts = [t.values for t in tallies if t.values is not None]
    if not parts:
        return {}
    counts = pa.Table.from_struct_array(pa.chunked_array(parts))
    if len(parts) > 1:
        counts = counts.group_by("values").aggregate([("counts", "sum")]).rename_columns(["values", "counts"])
    return _shares(counts["values"], counts["counts"], total)


def _shares(values: Column, counts: Column, total: int) -> dict[str, float]:
    """Each value's share of ``total``, given how many times each occurs."""
    return {str(v): int(c) / total for v, c in zip(values.to_pylist(), counts.to_pylist(), strict=True)}
