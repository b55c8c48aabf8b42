"""The plan as one JSON document, shaped like Terraform's ``show -json``: what saved plans embed
and what ``plan -f json`` prints. An import is Terraform's too: its change has ``"importing": {"id":
...}`` beside its actions (``["no-op"]`` when it changes nothing), and the summary counts it in
``"import"``; both keys appear only when the plan imports."""

from __future__ import annotations

from mlopsctl.config.sourcemap import format_path
from mlopsctl.graph import JSON
from mlopsctl.plan.diff import Plan, ResourceChange

FORMAT_VERSION = "1.0"


def plan_document(plan: Plan) -> dict[str, JSON]:
    summary = plan.summary
    counts: dict[str, JSON] = {"add": summary.add, "change": summary.change, "destroy": summary.destroy}
    if summary.imports:
        counts["import"] = summary.imports
    return {
        "format_version": FORMAT_VERSION,
        "project": plan.project,
        "resource_changes": [_change(c) for c in plan.changes],
        "summary": counts,
    }


def _change(change: ResourceChange) -> dict[str, JSON]:
    found: dict[str, JSON] = {
        "actions": [a.value for a in change.actions],
        "before": change.before,
        "after": change.after,
        "replace_paths": list(change.replace_paths),
    }
    if change.importing is not None:
        found["importing"] = {"id": change.importing}
    return {
        "address": change.address,
        "type": change.type,
        "name": change.name,
        "env": change.target.env,
        "region": change.target.region,
        "change": found,
        "protect": change.protect,
        "source": format_path(change.source) if change.source else None,
    }
