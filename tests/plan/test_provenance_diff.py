"""Plans stay small across commits: a change of only the commit or the source line is no change, and
what is applied for it is what was applied before; a real change brings the new provenance."""

from __future__ import annotations

import pathlib

import pytest
from gitrepos import git, git_init_and_commit
from helpers import CLF_API, OWNED_STAGED_DATA, write

from mlopsctl import api
from mlopsctl.api.plans import to_apply
from mlopsctl.compiler.provenance import ADDRESS, COMMIT, COMMIT_LABEL, PROVENANCE, SOURCE, without
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph
from mlopsctl.plan import Action, Plan
from mlopsctl.state import AppliedResource, State, state_from_graph
from mlopsctl.views.plan_text import render_text

CONFIG = OWNED_STAGED_DATA + CLF_API
DEV = Target("dev", "us-central1")
ISVC = f"{DEV}/kubernetes:serving.kserve.io/v1beta1:InferenceService/api-main"
BUCKET = f"{DEV}/gcp:storage/bucket:Bucket/raw"
MAIN = "      main: {model: clf, version: v1}\n"


def _commit(path: pathlib.Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    git_init_and_commit(path.parent, "config")
    return str(git(path.parent, "rev-parse", "HEAD")).strip()


def _graphs(path: pathlib.Path) -> dict[Target, Graph]:
    with api.open_config(path) as validation:
        assert validation.ok, [d.to_text() for d in validation.diagnostics]
        return api.compile_graphs(validation)


def _states(graphs: dict[Target, Graph]) -> dict[Target, State]:
    return {
        t: state_from_graph(g, project="demo", source_commit=None, config_hash="h") for t, g in graphs.items()
    }


def _plan(path: pathlib.Path, applied: dict[Target, State]) -> Plan:
    with api.open_config(path) as validation:
        plan, _ = api.make_plan(validation, api.compile_graphs(validation), applied)
    return plan


@pytest.fixture
def applied(tmp_path: pathlib.Path) -> tuple[pathlib.Path, str, dict[Target, State]]:
    """The config committed, and the state of applying it."""
    path = write(tmp_path / "src", "")
    first = _commit(path, CONFIG)
    return path, first, _states(_graphs(path))


def test_a_commit_that_moves_every_line_plans_nothing_and_applies_the_state(
    applied: tuple[pathlib.Path, str, dict[Target, State]],
) -> None:
    path, first, states = applied
    _commit(path, "# moves every line down\n\n" + CONFIG)
    assert _graphs(path)[DEV].resources[ISVC].inputs != states[DEV].resources[ISVC].inputs  # what it saves
    plan = _plan(path, states)
    assert not plan.has_changes
    for target, graph in to_apply(plan).items():
        assert {r.address: r.inputs for r in graph} == {
            a: r.inputs for a, r in states[target].resources.items()
        }
    assert to_apply(plan)[DEV].resources[ISVC].inputs["metadata"]["annotations"][COMMIT] == first


def test_a_change_of_one_field_shows_that_field_and_the_new_commit(
    applied: tuple[pathlib.Path, str, dict[Target, State]],
) -> None:
    path, first, states = applied
    second = _commit(path, "# a comment\n" + CONFIG.replace(MAIN, MAIN.replace("v1}", "v1, maxReplicas: 5}")))
    plan = _plan(path, states)
    changed = {c.address: c for c in plan.changes}
    isvc = changed[ISVC]
    assert isvc.actions == (Action.UPDATE,)  # annotations force replacement, provenance does not
    assert isvc.before is not None and isvc.after is not None
    before, after = isvc.before["metadata"]["annotations"], isvc.after["metadata"]["annotations"]
    assert (before[COMMIT], after[COMMIT]) == (first, second)
    assert before[SOURCE] != after[SOURCE] and before[ADDRESS] == after[ADDRESS] == ISVC
    assert all("api-main" in a for a in changed), sorted(changed)
    text = render_text(plan)
    assert "maxReplicas" in text and second in text and BUCKET not in text


def test_a_dirty_config_keeps_the_applied_commit(
    applied: tuple[pathlib.Path, str, dict[Target, State]],
) -> None:
    path, first, states = applied
    path.write_text("# not committed\n" + CONFIG, encoding="utf-8")
    plan = _plan(path, states)
    assert not plan.has_changes
    bucket = to_apply(plan)[DEV].resources[BUCKET]
    assert bucket.inputs["labels"][COMMIT_LABEL] == first


def test_state_without_provenance_gains_it_in_place(
    applied: tuple[pathlib.Path, str, dict[Target, State]],
) -> None:
    """Applying a state recorded before provenance existed updates objects; nothing is replaced."""
    path, _, states = applied
    bare = {
        t: State(
            s.project,
            s.target,
            s.gcp_project,
            s.source_commit,
            s.config_hash,
            {a: _bare(r) for a, r in s.resources.items()},
        )
        for t, s in states.items()
    }
    plan = _plan(path, bare)
    assert plan.changes and all(c.actions == (Action.UPDATE,) for c in plan.changes)
    assert ISVC in {c.address for c in plan.changes}


def _bare(resource: AppliedResource) -> AppliedResource:
    stripped = without(resource.type, resource.inputs, PROVENANCE)
    if resource.type.startswith("kubernetes:") and not stripped.get("metadata", {}).get("annotations", True):
        stripped["metadata"] = {k: v for k, v in stripped["metadata"].items() if k != "annotations"}
    return AppliedResource(
        resource.address, resource.type, resource.name, stripped, resource.depends_on, resource.protect
    )
