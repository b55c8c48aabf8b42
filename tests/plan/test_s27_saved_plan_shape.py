"""``apply --plan FILE`` with a hand-edited or tampered saved plan: valid JSON of the wrong shape is
refused when the file is read, with one message naming the file and what is wrong in it, never an
internal one, and nothing is applied."""

from __future__ import annotations

import copy
import json
import pathlib
from collections.abc import Callable
from typing import Any

import pytest
from helpers import run, save_plan

from mlopsctl import api
from mlopsctl.io import gitutil
from mlopsctl.plan.saved import SavedPlanError, parse_saved_plan

Edit = Callable[[dict[str, Any]], object]
PREFIX = "plan.json is not a plan saved by 'mlopsctl plan --out': "
AGAIN = "; save the plan again with 'mlopsctl plan --out FILE'"


def _set(*path: str | int, to: object) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        _at(doc, path[:-1])[path[-1]] = to

    return edit


def _drop(*path: str | int) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        del _at(doc, path[:-1])[path[-1]]

    return edit


def _at(doc: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


CHANGES = ("plan", "resource_changes")
TAMPERED: dict[str, tuple[Edit, str]] = {
    "a resource that is a string": (
        _set(*CHANGES, 3, to="x"),
        "plan.resource_changes[3]: expected an object, got string 'x'",
    ),
    "the invocation a string": (_set("invocation", to="x"), "invocation: expected an object, got string 'x'"),
    "the invocation a list": (_set("invocation", to=[]), "invocation: expected an object, got list"),
    "environments a string": (
        _set("invocation", "envs", to="prod"),
        "invocation.envs: expected a list, got string 'prod'",
    ),
    "environments an object": (
        _set("invocation", "envs", to={"prod": "x"}),
        "invocation.envs: expected a list, got object",
    ),
    "options null": (
        _set("invocation", "options", to=None),
        "invocation.options: expected an object, got null",
    ),
    "an option an object": (
        _set("invocation", "options", "repo", to={"a": 1}),
        "invocation.options.repo: expected a string, got object",
    ),
    "state hashes a list": (_set("state_hashes", to=["x"]), "state_hashes: expected an object, got list"),
    "the plan a list": (_set("plan", to=[]), "plan: expected an object, got list"),
    "resource changes an object": (
        _set(*CHANGES, to={}),
        "plan.resource_changes: expected a list, got object",
    ),
    "a change a string": (
        _set(*CHANGES, 0, "change", to="x"),
        "plan.resource_changes[0].change: expected an object, got string 'x'",
    ),
    "actions a string": (
        _set(*CHANGES, 0, "change", "actions", to="create"),
        "plan.resource_changes[0].change.actions: expected a list, got string 'create'",
    ),
    "an unknown action": (
        _set(*CHANGES, 0, "change", "actions", to=["explode"]),
        "plan.resource_changes[0].change.actions[0]: expected 'create', 'update', 'delete' or 'no-op', "
        "got string 'explode'",
    ),
    "an address a number": (
        _set(*CHANGES, 0, "address", to=1),
        "plan.resource_changes[0].address: expected a string, got integer 1",
    ),
    "protect a string": (
        _set(*CHANGES, 0, "protect", to="no"),
        "plan.resource_changes[0].protect: expected true or false, got string 'no'",
    ),
    "a count a string": (
        _set("plan", "summary", "add", to="3"),
        "plan.summary.add: expected an integer, got string '3'",
    ),
    "a count true": (
        _set("plan", "summary", "add", to=True),
        "plan.summary.add: expected an integer, got true",
    ),
    "no invocation config": (_drop("invocation", "config"), "missing 'invocation.config'"),
    "no resource changes": (_drop(*CHANGES), "missing 'plan.resource_changes'"),
    "a change without its change": (
        _drop(*CHANGES, 0, "change"),
        "missing 'plan.resource_changes[0].change'",
    ),
    "an extra key": (_set("allow_destroy", to=True), "unexpected key 'allow_destroy'"),
    "an extra key in a resource": (
        _set(*CHANGES, 0, "hack", to=1),
        "unexpected key 'plan.resource_changes[0].hack'",
    ),
}


@pytest.fixture
def saved(source: pathlib.Path, deploy: pathlib.Path) -> dict[str, Any]:
    """The document of a plan saved by 'plan --out', with a few resources."""
    out = source.parent / "plan.json"
    save_plan(source, out, api.TargetSpec(repo=deploy))
    doc: dict[str, Any] = json.loads(out.read_text())
    assert len(doc["plan"]["resource_changes"]) > 3
    return doc


@pytest.mark.parametrize("case", list(TAMPERED))
def test_a_tampered_plan_is_refused_naming_what_is_wrong(saved: dict[str, Any], case: str) -> None:
    edit, problem = TAMPERED[case]
    doc = copy.deepcopy(saved)
    edit(doc)
    with pytest.raises(SavedPlanError) as caught:
        parse_saved_plan(json.dumps(doc), "plan.json")
    assert str(caught.value) == PREFIX + problem + AGAIN


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[]", "expected an object, got list"),
        ('"plan"', "expected an object, got string 'plan'"),
        ("null", "expected an object, got null"),
        (
            '{"format_version": "1.0", "invocation": ' + "[" * 100_000 + "]" * 100_000 + "}",
            "its JSON is nested too deeply",
        ),
        ('{"format_version": 1}', "not a saved plan of format 1.0"),
        ('{"format_version": "1.0", "n": ' + "9" * 5000 + "}", "it holds a number of thousands of digits"),
    ],
)
def test_a_document_that_is_no_plan_at_all(text: str, problem: str) -> None:
    with pytest.raises(SavedPlanError) as caught:
        parse_saved_plan(text, "plan.json")
    assert str(caught.value) == PREFIX + problem + AGAIN


def test_several_problems_are_counted(saved: dict[str, Any]) -> None:
    doc = copy.deepcopy(saved)
    doc["plan"]["resource_changes"][1:3] = ["x", 2]
    doc["source_commit"] = 7
    with pytest.raises(
        SavedPlanError, match=r"source_commit: expected a string, got integer 7 \(and 2 more problems\)"
    ):
        parse_saved_plan(json.dumps(doc), "plan.json")


def test_the_plan_as_saved_still_reads(saved: dict[str, Any]) -> None:
    back = parse_saved_plan(json.dumps(saved), "plan.json")
    assert back.plan == saved["plan"]
    assert back.invocation.envs == () and back.invocation.options == saved["invocation"]["options"]


@pytest.mark.parametrize(
    "case", ["a resource that is a string", "the invocation a string", "environments a string"]
)
def test_cli_apply_refuses_a_tampered_plan_and_applies_nothing(
    saved: dict[str, Any],
    source: pathlib.Path,
    deploy: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
) -> None:
    edit, problem = TAMPERED[case]
    edit(saved)
    monkeypatch.chdir(source.parent)
    (source.parent / "plan.json").write_text(json.dumps(saved))
    head = gitutil.head_commit(deploy)
    code, out, err = run("apply", "--plan", "plan.json")
    assert code == 1 and not out
    assert err == f"error: {PREFIX}{problem}{AGAIN}\n"
    assert gitutil.head_commit(deploy) == head
    assert [p.name for p in deploy.iterdir()] == [".git"]
