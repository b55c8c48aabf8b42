"""One entry to the plan's views: text (full or compact, coloured on terminals), JSON or Markdown."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from mlopsctl.plan.diff import Plan


def render(plan: Plan, fmt: str, *, compact: bool = False, no_color: bool = False) -> str:
    """``plan`` in ``fmt`` (text, json or markdown); text is coloured only on a terminal (see
    :func:`mlopsctl.io.terminal.use_colour`)."""
    return "".join(chunks(plan, fmt, compact=compact, no_color=no_color))


def chunks(plan: Plan, fmt: str, *, compact: bool = False, no_color: bool = False) -> Iterable[str]:
    """:func:`render` in pieces to write one after another (a large plan's text is never whole)."""
    if fmt == "json":
        from mlopsctl.views.plan_json import render_json

        return [render_json(plan)]
    if fmt == "markdown":
        from mlopsctl.views.plan_markdown import render_markdown

        return [render_markdown(plan)]
    from mlopsctl.io.terminal import use_colour
    from mlopsctl.views.plan_compact import render_compact
    from mlopsctl.views.plan_text import text_chunks

    colour = use_colour(sys.stdout, no_color)
    return [render_compact(plan, color=colour)] if compact else text_chunks(plan, color=colour)
