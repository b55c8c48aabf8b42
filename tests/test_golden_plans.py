"""The plan of a pull request, compared with a golden plan (refresh: --update-goldens).

Each case under tests/golden_pairs/ stands for one kind of change: ``before.yaml`` is the
config as merged, ``after.yaml`` the config with the change, and ``plan.txt`` the text plan of
``after`` against the state that applying ``before`` records. A plan should read like the change.
"""

from __future__ import annotations

import pathlib

import pytest
from conftest import ROOT
from golden_support import expect_files

from mlopsctl.api import Validation, applied_as_of, compile_graphs, make_plan, validate
from mlopsctl.config.source import ConfigSource
from mlopsctl.views.plan_text import render_text

PAIRS = ROOT / "tests" / "golden_pairs"
CASES = sorted(p for p in PAIRS.iterdir() if p.is_dir())


def _validated(path: pathlib.Path) -> Validation:
    validation = validate(ConfigSource(path, path.name, None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return validation


def test_every_case_is_a_pair_and_its_plan() -> None:
    assert CASES
    for case in CASES:
        names = {f.name for f in case.iterdir()}
        assert {"before.yaml", "after.yaml"} <= names <= {"before.yaml", "after.yaml", "plan.txt"}, case


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_plan_of_the_change_matches_golden(case: pathlib.Path, update_goldens: bool) -> None:
    before, after = _validated(case / "before.yaml"), _validated(case / "after.yaml")
    plan, _ = make_plan(after, compile_graphs(after), applied_as_of(before))
    assert plan.has_changes, f"{case.name}: after.yaml changes nothing"
    expect_files({"plan.txt": render_text(plan)}, case, update_goldens, whole_folder=False)
