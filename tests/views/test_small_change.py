"""A one-field change to a large project plans in a screenful of text, whatever the project's size:
the benchmark's generated project, one field changed in the YAML, planned against the state that
applying the project as generated records."""

from __future__ import annotations

import pathlib
import sys

import pytest
from conftest import ROOT

from mlopsctl.api import compile_graphs, validate
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph
from mlopsctl.plan import Plan, diff_plan
from mlopsctl.state import State, state_from_graph
from mlopsctl.views.plan_text import render_text

sys.path.insert(0, str(ROOT / "benchmarks"))
import generate

MAX_LINES = 30
REGIONS = 3
"""As many prod regions as the benchmark runs with: dev and three prod targets."""


def _graphs(path: pathlib.Path, text: str) -> dict[Target, Graph]:
    path.write_text(text, encoding="utf-8")
    validation = validate(ConfigSource(path, path.name, None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return compile_graphs(validation)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, str, dict[Target, State]]:
    """The generated config, its text, and the state applying it records (without pipelines, which
    these changes do not reach and which take most of the compile time)."""
    path = generate.write(tmp_path_factory.mktemp("bench"), endpoints=20, pipelines=0, regions=REGIONS)
    text = path.read_text(encoding="utf-8")
    applied = {
        t: state_from_graph(g, project="bench", source_commit=None, config_hash="h")
        for t, g in _graphs(path, text).items()
    }
    return path, text, applied


# name -> (text in the generated YAML, its replacement, targets it changes); the first occurrence
CHANGES = {
    "canary step (route weights)": ("currentStep: 0", "currentStep: 1", REGIONS + 1),
    "A/B weights": ("stable: 80\n        next: 20", "stable: 70\n        next: 30", REGIONS + 1),
    "maxReplicas of a variant": ("maxReplicas: 3", "maxReplicas: 5", REGIONS + 1),
    "memory of a variant": ("memory: 2Gi", "memory: 3Gi", REGIONS + 1),
    "prod's CPU pool size": ("maxNodes: 50", "maxNodes: 60", REGIONS),
}


@pytest.mark.parametrize(("old", "new", "targets"), CHANGES.values(), ids=CHANGES.keys())
def test_a_one_field_change_plans_in_a_screenful(
    project: tuple[pathlib.Path, str, dict[Target, State]], old: str, new: str, targets: int
) -> None:
    """One resource changes in each target the field reaches; the text stays short however many
    targets that is, as targets with the same changes are named on one line."""
    path, text, applied = project
    assert old in text
    plan: Plan = diff_plan("bench", _graphs(path, text.replace(old, new, 1)), applied)
    assert [len(t.changes) for t in plan.targets if t.changes] == [1] * targets
    rendered = render_text(plan)
    assert len(rendered.splitlines()) <= MAX_LINES, rendered
