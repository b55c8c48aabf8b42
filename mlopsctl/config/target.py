"""Where a configuration is compiled for: one environment in one region."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """One environment in one region: the unit of compilation, state and apply."""

    env: str
    region: str

    def __str__(self) -> str:
        return f"{self.env}/{self.region}"
