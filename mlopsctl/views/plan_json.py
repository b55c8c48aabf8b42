"""The plan as one machine-readable JSON document (:mod:`mlopsctl.plan.document`)."""

from __future__ import annotations

import json

from mlopsctl.plan.diff import Plan
from mlopsctl.plan.document import plan_document


def render_json(plan: Plan) -> str:
    """One JSON document on one line; sorted keys, changes in plan order."""
    return json.dumps(plan_document(plan), sort_keys=True, allow_nan=False) + "\n"
