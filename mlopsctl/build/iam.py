"""Least-privilege grants: each workload's Google account gets only the roles its references need."""

from __future__ import annotations

from mlopsctl.build.context import BuildContext


def build(ctx: BuildContext) -> None:
    """Adds nothing yet."""
