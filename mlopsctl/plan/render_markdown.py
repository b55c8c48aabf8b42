"""The plan as a pull-request comment (GitHub-flavoured Markdown).

Destructive changes are flagged first, then a summary table of the targets
that change, then each resource's text rendering in a collapsible block.
"""

from __future__ import annotations

import html
import re
from dataclasses import astuple

from mlopsctl.plan.diff import Plan, ResourceChange, TargetPlan, destructive_changes
from mlopsctl.plan.render_text import describe, render_change, summary_line

_LEADING_SIGN = re.compile(r"^( +)([+-]) ", re.MULTILINE)


def render_markdown(plan: Plan) -> str:
    changed = [t for t in plan.targets if t.changes]
    unchanged = [t for t in plan.targets if not t.changes]
    parts = [f"## Plan for {_html(plan.project)}"]
    parts += _warning(destructive_changes(plan))
    if changed:
        parts.append(_table(changed))
    if unchanged:
        parts.append("No changes: " + ", ".join(_html(str(t.target)) for t in unchanged))
    parts += [_target_section(t) for t in changed]
    parts.append(f"**{summary_line(plan)}**")
    return "\n\n".join(parts) + "\n"


def _warning(changes: list[ResourceChange]) -> list[str]:
    if not changes:
        return []
    lines = ["> [!WARNING]", f"> **{len(changes)} destructive change{'s' if len(changes) > 1 else ''}:**"]
    for c in changes:
        note = " (protected: needs `--allow-destroy`)" if c.protect else ""
        lines.append(f"> - <code>{_html(c.address)}</code> {describe(c)}{note}")
    return ["\n".join(lines)]


def _table(targets: list[TargetPlan]) -> str:
    rows = ["| Environment | Region | Add | Change | Destroy |", "|---|---|--:|--:|--:|"]
    for t in targets:
        cells = [_cell(t.target.env), _cell(t.target.region), *map(str, astuple(t.summary))]
        rows.append(f"| {' | '.join(cells)} |")
    return "\n".join(rows)


def _target_section(plan: TargetPlan) -> str:
    return "\n\n".join([f"### {_html(str(plan.target))}", *(_details(c) for c in plan.changes)])


def _details(change: ResourceChange) -> str:
    summary = f"<summary><code>{_html(change.address)}</code> {describe(change)}</summary>"
    return f"<details>{summary}\n\n{_fenced(_highlight(render_change(change)))}\n\n</details>"


def _highlight(text: str) -> str:
    """Move each ``+``/``-`` sign to column 0, where a ``diff`` block colours the line."""
    return _LEADING_SIGN.sub(lambda m: f"{m[2]}{m[1]}", text)


def _fenced(text: str) -> str:
    """A ``diff`` code block whose fence is longer than any backtick run in ``text``."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}diff\n{text}\n{fence}"


def _html(text: str) -> str:
    return html.escape(text, quote=False)


def _cell(text: str) -> str:
    return _html(text).replace("|", "\\|")
