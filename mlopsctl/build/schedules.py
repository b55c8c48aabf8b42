"""Schedules and triggers: Kubernetes CronJobs that start runs of published pipelines."""

from __future__ import annotations

from mlopsctl.build.context import BuildContext


def build(ctx: BuildContext) -> None:
    """Adds nothing yet."""
