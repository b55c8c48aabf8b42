"""What the drift tests recompute independently of the stage runtime: Jensen-Shannon divergence and
L-infinity distance as Vertex AI and TFDV define them, and instances to compare."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial.distance import jensenshannon

COUNTRIES = ["be", "nl", "fr"]


def jsd(serving: list[float], baseline: list[float]) -> float:
    """Jensen-Shannon divergence (base 2) of histograms on 10 equal bins over the baseline's range, plus
    one open bin on each side."""
    low, high = min(baseline), max(baseline)
    edges = np.linspace(low, high, 11)

    def counts(values: list[float]) -> np.ndarray:
        x = np.asarray(values)
        inner = np.histogram(x[(x >= low) & (x <= high)], bins=edges)[0]
        return np.concatenate([[np.sum(x < low)], inner, [np.sum(x > high)]])

    return float(jensenshannon(counts(serving), counts(baseline), base=2) ** 2)


def l_infinity(serving: list[str], baseline: list[str]) -> float:
    """The largest difference in the share of any one value."""
    values = set(serving) | set(baseline)
    return max(abs(serving.count(v) / len(serving) - baseline.count(v) / len(baseline)) for v in values)


def instances(count: int, mean: float, seed: int, lean: bool = False) -> list[dict[str, Any]]:
    """Instances of amounts around ``mean`` and countries in turn; with ``lean``, every other from ``fr``."""
    rng = np.random.default_rng(seed)
    return [
        {"amount": float(rng.normal(mean, 2)), "country": "fr" if lean and i % 2 else COUNTRIES[i % 3]}
        for i in range(count)
    ]
