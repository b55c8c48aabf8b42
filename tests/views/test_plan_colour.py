"""Colour in Terraform's scheme, on the signs only: without colour the text is unchanged, and with
it the text is the same once the ANSI codes are taken out. When to colour: a terminal, no
--no-color, no NO_COLOR."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterator
from typing import TextIO

import pytest
from helpers import PROD, make_change

from mlopsctl.config.target import Target
from mlopsctl.io.terminal import use_colour
from mlopsctl.plan import Action, Plan, TargetPlan
from mlopsctl.views.plan_compact import render_compact
from mlopsctl.views.plan_text import render_change, render_text

DEV = Target("dev", "us-central1")
CREATE = (Action.CREATE,)
UPDATE = (Action.UPDATE,)
DELETE = (Action.DELETE,)
REPLACE = (Action.DELETE, Action.CREATE)

GREEN, RED, YELLOW, BOLD, RESET = "\x1b[32m", "\x1b[31m", "\x1b[33m", "\x1b[1m", "\x1b[0m"
SGR = re.compile(r"\x1b\[[0-9;]*m")

PLAN = Plan(
    "acme",
    (
        TargetPlan(DEV, unchanged=2),
        TargetPlan(
            PROD,
            (
                make_change(CREATE, None, {"name": "new", "labels": {"a": "1"}}, name="new"),
                make_change(
                    UPDATE, {"n": 1, "gone": True, "list": [1, 2]}, {"n": 2, "list": [1, 3]}, name="up"
                ),
                make_change(
                    REPLACE, {"location": "US"}, {"location": "EU"}, name="moved", replace_paths=("location",)
                ),
                make_change(DELETE, {"name": "old"}, None, name="old", protect=True),
            ),
        ),
    ),
)
VIEWS = {"text": render_text, "compact": render_compact}


@pytest.mark.parametrize("render", VIEWS.values(), ids=VIEWS.keys())
def test_colour_only_adds_codes(render: Callable[..., str]) -> None:
    plain, coloured = render(PLAN), render(PLAN, color=True)
    assert render(PLAN, color=False) == plain
    assert SGR.search(plain) is None
    assert coloured != plain and SGR.sub("", coloured) == plain


SIGNS = {
    "create": (0, f"  {GREEN}+{RESET} resource"),
    "update": (1, f"  {YELLOW}~{RESET} resource"),
    "replace": (2, f"{RED}-{RESET}/{GREEN}+{RESET} resource"),
    "delete": (3, f"  {RED}-{RESET} resource"),
}


@pytest.mark.parametrize(("index", "start"), SIGNS.values(), ids=SIGNS.keys())
def test_the_resource_line_is_signed_in_terraform_colours(index: int, start: str) -> None:
    rendered = render_change(PLAN.changes[index], color=True)
    assert next(line for line in rendered.splitlines() if "resource" in line).startswith(start)


def test_entries_headers_and_marks() -> None:
    update = render_change(PLAN.changes[1], color=True).splitlines()
    assert (
        update[0]
        == f"  {BOLD}# prod/us-central1/gcp:storage/bucket:Bucket/up{RESET} will be updated in-place"
    )
    assert f"      {RED}-{RESET} gone = true" in update
    assert f"      {YELLOW}~{RESET} n    = 1 -> 2" in update
    assert f"          {GREEN}+{RESET} 3," in update
    assert "            # (1 unchanged element hidden)" in update
    replace = render_change(PLAN.changes[2], color=True).splitlines()
    assert f'      {YELLOW}~{RESET} location = "US" -> "EU" {RED}# forces replacement{RESET}' in replace


def test_compact_lines_and_summaries() -> None:
    lines = render_compact(PLAN, color=True).splitlines()
    assert lines[4] == f"  {YELLOW}~{RESET} prod/us-central1/gcp:storage/bucket:Bucket/up  (gone, list, n)"
    assert lines[-1] == f"{BOLD}Plan:{RESET} 2 to add, 1 to change, 2 to destroy."
    assert render_text(Plan("acme"), color=True) == (
        f"{BOLD}{GREEN}No changes.{RESET}{BOLD} Your infrastructure matches the configuration.{RESET}\n"
    )


@pytest.fixture
def terminal() -> Iterator[TextIO]:
    """A real terminal: the far side of a pseudo-terminal."""
    leader, follower = os.openpty()
    with open(follower, "w", encoding="utf-8") as stream:
        yield stream
    os.close(leader)


# stream is a terminal, NO_COLOR (None: unset), --no-color -> colour
WHEN = {
    "a terminal": (True, None, False, True),
    "a pipe or file": (False, None, False, False),
    "--no-color": (True, None, True, False),
    "NO_COLOR set": (True, "1", False, False),
    "NO_COLOR empty": (True, "", False, True),
    "NO_COLOR and not a terminal": (False, "1", False, False),
}


@pytest.mark.parametrize(("tty", "no_color", "flag", "expected"), WHEN.values(), ids=WHEN.keys())
def test_use_colour(
    terminal: TextIO,
    monkeypatch: pytest.MonkeyPatch,
    tty: bool,
    no_color: str | None,
    flag: bool,
    expected: bool,
) -> None:
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    assert terminal.isatty()
    assert use_colour(terminal if tty else io.StringIO(), flag) is expected


def test_a_closed_stream_gets_no_colour() -> None:
    stream = io.StringIO()
    stream.close()
    assert use_colour(stream, no_color_flag=False) is False
