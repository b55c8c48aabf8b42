"""The plan: what applying the configuration would change, and its renderings."""

from __future__ import annotations

from mlopsctl.plan.diff import (
    Action,
    Existing,
    Plan,
    ResourceChange,
    Summary,
    TargetPlan,
    blocked_by_protection,
    destructive_changes,
    diff_plan,
    diff_target,
)

__all__ = [
    "Action",
    "Existing",
    "Plan",
    "ResourceChange",
    "Summary",
    "TargetPlan",
    "blocked_by_protection",
    "destructive_changes",
    "diff_plan",
    "diff_target",
]
