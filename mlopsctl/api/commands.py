"""The commands besides plan and apply: validate, check, render, force-unlock, promote, status,
run and platform. Each returns a result object; :mod:`mlopsctl.views` renders them."""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from mlopsctl.api.errors import UserError, user_errors
from mlopsctl.api.plans import Progress, compiled_graphs, compiled_target, make_plan, quiet
from mlopsctl.api.targets import TargetSpec, applied_at_ref
from mlopsctl.compiler.pipeline_outline import outlined_without_kfp
from mlopsctl.compiler.platform import addon_uses
from mlopsctl.config.addons import AddOnUse
from mlopsctl.config.diagnostics import Diagnostic
from mlopsctl.config.project import ALL, Selection, Validation
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph

if TYPE_CHECKING:
    from mlopsctl.promote.assess import Proposal
    from mlopsctl.run.result import MonitorResult, PipelineResult
    from mlopsctl.state.store import LockInfo


@dataclass(frozen=True)
class CheckResult:
    """The config's diagnostics and the policies' findings, and the rules the findings cite."""

    findings: list[Diagnostic]
    rules: dict[str, tuple[str, str]]
    notes: tuple[str, ...] = ()
    """What the check could not look at, and why (e.g. pipeline specs without kfp)."""

    @property
    def errors(self) -> int:
        return sum(d.is_error for d in self.findings)


def check(
    validation: Validation,
    file: pathlib.Path,
    selection: Selection = ALL,
    *,
    repo: pathlib.Path | None = None,
    base: str | None = None,
) -> CheckResult:
    """Enforce the policies (docs/policies.md) over the compiled graphs; with ``repo`` or ``base`` the
    plan's destroys count too."""
    from mlopsctl.policies.run import all_policies, rules
    from mlopsctl.policies.run import check as run_policies

    if repo is not None and base is not None:
        raise UserError("give --repo or --base, not both")
    target = TargetSpec(repo=repo).open(file)
    with outlined_without_kfp() as outlined:  # policies read resources, not the specs kfp compiles
        graphs = compiled_graphs(validation)
    notes = (
        (OUTLINED_NOTE,) if outlined and any(t.config.pipelines for t in validation.targets.values()) else ()
    )
    plan = None
    if base is not None:
        plan, _ = make_plan(validation, graphs, applied_at_ref(file, base), selection)
    elif target is not None:
        plan, _ = make_plan(validation, graphs, target.applied(validation.project), selection)
    policies = all_policies()
    found = validation.diagnostics + run_policies(validation, graphs, policies, plan)
    return CheckResult(found, rules(policies), notes)


OUTLINED_NOTE = (
    "pipelines were checked as outlines of their steps: kfp is not installed, so their specs were not "
    "compiled (pip install 'mlopsctl[kfp]' to check those too)"
)


@dataclass(frozen=True)
class RenderResult:
    """Each target's folder and the files written into it."""

    validation: Validation
    folders: Mapping[Target, tuple[pathlib.Path, tuple[str, ...]]]


def render(validation: Validation, out: pathlib.Path, *, progress: Progress = quiet) -> RenderResult:
    """Write each target's manifests, graph and kustomization under ``out/<env>/<region>/``."""
    from mlopsctl.output.folders import foreign_files, render_target, rendered_state, write_targets
    from mlopsctl.plan.diff import carried

    graphs = compiled_graphs(validation)
    rendered = {}
    for i, (t, g) in enumerate(graphs.items(), 1):
        progress(f"Rendering {t} ({i}/{len(graphs)})")
        before = rendered_state(out, t, validation.project)  # a new commit alone rewrites no file
        rendered[t] = render_target(carried(g, before) if before else g, validation.project)
    foreign = foreign_files(out, rendered)
    if foreign:
        listing = "".join(f"\n  {path}" for path in foreign[:10]) + ("\n  ..." if len(foreign) > 10 else "")
        raise UserError(
            f"--out {out}: render replaces each <env>/<region>/ folder, and these hold files it did not "
            "write, which it would delete or overwrite; move them, or render into another folder "
            f"(nothing was written):{listing}"
        )
    progress(f"Writing {out}")
    write_targets(out, rendered)
    return RenderResult(
        validation, {t: (out / t.env / t.region, tuple(sorted(files))) for t, files in rendered.items()}
    )


@dataclass(frozen=True)
class Unlocked:
    what: str
    holder: LockInfo


def force_unlock(
    file: pathlib.Path,
    lock_id: str,
    *,
    env: str | None = None,
    region: str | None = None,
    state: str | None = None,
    repo: pathlib.Path | None = None,
) -> Unlocked:
    """Release the lock ``lock_id`` left by an apply that died: of a deploy repository or of a state."""
    with user_errors(str(file)):
        if repo is not None:
            if env or region or state:
                raise UserError(
                    "--repo has one lock for all environments and regions: drop --env, --region and --state"
                )
            from mlopsctl.output.gitops import GitopsTarget

            return Unlocked(f"the deploy repository {repo}", GitopsTarget(repo).force_unlock(lock_id))
        if env is None or region is None:
            raise UserError(
                "--env and --region name the locked state (or --repo DIR for a deploy repository)"
            )
        from mlopsctl.state.backends import project_of, store_from_url

        store = store_from_url(state, file.parent)
        target = Target(env, region)
        project = project_of(file)
        _refuse_undeclared(file, target, lambda: set(store.targets(project)))
        holder = store.force_unlock(project, target, lock_id)
        return Unlocked(f"the state of {target} in {store}", holder)


def _refuse_undeclared(file: pathlib.Path, target: Target, stored: Callable[[], set[Target]]) -> None:
    """Refuse a target the config does not declare, naming those it does; one that left the config
    but still has a state in the store (its apply may have died destroying it) is let through."""
    from mlopsctl.config.diagnostics import did_you_mean
    from mlopsctl.config.load import load_file
    from mlopsctl.config.resolve import targets_of

    document, _ = load_file(file)
    declared = targets_of(document) if document is not None and isinstance(document.data, dict) else []
    if not declared or target in declared or target in stored():
        return
    envs = list(dict.fromkeys(t.env for t in declared))
    if target.env not in envs:
        option, name, known = "--env", target.env, envs
        problem = f"{file} declares no environment {name}"
    else:
        option, name = "--region", target.region
        known = [t.region for t in declared if t.env == target.env]
        problem = f"environment {target.env} of {file} has no region {name}"
    hint = did_you_mean(name, known)
    raise UserError(
        f"{option} {name}: {problem}; it has {', '.join(known)}"
        + (f" ({hint})" if hint else "")
        + "; nothing was unlocked"
    )


PromoteMode = Literal["promote", "rollback", "adopt"]


@dataclass(frozen=True)
class Promotion:
    """What moved into which regions, and where mlops.lock was (or would be) written."""

    proposal: Proposal
    lock: pathlib.Path
    written: bool


def promote(
    validation: Validation,
    file: pathlib.Path,
    to: str,
    *,
    from_env: str | None = None,
    regions: Sequence[str] = (),
    repo: pathlib.Path | None = None,
    mode: PromoteMode = "promote",
    dry_run: bool = False,
    now: datetime,
) -> Promotion:
    """Copy a release into ``to``'s regions in order (or roll back, or adopt); write mlops.lock."""
    from mlopsctl.config.lock import dump_lock, lock_path
    from mlopsctl.io.fileio import write_atomic
    from mlopsctl.promote import commands

    if mode != "promote" and from_env is not None:
        raise UserError("--rollback and --adopt pin releases of the target itself: they take no --from")
    with user_errors(str(file)):
        p = commands.promoter(validation, repo, now)
        if mode == "rollback":
            proposal = commands.rollback(p, to, regions)
        elif mode == "adopt":
            proposal = commands.adopt(p, to, regions)
        else:
            proposal = commands.promote(p, to, from_env, regions)
        path = lock_path(file)
        write = bool(proposal.moved) and not dry_run
        if write:
            write_atomic(path, dump_lock(proposal.lock))
    return Promotion(proposal, path, write)


def status(validation: Validation, repo: pathlib.Path | None, *, now: datetime) -> Proposal:
    """Per environment/region: the release it runs, whether it matches its source, pending promotions."""
    from mlopsctl.promote import commands

    with user_errors():
        return commands.status(commands.promoter(validation, repo, now))


def parse_params(given: Sequence[str]) -> dict[str, str]:
    """``K=V`` pipeline parameters, by name."""
    params: dict[str, str] = {}
    for item in given:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--param {item}: expected K=V")
        params[key] = value
    return params


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
    what its compiled graph holds. Raises :class:`UserError` for what must be fixed first (an
    unknown name or parameter, missing sample data).
    """
    from mlopsctl.run.dispatch import LocalRequest
    from mlopsctl.run.dispatch import run_local as dispatch

    with user_errors():
        target = compiled_target(validation, env, region)
        request = LocalRequest(name, out, dict(params or {}), trials, act, data)
        return dispatch(target.config, target.graph, target.base_dir, request)


def platform(
    validation: Validation, graphs: Mapping[Target, Graph] | None = None
) -> dict[Target, list[AddOnUse]]:
    """Per target, the add-ons its graph installs (or GKE provides), with what needs each."""
    graphs = compiled_graphs(validation) if graphs is None else graphs
    return {t: addon_uses(graph, validation.targets[t].config) for t, graph in graphs.items()}
