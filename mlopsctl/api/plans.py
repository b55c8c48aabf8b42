"""Plans and applies: the diff of the compiled graphs against what a target applied, and the apply."""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from mlopsctl.api.errors import UserError
from mlopsctl.api.targets import NO_TARGET, TargetKind, TargetSpec, applied_at_ref
from mlopsctl.compiler import compile_graphs
from mlopsctl.config.diagnostics import plural
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.project import ALL, Selection, Validation
from mlopsctl.config.sourcemap import format_path
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph
from mlopsctl.output import ApplyError, ApplyTarget, Locking, Outcome, Previewing, Release, Scoped
from mlopsctl.plan import Action, Plan, ResourceChange, blocked_by_protection, diff_plan
from mlopsctl.plan.saved import Basis, SavedPlan, basis_of, check_current
from mlopsctl.state import State, state_from_graph
from mlopsctl.state.store import LockHeldError

Progress = Callable[[str], None]
"""Where a long command reports what it is doing (a line at a time)."""


def quiet(_: str) -> None:
    """A progress reporter that reports nothing (the default of every command)."""


class InvalidConfigError(UserError):
    """The config has errors: nothing can be compiled from it."""


def compiled_graphs(validation: Validation) -> dict[Target, Graph]:
    """The graphs of ``validation``; a config with errors is a :class:`InvalidConfigError`."""
    if not validation.ok:
        errors = sum(d.is_error for d in validation.diagnostics)
        raise InvalidConfigError(
            f"{validation.source.display} has {plural(errors, 'error')}: nothing was compiled "
            "(see 'mlopsctl validate')"
        )
    return compile_graphs(validation)


@dataclass(frozen=True)
class CompiledTarget:
    """One target's config, its compiled graph and the folder of its mlops.yaml."""

    config: MLOpsConfig
    graph: Graph
    base_dir: pathlib.Path


def compiled_target(validation: Validation, env: str, region: str | None) -> CompiledTarget:
    """The target ``env`` in ``region`` (default: the environment's first region), compiled."""
    targets = [t for t in validation.targets if t.env == env and region in (None, t.region)]
    if not targets:
        raise UserError(f"no target {env}/{region or '*'} in the validated config")
    graph = compiled_graphs(validation)[targets[0]]
    assert validation.document is not None, "compiled_graphs refuses a config that did not load"
    return CompiledTarget(validation.targets[targets[0]].config, graph, validation.document.base_dir)


def graphs_for(validation: Validation, target: ApplyTarget | None) -> dict[Target, Graph]:
    """The graphs of ``validation``, limited to the part ``target`` applies (see ``Scoped``)."""
    graphs = compiled_graphs(validation)
    if isinstance(target, Scoped):
        return {t: target.scope(g) for t, g in graphs.items()}
    return graphs


APPLY_OPERATION = "mlopsctl apply"
"""What a lock taken by an apply says its holder is doing."""


class BaseConfigError(UserError):
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


class ProtectedResourceError(UserError):
    """The plan would destroy or replace protected resources and no allowance was given."""

    def __init__(self, blocked: list[ResourceChange]) -> None:
        super().__init__(
            "the plan destroys or replaces protected resources:\n"
            + "\n".join(sorted(f"  - {_blocked(c)}" for c in blocked))
            + "\nre-run with --allow-destroy if that is intended (data in them will be lost)"
        )


def _blocked(change: ResourceChange) -> str:
    """``ADDRESS (destroyed|replaced: FIELDS), from PATH`` (the path where the config still has one)."""
    if Action.CREATE in change.actions:
        fields = f": {', '.join(change.replace_paths)} changed" if change.replace_paths else ""
        what = f"replaced{fields}"
    else:
        what = "destroyed: no longer in the config"
    origin = f", from {format_path(change.source)}" if change.source and change.after is not None else ""
    return f"{change.address} ({what}){origin}"


def make_plan(
    validation: Validation,
    graphs: Mapping[Target, Graph],
    applied: Mapping[Target, State],
    selection: Selection = ALL,
) -> tuple[Plan, tuple[Target, ...]]:
    """The plan from ``applied`` to ``graphs``, and the selected targets that left the config."""
    plan = diff_plan(validation.project, graphs, {t: s for t, s in applied.items() if selection.covers(t)})
    return plan, tuple(p.target for p in plan.targets if p.target not in graphs)


def to_apply(plan: Plan) -> dict[Target, Graph]:
    """The graph each target of ``plan`` applies: the compiled one, with the applied inputs of the
    resources whose only change is their commit or source line (``mlopsctl.plan.diff``)."""
    return {p.target: p.desired for p in plan.targets if p.desired is not None}


def apply_graphs(
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
            raise ProtectedResourceError(blocked)
        return plan, target.apply(plan, release_of(validation, to_apply(plan)), removed)


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


@dataclass(frozen=True)
class PlanResult:
    """A plan, what it was computed from, the graphs it applies (``to_apply``) and the target it was
    computed against."""

    validation: Validation
    plan: Plan
    basis: Basis
    graphs: Mapping[Target, Graph]
    target: ApplyTarget | None

    def preview(self) -> Outcome | None:
        """What the apply target itself expects to change (a Pulumi preview, a server-side dry run)."""
        return preview(self.validation, self.graphs, self.target) if self.target else None


def plan(
    validation: Validation,
    file: pathlib.Path,
    selection: Selection = ALL,
    spec: TargetSpec = NO_TARGET,
    *,
    base: str | None = None,
    progress: Progress = quiet,
) -> PlanResult:
    """What applying the config would change: against what ``spec``'s target applied, against the
    config at Git ref ``base``, or else against empty state."""
    if base is not None and spec.given:
        raise UserError(
            "--base compares two commits of the config: it takes no --target, --repo or --backend"
        )
    target = spec.open(file)
    progress(f"Compiling {plural(len(validation.targets), 'target')}")
    graphs = graphs_for(validation, target)
    if spec.kind == "kubernetes":  # one cluster: say so before anything is read from it
        from mlopsctl.output.kubernetes import check_one_target

        check_one_target(tuple(graphs))
    applied = (
        applied_at_ref(file, base)
        if base is not None
        else target.applied(validation.project)
        if target
        else {}
    )
    the_plan, _ = make_plan(validation, graphs, applied, selection)
    return PlanResult(validation, the_plan, basis(validation, applied), to_apply(the_plan), target)


def save_plan(
    result: PlanResult,
    out: pathlib.Path,
    file: pathlib.Path,
    ref: str | None,
    selection: Selection,
    spec: TargetSpec,
) -> None:
    """Write ``result`` to ``out`` so that ``apply --plan`` applies exactly it, or refuses it once stale."""
    from mlopsctl.io.fileio import write_atomic
    from mlopsctl.plan.saved import Invocation, dump_saved_plan

    kind = spec.effective_kind
    invocation = Invocation(
        config=str(file),
        ref=ref,
        envs=selection.envs,
        regions=selection.regions,
        target=kind.value if kind else None,
        options=spec.options(),
    )
    write_atomic(out, dump_saved_plan(invocation, result.basis, result.plan))


def read_saved_plan(path: pathlib.Path) -> SavedPlan:
    from mlopsctl.plan.saved import SavedPlanError, parse_saved_plan

    try:
        return parse_saved_plan(path.read_text(encoding="utf-8"), str(path))
    except SavedPlanError as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not a plan saved by 'mlopsctl plan --out': not UTF-8 text") from None


def is_saved_plan(path: pathlib.Path) -> bool:
    """Whether ``path`` holds a plan saved by ``plan --out`` (given where a config was expected)."""
    from mlopsctl.plan.saved import SavedPlanError, parse_saved_plan

    try:
        text = path.read_text(encoding="utf-8")
        return text.lstrip().startswith("{") and bool(parse_saved_plan(text, str(path)))
    except (OSError, UnicodeDecodeError, SavedPlanError):
        return False


@dataclass(frozen=True)
class ApplyResult:
    plan: Plan
    outcome: Outcome


def apply(
    validation: Validation,
    file: pathlib.Path,
    selection: Selection = ALL,
    spec: TargetSpec = NO_TARGET,
    *,
    allow_destroy: bool = False,
    saved: SavedPlan | None = None,
    progress: Progress = quiet,
) -> ApplyResult:
    """Apply the config to ``spec``'s target (gitops when none is named)."""
    from dataclasses import replace

    if spec.kind is None:
        spec = replace(spec, kind=TargetKind.gitops)
    target = spec.open(file)
    assert target is not None, "a named target always opens"
    progress(f"Compiling {plural(len(validation.targets), 'target')}")
    graphs = graphs_for(validation, target)
    progress(f"Applying to the {spec.kind} target")
    try:
        the_plan, outcome = apply_graphs(
            validation, graphs, target, selection, allow_destroy=allow_destroy, saved=saved
        )
    except ApplyError as exc:
        held = exc.__cause__
        if not isinstance(held, LockHeldError):
            raise
        # force-unlock must find the same config and state store as this apply did
        raise UserError(held.advice(str(file), *(("--state", spec.state) if spec.state else ()))) from None
    progress("Applied" if outcome.changed else "Nothing applied")
    return ApplyResult(the_plan, outcome)


def replay(
    saved: SavedPlan, path: pathlib.Path
) -> tuple[pathlib.Path, list[str], list[str], str | None, TargetSpec]:
    """The config, environments, regions, Git ref and target that ``saved`` was planned with."""
    inv = saved.invocation
    if inv.target is None:
        raise UserError(f"{path} was planned against no target; plan with --repo or --target to apply it")
    if inv.target not in TargetKind.__members__:
        raise UserError(f"{path} is not a plan saved by 'mlopsctl plan --out': unknown target '{inv.target}'")
    config = pathlib.Path(inv.config)
    if not (config.is_file() if inv.ref is None else config.parent.is_dir()):
        raise UserError(
            f"{path} was planned with the config {inv.config}, which is not there from {pathlib.Path.cwd()}: "
            "run 'mlopsctl apply --plan' in the folder where 'mlopsctl plan --out' ran"
        )
    repo = inv.options.get("repo")
    spec = TargetSpec(
        TargetKind(inv.target),
        pathlib.Path(repo) if repo is not None else None,
        inv.options.get("backend"),
        inv.options.get("context"),
        inv.options.get("kubeconfig"),
        inv.options.get("state"),
    )
    return config, list(inv.envs), list(inv.regions), inv.ref, spec
