"""The results of render, apply, force-unlock and promote as text and as one JSON document."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING

from mlopsctl.plan.diff import summary_line
from mlopsctl.plan.document import plan_document

if TYPE_CHECKING:
    from mlopsctl.api import ApplyResult, Promotion, RenderResult, Unlocked
    from mlopsctl.config.diagnostics import Diagnostic


def _dump(doc: object) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def render_text(result: RenderResult) -> str:
    return "".join(f"{folder}: {len(files)} files\n" for folder, files in result.folders.values())


def render_json(result: RenderResult) -> str:
    """The config's warnings, and each target's folder and the files in it."""
    folders = {
        str(t): {"folder": str(folder), "files": list(files)} for t, (folder, files) in result.folders.items()
    }
    return _dump({"diagnostics": [d.to_dict() for d in result.validation.diagnostics], "targets": folders})


def apply_json(result: ApplyResult) -> str:
    """The plan that was applied (as ``plan -f json`` prints it) and the target's outcome."""
    return _dump(
        {
            "plan": plan_document(result.plan),
            "summary_line": summary_line(result.plan),
            "outcome": {"changed": result.outcome.changed, "detail": result.outcome.detail},
        }
    )


def unlocked_text(result: Unlocked) -> str:
    return f"Released the lock of {result.what}, held by {result.holder.describe()}.\n"


def unlocked_json(result: Unlocked) -> str:
    return _dump({"released": result.what, "holder": dataclasses.asdict(result.holder)})


def promotion_tail(result: Promotion, dry_run: bool) -> str:
    """The last line of ``promote``: what was (or would be) written."""
    moved = ", ".join(str(t) for t in result.proposal.moved)
    if not result.proposal.moved:
        return "Nothing to promote now.\n"
    if dry_run:
        return f"Dry run: would write {result.lock} for {moved}; nothing was written.\n"
    return f"Wrote {result.lock} for {moved}. Commit it for review, then apply once merged.\n"


def promotion_json(result: Promotion, status_json: str) -> str:
    """``status -f json``'s document for the regions, plus what moved and whether the lock was written."""
    doc = json.loads(status_json)
    doc["moved"] = [str(t) for t in result.proposal.moved]
    doc["lock"] = {"file": str(result.lock), "written": result.written}
    return _dump(doc)


def diagnostics_summary(found: list[Diagnostic], display: str) -> str:
    """``check``'s last line: ``mlops.yaml: 1 error, 2 warnings.``"""
    from mlopsctl.config.diagnostics import plural

    errors = sum(d.is_error for d in found)
    return f"{display}: {plural(errors, 'error')}, {plural(len(found) - errors, 'warning')}.\n"
