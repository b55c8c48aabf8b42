"""The plan, render, apply and force-unlock commands."""

from __future__ import annotations

import enum
import pathlib
from typing import TYPE_CHECKING, Annotated

import typer

from mlopsctl.cli.common import (
    DEFAULT_FILE,
    ChangesPresent,
    DiagnosticFormat,
    EnvOpt,
    FileArg,
    RefOpt,
    RegionOpt,
    err,
    fail,
    selection_of,
    validated,
)
from mlopsctl.cli.targets import (
    BackendOpt,
    ContextOpt,
    KubeconfigOpt,
    RepoOpt,
    StateOpt,
    TargetKind,
    TargetOpt,
    applied_at_ref,
    apply_target,
    kube_options,
)

if TYPE_CHECKING:
    from mlopsctl.plan.saved import SavedPlan


class PlanFormat(enum.StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


def plan(
    file: FileArg = DEFAULT_FILE,
    env: EnvOpt = None,
    region: RegionOpt = None,
    fmt: Annotated[PlanFormat, typer.Option("--format", "-f", help="Output format.")] = PlanFormat.text,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 2 when there are changes.")
    ] = False,
    out: Annotated[
        pathlib.Path | None,
        typer.Option(
            "--out",
            metavar="FILE",
            help="Also save the plan as JSON, with the source commit and the hashes of the config and state.",
        ),
    ] = None,
    target: TargetOpt = None,
    repo: RepoOpt = None,
    backend: BackendOpt = None,
    context: ContextOpt = None,
    kubeconfig: KubeconfigOpt = None,
    state: StateOpt = None,
    ref: RefOpt = None,
    base: Annotated[
        str | None,
        typer.Option(
            "--base",
            metavar="REF",
            help="Review: show what changes from the config as of this Git ref (e.g. origin/main).",
        ),
    ] = None,
) -> None:
    """Show what applying the config would change.

    Against what the target applied (--repo, --target pulumi followed by a Pulumi
    preview, or --target kubernetes followed by a server-side dry run), against the config
    at another commit (--base), or else against empty state.
    """
    from mlopsctl import api
    from mlopsctl.io.fileio import write_atomic
    from mlopsctl.views.plan_json import render_json
    from mlopsctl.views.plan_markdown import render_markdown
    from mlopsctl.views.plan_text import render_text

    kube = kube_options(context, kubeconfig, state)
    if base is not None and (target or repo or backend or out or kube):
        fail("--base compares two commits of the config: it takes no --target, --repo, --backend or --out")
    applier = apply_target(target, repo, file, backend, kube)
    selection = selection_of(env, region)
    with validated(file, selection, ref) as validation:
        graphs = api.graphs_for(validation, applier)
        if target is TargetKind.kubernetes:  # one cluster: say so before printing a plan
            from mlopsctl.output.kubernetes import check_one_target

            check_one_target(tuple(graphs))
        applied = applier.applied(validation.project) if applier else {}
        if base is not None:
            applied = applied_at_ref(file, base)
        the_plan, _ = api.make_plan(validation, graphs, applied, selection)
        renderer = {
            PlanFormat.text: render_text,
            PlanFormat.json: render_json,
            PlanFormat.markdown: render_markdown,
        }
        typer.echo(renderer[fmt](the_plan), nl=False)
        if out is not None:
            from mlopsctl.plan.saved import Invocation, dump_saved_plan

            kind = target or (TargetKind.gitops if repo else None)
            invocation = Invocation(
                config=str(file),
                ref=ref,
                envs=selection.envs,
                regions=selection.regions,
                target=kind.value if kind else None,
                options={
                    **{k: str(v) for k, v in (("repo", repo), ("backend", backend)) if v is not None},
                    **kube,
                },
            )
            write_atomic(out, dump_saved_plan(invocation, api.basis(validation, applied), the_plan))
            err(f"Saved the plan to {out}; apply exactly it with 'mlopsctl apply --plan {out}'.")
        preview = api.preview(validation, graphs, applier) if applier else None
        if preview is not None:
            err(preview.detail)
    if detailed_exitcode and the_plan.has_changes:
        raise ChangesPresent


class RenderFormat(enum.StrEnum):
    text = "text"
    json = "json"


def render(
    out: Annotated[
        pathlib.Path,
        typer.Option(
            "--out", "-o", metavar="DIR", help="Folder to write <env>/<region>/ into (replacing them)."
        ),
    ],
    file: FileArg = DEFAULT_FILE,
    env: EnvOpt = None,
    region: RegionOpt = None,
    ref: RefOpt = None,
    fmt: Annotated[
        RenderFormat,
        typer.Option("--format", "-f", help="Output format (json: the folders and their files)."),
    ] = RenderFormat.text,
) -> None:
    """Write manifests, the resource graph and a kustomization for each environment/region."""
    import json

    from mlopsctl import api
    from mlopsctl.output.folders import render_target, write_targets

    as_json = fmt is RenderFormat.json
    diagnostics = DiagnosticFormat.json if as_json else DiagnosticFormat.text
    with validated(
        file, selection_of(env, region), ref, diagnostics, writes=True, report_valid=not as_json
    ) as validation:
        graphs = api.compile_graphs(validation)
        rendered = {t: render_target(g, validation.project) for t, g in graphs.items()}
        write_targets(out, rendered)
        if as_json:
            folders = {
                str(t): {"folder": str(out / t.env / t.region), "files": sorted(files)}
                for t, files in rendered.items()
            }
            found = [d.to_dict() for d in validation.diagnostics]  # a valid config's warnings
            typer.echo(json.dumps({"diagnostics": found, "targets": folders}, indent=2))
            return
        for t, files in rendered.items():
            typer.echo(f"{out / t.env / t.region}: {len(files)} files")


def apply(
    file: Annotated[
        pathlib.Path | None, typer.Argument(help="The config file (default: mlops.yaml).", metavar="[FILE]")
    ] = None,
    env: EnvOpt = None,
    region: RegionOpt = None,
    target: Annotated[
        TargetKind | None, typer.Option("--target", help="Where to apply (default: gitops).")
    ] = None,
    repo: Annotated[
        pathlib.Path | None,
        typer.Option("--repo", metavar="DIR", help="The deploy repository to commit to (gitops, required)."),
    ] = None,
    backend: BackendOpt = None,
    context: ContextOpt = None,
    kubeconfig: KubeconfigOpt = None,
    state: StateOpt = None,
    ref: RefOpt = None,
    allow_destroy: Annotated[
        bool, typer.Option("--allow-destroy", help="Allow destroying or replacing protected resources.")
    ] = False,
    plan_file: Annotated[
        pathlib.Path | None,
        typer.Option(
            "--plan",
            metavar="PLANFILE",
            help="Apply exactly this saved plan (from 'plan --out'); refused if stale.",
        ),
    ] = None,
) -> None:
    """Apply the config: commit it to the deploy repository (gitops), run the Pulumi program (pulumi),
    or server-side apply its Kubernetes objects to the cluster and prune (kubernetes)."""
    from mlopsctl import api
    from mlopsctl.views.plan_text import render_text

    saved = None
    kube = kube_options(context, kubeconfig, state)
    if plan_file is not None:
        if file or env or region or target or repo or ref or backend or kube:
            fail(
                "--plan repeats the saved plan's FILE, environments, regions, --target, --ref, --repo, "
                "--backend and the kubernetes target's options: give none of them"
            )
        saved = _read_saved_plan(plan_file)
        inv = saved.invocation
        if inv.target is None:
            fail(f"{plan_file} was planned against no target; plan with --repo or --target to apply it")
        file, env, region, ref = pathlib.Path(inv.config), list(inv.envs), list(inv.regions), inv.ref
        target = TargetKind(inv.target)
        repo = pathlib.Path(inv.options["repo"]) if "repo" in inv.options else None
        backend = inv.options.get("backend")
        kube = {k: v for k, v in inv.options.items() if k in ("context", "kubeconfig", "state")}
    file = file or DEFAULT_FILE
    applier = apply_target(target or TargetKind.gitops, repo, file, backend, kube)
    assert applier is not None
    selection = selection_of(env, region)
    with validated(file, selection, ref, writes=True) as validation:
        graphs = api.graphs_for(validation, applier)
        the_plan, outcome = api.apply(
            validation, graphs, applier, selection, allow_destroy=allow_destroy, saved=saved
        )
        if the_plan.has_changes:
            typer.echo(render_text(the_plan), nl=False)
        typer.echo(outcome.detail)


def _read_saved_plan(path: pathlib.Path) -> SavedPlan:
    from mlopsctl.plan.saved import SavedPlanError, parse_saved_plan

    try:
        return parse_saved_plan(path.read_text(encoding="utf-8"), str(path))
    except SavedPlanError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{path}: {exc.strerror or exc}")
    except UnicodeDecodeError:
        fail(f"{path} is not a plan saved by 'mlopsctl plan --out': not UTF-8 text")


def force_unlock(
    lock_id: Annotated[str, typer.Argument(metavar="LOCK_ID", help="The lock id the refused apply printed.")],
    file: FileArg = DEFAULT_FILE,
    env: Annotated[
        str | None, typer.Option("--env", "-e", metavar="ENV", help="The locked environment.")
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", "-r", metavar="REGION", help="The locked region.")
    ] = None,
    state: Annotated[
        str | None,
        typer.Option(
            "--state",
            metavar="URL",
            help="The state store: gs://BUCKET/PREFIX, file:///PATH or a folder; default .mlopsctl/state "
            "beside the config.",
        ),
    ] = None,
    repo: Annotated[
        pathlib.Path | None,
        typer.Option("--repo", metavar="DIR", help="Unlock this deploy repository (gitops target) instead."),
    ] = None,
) -> None:
    """Release the lock left by an apply that died. Only the lock with LOCK_ID is released."""
    from mlopsctl.config.target import Target
    from mlopsctl.io.gitutil import GitError
    from mlopsctl.output import ApplyError
    from mlopsctl.state.store import StateStoreError

    try:
        if repo is not None:
            if env or region or state:
                fail("--repo has one lock for all environments and regions: drop --env, --region and --state")
            from mlopsctl.output.gitops import GitopsTarget

            what, holder = f"the deploy repository {repo}", GitopsTarget(repo).force_unlock(lock_id)
        else:
            if env is None or region is None:
                fail("--env and --region name the locked state (or --repo DIR for a deploy repository)")
            from mlopsctl.state.backends import project_of, store_from_url

            store = store_from_url(state, file.parent)
            target = Target(env, region)
            holder = store.force_unlock(project_of(file), target, lock_id)
            what = f"the state of {target} in {store}"
    except (StateStoreError, ApplyError, GitError) as exc:
        fail(str(exc))
    typer.echo(f"Released the lock of {what}, held by {holder.describe()}.")
