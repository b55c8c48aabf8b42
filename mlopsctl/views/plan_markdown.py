"""The plan as a pull-request comment (GitHub-flavoured Markdown).

Destructive changes are flagged first, then a summary table of the targets
that change, then each resource's text rendering in a collapsible block.
GitHub refuses comments over 65,536 characters, so the collapsible blocks
that do not fit a size limit are left out whole, never cut (a cut fence or
tag would break the rendering of everything after it).
"""

from __future__ import annotations

import html
import re

from mlopsctl.config.diagnostics import plural
from mlopsctl.plan.cost import Range, TargetCost, plan_costs, prices
from mlopsctl.plan.diff import Action, Plan, ResourceChange, TargetPlan, destructive_changes
from mlopsctl.views.plan_mermaid import pipeline_flowchart
from mlopsctl.views.plan_text import describe, render_change, summary_line

_LEADING_SIGN = re.compile(r"^( +)([+-]) ", re.MULTILINE)
DEFAULT_LIMIT = 60_000  # characters; GitHub refuses comments over 65,536
_FULL_PLAN = "the full plan is in the text output (`mlopsctl plan`)"
PIPELINE_VERSION = "kubernetes:pipelines.kubeflow.org/v2beta1:PipelineVersion"


def render_markdown(plan: Plan, limit: int = DEFAULT_LIMIT) -> str:
    """The comment, within ``limit`` characters unless what always stays is longer.

    The title, warning, summary table, unchanged targets, target headings and the
    last line always stay; resource blocks are kept in order while they fit, and
    each target whose blocks were left out says how many.
    """
    changed = [t for t in plan.targets if t.changes]
    unchanged = [t for t in plan.targets if not t.changes]
    head = [f"## Plan for {_html(plan.project)}", *_warning(destructive_changes(plan))]
    if changed:
        head.append(_table(changed))
        head += _costs(plan_costs(plan))
        head += _pipelines(changed)
    if unchanged:
        head.append("No changes: " + ", ".join(_html(str(t.target)) for t in unchanged))
    foot = f"**{summary_line(plan)}**"
    blocks = [[_details(c) for c in t.changes] for t in changed]

    def parts(kept: int) -> list[str]:
        return [*head, *_target_sections(changed, blocks, kept), foot]

    total = sum(map(len, blocks))
    kept = total
    if _length(parts(total)) > limit:
        kept = 0
        while kept < total and _length(parts(kept + 1)) <= limit:
            kept += 1
    return "\n\n".join(parts(kept)) + "\n"


def _length(parts: list[str]) -> int:
    """The length of ``parts`` joined by blank lines, with the final newline."""
    return sum(map(len, parts)) + 2 * (len(parts) - 1) + 1


def _target_sections(targets: list[TargetPlan], blocks: list[list[str]], kept: int) -> list[str]:
    """One section per target, holding the first ``kept`` blocks over all targets in order."""
    sections = []
    for target, own in zip(targets, blocks, strict=True):
        shown, kept = own[:kept], max(0, kept - len(own))
        left_out = [_left_out(len(own) - len(shown))] if len(shown) < len(own) else []
        sections.append("\n\n".join([f"### {_html(str(target.target))}", *shown, *left_out]))
    return sections


def _left_out(count: int) -> str:
    details = plural(count, "resource detail")
    return f"_{details} left out to keep this comment short; {_FULL_PLAN}._"


def _warning(changes: list[ResourceChange]) -> list[str]:
    if not changes:
        return []
    lines = ["> [!WARNING]", f"> **{plural(len(changes), 'destructive change')}:**"]
    for c in changes:
        note = " (protected: needs `--allow-destroy`)" if c.protect else ""
        lines.append(f"> - <code>{_html(c.address)}</code> {describe(c)}{note}")
    return ["\n".join(lines)]


def _table(targets: list[TargetPlan]) -> str:
    """Per target, what it adds, changes and destroys; what it imports too when any target imports."""
    imports = any(t.summary.imports for t in targets)
    head = ["Environment", "Region", *(["Import"] if imports else []), "Add", "Change", "Destroy"]
    rows = [f"| {' | '.join(head)} |", f"|---|---|{'--:|' * (len(head) - 2)}"]
    for t in targets:
        s = t.summary
        counts = [*([s.imports] if imports else []), s.add, s.change, s.destroy]
        rows.append(f"| {' | '.join([_cell(t.target.env), _cell(t.target.region), *map(str, counts)])} |")
    return "\n".join(rows)


def _costs(costs: list[TargetCost]) -> list[str]:
    if not costs:
        return []
    table = prices()
    rows = [
        "**Estimated monthly cost of the changed node pools** (smallest to largest size; "
        f"on-demand list prices of {table['date']} in us-central1, Spot at {table['spotFactor']:.0%}; "
        "see `mlopsctl/data/prices.json`)",
        "",
        "| Environment | Region | Before | After | Change |",
        "|---|---|--:|--:|--:|",
    ]
    for c in costs:
        cells = [_cell(c.target.env), _cell(c.target.region), _money(c.before), _money(c.after)]
        rows.append(f"| {' | '.join(cells)} | {_money(c.after - c.before, signed=True)} |")
    unpriced = sorted({m for c in costs for m in c.unpriced})
    if unpriced:
        rows += ["", f"_Not in the price table, left out: {_html(', '.join(unpriced))}._"]
    return ["\n".join(rows)]


def _money(cost: Range, *, signed: bool = False) -> str:
    sign = "+" if signed else ""

    def one(x: float) -> str:
        return f"{'-' if x < 0 else sign}${abs(x):,.0f}"

    low, high = one(cost.low), one(cost.high)
    return low if low == high else f"{low} to {high}"


def _pipelines(targets: list[TargetPlan]) -> list[str]:
    """The DAG of each new pipeline version, once for all targets where it is the same."""
    charts: dict[tuple[str, str], list[str]] = {}
    for t in targets:
        for c in t.changes:
            if c.type == PIPELINE_VERSION and c.after is not None and Action.CREATE in c.actions:
                spec = c.after["spec"]
                key = (spec["pipelineName"], pipeline_flowchart(spec["pipelineSpec"]))
                charts.setdefault(key, []).append(str(t.target))
    return [
        f"#### Pipeline <code>{_html(name)}</code>, new version in {_html(', '.join(where))}\n\n"
        f"```mermaid\n{chart}\n```"
        for (name, chart), where in sorted(charts.items())
    ]


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
