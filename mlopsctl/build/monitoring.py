"""Monitors: drift and skew jobs, SLO alerts as PrometheusRules, retraining on alert."""

from __future__ import annotations

from mlopsctl.build.context import BuildContext


def build(ctx: BuildContext) -> None:
    """Adds nothing yet."""
