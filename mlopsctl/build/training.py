"""Katib experiments for tuning steps; PyTorchJob/TFJob for distributed training steps."""

from __future__ import annotations

from mlopsctl.build.context import BuildContext


def build(ctx: BuildContext) -> None:
    """Adds nothing yet."""
