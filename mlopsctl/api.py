"""The library API: each function is one command, the CLI only parses flags and prints.

load → resolve (per target) → validate → check → build → plan → render / apply
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

from mlopsctl.compiler import compile_graphs
from mlopsctl.compiler.platform import addon_uses
from mlopsctl.config.addons import AddOnUse
from mlopsctl.config.diagnostics import plural
from mlopsctl.config.project import ALL, Selection, TargetConfig, Validation, validate, with_targets
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph
from mlopsctl.output import ApplyTarget, Locking, Outcome, Previewing, Release, Scoped
from mlopsctl.plan import Plan, blocked_by_protection, diff_plan
from mlopsctl.plan.saved import Basis, SavedPlan, basis_of, check_current
from mlopsctl.state import State, state_from_graph

__all__ = [
    "ALL",
    "Selection",
    "TargetConfig",
    "Validation",
    "compile_graphs",
    "validate",
    "with_targets",
]

if TYPE_CHECKING:
    from mlopsctl.run.result import MonitorResult, PipelineResult


def graphs_for(validation: Validation, target: ApplyTarget | None) -> dict[Target, Graph]:
    """The graphs of ``validation``, limited to the part ``target`` applies (see ``Scoped``)."""
    graphs = compile_graphs(validation)
    if isinstance(target, Scoped):
        return {t: target.scope(g) for t, g in graphs.items()}
    return graphs


APPLY_OPERATION = "mlopsctl apply"
"""What a lock taken by an apply says its holder is doing."""


class BaseConfigError(Exception):
    """The config at the review's base cannot be compiled."""


def applied_as_of(base: Validation) -> dict[Target, State]:
    """The base config's graphs as if they had been applied: what a review diffs against.

    A base without the config file (a new project) is empty state.
    """
    if not base.source.path.exists():
        return {}
    if not base.ok:
        errors = sum(d.is_error for d in base.diagnostics)
        raise BaseConfigError(
            f"{base.source.display} has {plural(errors, 'error')}; "
            f"see 'mlopsctl validate' at that commit, or review against another base"
        )
    return {
        t: state_from_graph(g, project=base.project, source_commit=base.source.commit, config_hash=h)
        for (t, g), h in zip(
            compile_graphs(base).items(), (tc.config_hash for tc in base.targets.values()), strict=True
        )
    }


class ProtectedResourceError(Exception):
    """The plan would destroy or replace protected resources and no allowance was given."""

    def __init__(self, addresses: list[str]) -> None:
        super().__init__(
            "the plan destroys or replaces protected resources:\n"
            + "\n".join(f"  - {a}" for a in addresses)
            + "\nre-run with --allow-destroy if that is intended (data in them will be lost)"
        )


def make_plan(
    validation: Validation,
    graphs: Mapping[Target, Graph],
    applied: Mapping[Target, State],
    selection: Selection = ALL,
) -> tuple[Plan, tuple[Target, ...]]:
    """The plan from ``applied`` to ``graphs``, and the selected targets that left the config."""
    plan = diff_plan(validation.project, graphs, {t: s for t, s in applied.items() if selection.covers(t)})
    return plan, tuple(p.target for p in plan.targets if p.target not in graphs)


def apply(
    validation: Validation,
    graphs: Mapping[Target, Graph],
    target: ApplyTarget,
    selection: Selection = ALL,
    *,
    allow_destroy: bool = False,
    saved: SavedPlan | None = None,
) -> tuple[Plan, Outcome]:
    """Plan against what ``target`` has applied, refuse unallowed destroys, then apply.

    With ``saved``, apply only if the plan is exactly the saved one, computed from
    the same source commit, config and state. A :class:`Locking` target is locked
    from reading its state to recording the new one.
    """
    lock: AbstractContextManager[object] = (
        target.locked(validation.project, tuple(graphs), selection.covers, APPLY_OPERATION)
        if isinstance(target, Locking)
        else nullcontext()
    )
    with lock:
        applied = target.applied(validation.project)
        plan, removed = make_plan(validation, graphs, applied, selection)
        if saved is not None:
            check_current(saved, basis(validation, applied), plan)
        blocked = blocked_by_protection(plan)
        if blocked and not allow_destroy:
            raise ProtectedResourceError([c.address for c in blocked])
        return plan, target.apply(plan, release_of(validation, graphs), removed)


def release_of(validation: Validation, graphs: Mapping[Target, Graph]) -> Release:
    return Release(
        project=validation.project,
        graphs=graphs,
        config_hashes={t: tc.config_hash for t, tc in validation.targets.items()},
        source_commit=validation.source.commit,
    )


def preview(validation: Validation, graphs: Mapping[Target, Graph], target: ApplyTarget) -> Outcome | None:
    """What the apply target itself expects to change (a Pulumi preview), if it can tell."""
    if not isinstance(target, Previewing):
        return None
    return target.preview(release_of(validation, graphs))


def basis(validation: Validation, applied: Mapping[Target, State]) -> Basis:
    """What a plan of ``validation`` against ``applied`` is computed from."""
    hashes = {t: tc.config_hash for t, tc in validation.targets.items()}
    return basis_of(validation.source.commit, hashes, applied)


def run_local(
    validation: Validation,
    name: str,
    out: pathlib.Path,
    *,
    env: str,
    region: str | None = None,
    params: Mapping[str, str] | None = None,
    trials: int = 2,
    act: bool = False,
    data: pathlib.Path | None = None,
) -> PipelineResult | MonitorResult:
    """Run a pipeline, batch job or drift/skew monitor of one target on this machine (docs/local-runs.md).

    The target is ``env`` in ``region`` (default: the environment's first region); what runs is
    what its compiled graph holds. Raises :class:`mlopsctl.run.errors.RunError` for what must be
    fixed first (an unknown name or parameter, missing sample data).
    """
    from mlopsctl.run.dispatch import LocalRequest, run_local
    from mlopsctl.run.errors import RunError

    targets = [t for t in validation.targets if t.env == env and region in (None, t.region)]
    if not targets:
        raise RunError(f"no target {env}/{region or '*'} in the validated config")
    target = targets[0]
    graph = compile_graphs(validation)[target]
    assert validation.document is not None, "compile_graphs refuses a config that did not load"
    request = LocalRequest(name, out, dict(params or {}), trials, act, data)
    return run_local(validation.targets[target].config, graph, validation.document.base_dir, request)


def platform(validation: Validation, graphs: Mapping[Target, Graph]) -> dict[Target, list[AddOnUse]]:
    """Per target, the add-ons its graph installs (or GKE provides), with what needs each."""
    return {t: addon_uses(graph, validation.targets[t].config) for t, graph in graphs.items()}
