"""Arithmetic on float64 values of any magnitude, up to the largest finite one (about 1.8e308)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def scale(values: npt.ArrayLike) -> float:
    """A power of two above half the largest magnitude of ``values`` (1 when that is infinite or 0).

    Dividing by it is exact, and the sums and differences of the quotients cannot overflow, as those
    of values near 1e308 do: a mean, a range or bin edges computed on ``values / scale`` and multiplied
    back are the ones computed on ``values``, bit for bit, wherever those are finite.
    """
    largest = float(np.max(np.abs(values)))
    if not np.isfinite(largest) or largest == 0:
        return 1.0
    return float(np.ldexp(1.0, int(np.frexp(largest)[1]) - 1))


def edges(low: float, high: float, bins: int) -> npt.NDArray[np.float64]:
    """``bins`` equal bins from ``low`` to ``high`` (``bins + 1`` edges), even when ``high - low``
    passes the largest float."""
    unit = scale([low, high])
    return np.linspace(low / unit, high / unit, bins + 1) * unit
