"""The library API: each function is one command, the CLI only parses flags and prints.

load → resolve (per target) → validate → check → build → plan → render / apply
"""

from __future__ import annotations

import hashlib
import json
import pathlib
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from mlopsctl.compiler import build_graph
from mlopsctl.compiler.manifests import TemplateError
from mlopsctl.compiler.platform import addon_uses
from mlopsctl.config.addons import AddOnUse
from mlopsctl.config.checks import CheckContext, run_checks
from mlopsctl.config.checks.uniqueness import unique_names
from mlopsctl.config.diagnostics import Diagnostic, Severity, did_you_mean, has_errors, normalize, plural
from mlopsctl.config.load import Document, load_file
from mlopsctl.config.lock import Lock, load_lock
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.partial import beyond_cut, valid_part
from mlopsctl.config.resolve import ResolvedTarget, resolve, targets_of
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.sourcemap import SourceMap
from mlopsctl.config.validate import validate_model
from mlopsctl.graph import Graph, Target
from mlopsctl.output import ApplyTarget, Locking, Outcome, Previewing, Release, Scoped
from mlopsctl.plan import Plan, blocked_by_protection, diff_plan
from mlopsctl.plan.saved import Basis, SavedPlan, basis_of, check_current
from mlopsctl.state import State, state_from_graph

if TYPE_CHECKING:
    from mlopsctl.run.result import MonitorResult, PipelineResult


@dataclass(frozen=True)
class Selection:
    """Which environments and regions a command covers; empty means all."""

    envs: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()

    def covers(self, target: Target) -> bool:
        return (not self.envs or target.env in self.envs) and (
            not self.regions or target.region in self.regions
        )


ALL = Selection()
APPLY_OPERATION = "mlopsctl apply"
"""What a lock taken by an apply says its holder is doing."""


@dataclass(frozen=True)
class TargetConfig:
    """A validated configuration for one target, and a hash of its resolved document."""

    target: Target
    config: MLOpsConfig
    config_hash: str
    sources: SourceMap
    """Where each value of the resolved document was written."""


@dataclass
class Validation:
    source: ConfigSource
    document: Document | None
    lock: Lock
    """The pins of mlops.lock that compilation applied (empty without a lock file)."""
    targets: dict[Target, TargetConfig] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.document is not None and not has_errors(self.diagnostics)

    @property
    def project(self) -> str:
        return next(iter(self.targets.values())).config.project.name if self.targets else ""


def validate(source: ConfigSource, selection: Selection = ALL, lock: Lock | None = None) -> Validation:
    """Load, resolve, validate and check every selected target of the config.

    Each target's pins in mlops.lock (beside the config) apply last; ``lock`` replaces that file.
    """
    document, diagnostics = load_file(source.path, source.display)
    if lock is None:
        lock, lock_errors = load_lock(source.path, source.display)
        diagnostics += lock_errors
    result = Validation(source, document, lock)
    if document is None:
        result.diagnostics = normalize(diagnostics)
        return result
    all_targets = targets_of(document)
    if not all_targets:
        _, schema_errors = validate_model(document.data, document.sources)
        diagnostics += schema_errors
    diagnostics += _check_selection(selection, all_targets)
    diagnostics += _unknown_lock_targets(lock, all_targets)
    per_target = {t: _validate_target(result, document, t) for t in all_targets if selection.covers(t)}
    diagnostics += with_targets(per_target)
    diagnostics += _unselected_errors(result, document, [t for t in all_targets if t not in per_target])
    diagnostics += _collisions(document, all_targets, result.targets, selection)
    result.diagnostics = normalize(diagnostics)
    return result


def _collisions(
    document: Document, targets: list[Target], selected: dict[Target, TargetConfig], selection: Selection
) -> list[Diagnostic]:
    """Names that several targets would create; unselected targets count too, as they share the cloud."""
    valid: dict[Target, tuple[MLOpsConfig, SourceMap]] = {}
    for target in targets:
        if target in selected:
            valid[target] = (selected[target].config, selected[target].sources)
            continue
        resolved, _ = resolve(document, target)
        config, _ = validate_model(resolved.data, resolved.sources)
        if config is not None:
            valid[target] = (config, resolved.sources)
    found = unique_names({t: config for t, (config, _) in valid.items()})
    return [
        c.diagnostic.located(valid[c.targets[-1]][1])
        for c in found
        if any(selection.covers(t) for t in c.targets)
    ]


def with_targets(per_target: dict[Target, list[Diagnostic]]) -> list[Diagnostic]:
    """Each target's findings, naming the targets when not all of them share a finding
    (unless its resource address names the target already)."""
    return [
        d
        if len(targets) == len(per_target) or d.address
        else replace(d, message=f"{d.message} (in {', '.join(map(str, targets))})")
        for d, targets in _grouped(per_target)
    ]


def _unknown_lock_targets(lock: Lock, targets: list[Target]) -> list[Diagnostic]:
    return [
        Diagnostic(
            "W302",
            f"{lock.file} has an entry for {t}, which the config does not declare: ignored",
            hint="remove the entry, or declare the region",
            severity=Severity.WARNING,
            position=next(iter(entry.pins.values())).position if entry.pins else None,
        )
        for t, entry in lock.entries.items()
        if t not in targets
    ]


def _unselected_errors(result: Validation, document: Document, targets: list[Target]) -> list[Diagnostic]:
    """The errors of the targets a scoped command leaves out, each naming its targets: the whole
    file must be valid before a command writes anything."""
    found = {t: [d for d in _validate_target(result, document, t, keep=False) if d.is_error] for t in targets}
    return [
        replace(d, message=f"{d.message} (in {', '.join(map(str, named))})") if not d.address else d
        for d, named in _grouped(found)
    ]


def _grouped(per_target: dict[Target, list[Diagnostic]]) -> list[tuple[Diagnostic, list[Target]]]:
    seen: dict[tuple[object, ...], tuple[Diagnostic, dict[Target, None]]] = {}
    for target, found in per_target.items():
        for d in found:
            seen.setdefault((d.code, d.position, d.message, d.address), (d, {}))[1][target] = None
    return [(d, list(targets)) for d, targets in seen.values()]


def _validate_target(
    result: Validation, document: Document, target: Target, *, keep: bool = True
) -> list[Diagnostic]:
    """The findings of one target; with ``keep``, its validated config joins ``result.targets``."""
    resolved, diagnostics = resolve(document, target, result.lock.entries.get(target))
    config, schema_errors = validate_model(resolved.data, resolved.sources)
    diagnostics += schema_errors
    if config is not None:
        diagnostics += run_checks(CheckContext(config, target, document.base_dir, document.file))
        if keep:
            result.targets[target] = TargetConfig(target, config, _hash(resolved), resolved.sources)
    else:
        part, cut = valid_part(resolved.data, schema_errors, resolved.sources)
        if part is not None:
            found = run_checks(CheckContext(part, target, document.base_dir, document.file))
            diagnostics += beyond_cut(found, cut)
    stale = {d.path for d in diagnostics if d.code == "E313"}  # a stale lock pin says it best
    return [d.located(resolved.sources) for d in diagnostics if d.code == "E313" or d.path not in stale]


def _hash(resolved: ResolvedTarget) -> str:
    text = json.dumps(resolved.data, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _check_selection(selection: Selection, targets: list[Target]) -> list[Diagnostic]:
    envs = {t.env for t in targets}
    regions = {t.region for t in targets}
    found = []
    for option, noun, wanted, known in (
        ("--env", "environment", selection.envs, envs),
        ("--region", "region", selection.regions, regions),
    ):
        for name in wanted:
            if name not in known:
                found.append(
                    Diagnostic(
                        "E307",
                        f"{option} {name}: no such {noun} in the config",
                        hint="; ".join(
                            filter(
                                None,
                                [
                                    did_you_mean(name, known),
                                    f"declared: {', '.join(sorted(known)) or 'none'}",
                                ],
                            )
                        ),
                    )
                )
    if not found and not any(selection.covers(t) for t in targets) and targets:
        found.append(
            Diagnostic(
                "E307",
                "the --env and --region options select no environment/region",
                hint="check which regions each environment declares",
            )
        )
    return found


def compile_graphs(validation: Validation) -> dict[Target, Graph]:
    """The resource graph of every validated target, in declaration order."""
    if not validation.ok or validation.document is None:
        raise ValueError("cannot compile a configuration with errors")
    base_dir = validation.document.base_dir
    try:
        return {t: build_graph(tc.config, t, base_dir) for t, tc in validation.targets.items()}
    except TemplateError as exc:
        raise exc.shown_from(base_dir, validation.document.file) from None


def graphs_for(validation: Validation, target: ApplyTarget | None) -> dict[Target, Graph]:
    """The graphs of ``validation``, limited to the part ``target`` applies (see ``Scoped``)."""
    graphs = compile_graphs(validation)
    if isinstance(target, Scoped):
        return {t: target.scope(g) for t, g in graphs.items()}
    return graphs


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
