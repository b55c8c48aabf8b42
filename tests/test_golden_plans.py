"""The plan of a pull request, compared with a golden plan (refresh: --update-goldens).

Each case under tests/golden_pairs/ stands for one kind of change: ``before.yaml`` is the
config as merged, ``after.yaml`` the config with the change, and ``plan.txt`` the text plan of
``after`` against the state that applying ``before`` records. A plan should read like the change.

Besides the pairs, tests/golden_plans/ holds whole plans against empty state: ``digits-vertex.txt``,
everything the digits example's ``vertex`` environment creates, whose pipelines run on Vertex AI, and
``sensors-vertex.txt``, the sensor-anomaly example's, whose endpoint and monitors do.
"""

from __future__ import annotations

import pathlib

import pytest
from conftest import ROOT
from golden_support import expect_files

from mlopsctl.api import ALL, Selection, Validation, applied_as_of, compile_graphs, make_plan, validate
from mlopsctl.compiler.vertex_models import DEPLOYMENT, ENDPOINT, MODEL_MONITOR, MODEL_VERSION
from mlopsctl.compiler.vertex_pipelines import BUCKET_OBJECT, SCHEDULER_JOB
from mlopsctl.config.source import ConfigSource
from mlopsctl.plan import Summary
from mlopsctl.views.plan_text import render_text

PAIRS = ROOT / "tests" / "golden_pairs"
CASES = sorted(p for p in PAIRS.iterdir() if p.is_dir())
PLANS = ROOT / "tests" / "golden_plans"
DIGITS = ROOT / "examples" / "projects" / "digits" / "mlops.yaml"
SENSORS = ROOT / "examples" / "projects" / "sensor-anomaly" / "mlops.yaml"


def _validated(path: pathlib.Path, selection: Selection = ALL) -> Validation:
    validation = validate(ConfigSource(path, path.name, None), selection)
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return validation


def _as_mlops_yaml(path: pathlib.Path, folder: pathlib.Path) -> Validation:
    folder.mkdir()
    copy = folder / "mlops.yaml"
    copy.write_bytes(path.read_bytes())
    return _validated(copy)


def test_every_case_is_a_pair_and_its_plan() -> None:
    assert CASES
    for case in CASES:
        names = {f.name for f in case.iterdir()}
        assert {"before.yaml", "after.yaml"} <= names <= {"before.yaml", "after.yaml", "plan.txt"}, case


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_plan_of_the_change_matches_golden(
    case: pathlib.Path, update_goldens: bool, tmp_path: pathlib.Path
) -> None:
    """Both sides are read as ``mlops.yaml``, as a pull request's are (the file name is in the objects'
    source annotations)."""
    before, after = (_as_mlops_yaml(case / f"{side}.yaml", tmp_path / side) for side in ("before", "after"))
    plan, _ = make_plan(after, compile_graphs(after), applied_as_of(before))
    assert plan.has_changes, f"{case.name}: after.yaml changes nothing"
    expect_files({"plan.txt": render_text(plan)}, case, update_goldens, whole_folder=False)


def test_plan_of_a_vertex_environment_from_empty_state_matches_golden(update_goldens: bool) -> None:
    validation = _validated(DIGITS, Selection(envs=("vertex",)))
    graphs = compile_graphs(validation)
    [(target, graph)] = graphs.items()
    assert validation.targets[target].config.placement.pipelines == "vertex"
    assert {BUCKET_OBJECT, SCHEDULER_JOB} <= {r.type for r in graph}, "a template that a schedule runs"
    plan, _ = make_plan(validation, graphs, {})
    assert plan.summary == Summary(add=len(graph.resources)), "every resource is created, nothing else"
    expect_files({"digits-vertex.txt": render_text(plan)}, PLANS, update_goldens, whole_folder=False)


def test_plan_of_an_environment_serving_on_vertex_ai_matches_golden(update_goldens: bool) -> None:
    validation = _validated(SENSORS, Selection(envs=("vertex",)))
    graphs = compile_graphs(validation)
    [(target, graph)] = graphs.items()
    placement = validation.targets[target].config.placement
    assert (placement.endpoints, placement.monitors) == ("vertex", "vertex")
    assert {ENDPOINT, DEPLOYMENT, MODEL_VERSION, MODEL_MONITOR} <= {r.type for r in graph}
    plan, _ = make_plan(validation, graphs, {})
    assert plan.summary == Summary(add=len(graph.resources)), "every resource is created, nothing else"
    expect_files({"sensors-vertex.txt": render_text(plan)}, PLANS, update_goldens, whole_folder=False)
