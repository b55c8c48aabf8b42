"""Artifact Registry: the repository for the project's images."""

from __future__ import annotations

from mlopsctl.build.context import BuildContext


def build(ctx: BuildContext) -> None:
    """Adds nothing yet."""
