"""Cloud Monitoring: notification channels and alert policies for the monitors' SLOs."""

from __future__ import annotations

from mlopsctl.build.context import BuildContext


def build(ctx: BuildContext) -> None:
    """Adds nothing yet."""
