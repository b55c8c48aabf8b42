"""Durations as users write them: ``30s``, ``15m``, ``1h30m``, ``7d``."""

from __future__ import annotations

import re

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str) -> int:
    """Seconds in ``text``; raises ValueError for anything but ``[Nd][Nh][Nm][Ns]``."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"invalid duration '{text}': use forms such as 30s, 15m, 1h30m or 7d")
    return sum(int(n) * _UNITS[u] for n, u in zip(match.groups(), "dhms", strict=True) if n)


def format_seconds(seconds: int) -> str:
    """The shortest ``[Nd][Nh][Nm][Ns]`` spelling of ``seconds`` (``0s`` for zero)."""
    parts = []
    for unit, size in _UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
