"""The plan, render, apply and force-unlock commands."""

from __future__ import annotations

import enum
import pathlib
from typing import Annotated

import typer

from mlopsctl.api.targets import TargetKind
from mlopsctl.cli.common import (
    DEFAULT_FILE,
    ChangesPresent,
    EnvOpt,
    FileArg,
    FormatOpt,
    OutputFormat,
    RefOpt,
    RegionOpt,
    echo_chunks,
    err,
    fail,
    progress,
    refuse_unwritable_file,
    refuse_unwritable_folder,
    selection_of,
    validated,
)
from mlopsctl.cli.targets import (
    BackendOpt,
    ContextOpt,
    KubeconfigOpt,
    NoColorOpt,
    RepoOpt,
    StateOpt,
    TargetOpt,
    target_spec,
)


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
    compact: Annotated[
        bool, typer.Option("--compact", help="One line per changed resource (text format).")
    ] = False,
    no_color: NoColorOpt = False,
) -> None:
    """Show what applying the config would change.

    Against what the target applied (--repo, --target pulumi followed by a Pulumi
    preview, or --target kubernetes followed by a server-side dry run), against the config
    at another commit (--base), or else against empty state.
    """
    from mlopsctl import api
    from mlopsctl.views import plan_views

    spec = target_spec(target, repo, backend, context, kubeconfig, state)
    if base is not None and out is not None:
        fail("--base compares two commits of the config: it takes no --out")
    if out is not None:
        refuse_unwritable_file("--out", out, writes=("a plan saved by 'plan --out'", "format_version"))
    selection = selection_of(env, region)
    as_json = fmt is PlanFormat.json
    with validated(file, selection, ref, json_document=as_json) as validation:
        result = api.plan(validation, file, selection, spec, base=base, progress=progress(always=False))
        chunks = plan_views.chunks(result.plan, fmt.value, compact=compact, no_color=no_color)
        if not as_json:  # a person reads the plan first, then what the target's preview said of it
            echo_chunks(chunks)
        preview = result.preview()  # a refused preview saves nothing (and under -f json is the one document)
        if as_json:
            echo_chunks(chunks)
        if out is not None:
            api.save_plan(result, out, file, ref, selection, spec)
            err(f"Saved the plan to {out}; apply exactly it with 'mlopsctl apply --plan {out}'.")
        if preview is not None:
            err(preview.detail)
    if detailed_exitcode and result.plan.has_changes:
        raise ChangesPresent


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
        OutputFormat,
        typer.Option("--format", "-f", help="Output format (json: the folders and their files)."),
    ] = OutputFormat.text,
) -> None:
    """Write manifests, the resource graph and a kustomization for each environment/region."""
    from mlopsctl import api
    from mlopsctl.views import outcomes

    refuse_unwritable_folder("--out", out)
    as_json = fmt is OutputFormat.json
    with validated(
        file,
        selection_of(env, region),
        ref,
        writes=True,
        report_valid=not as_json,  # the document lists the warnings
        json_document=as_json,
    ) as validation:
        result = api.render(validation, out, progress=progress(always=False))
        typer.echo((outcomes.render_json if as_json else outcomes.render_text)(result), nl=False)


def apply(
    file: Annotated[
        pathlib.Path | None, typer.Argument(help="The config file (default: mlops.yaml).", metavar="FILE")
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
    fmt: FormatOpt = OutputFormat.text,
    no_color: NoColorOpt = False,
) -> None:
    """Apply the config: commit it to the deploy repository (gitops), run the Pulumi program (pulumi),
    or server-side apply its Kubernetes objects to the cluster and prune (kubernetes)."""
    from mlopsctl import api
    from mlopsctl.views import outcomes, plan_views

    saved = None
    spec = target_spec(target, repo, backend, context, kubeconfig, state)
    if plan_file is not None:
        if file or env or region or ref or spec.given:
            fail(
                "--plan repeats the saved plan's FILE, environments, regions, --target, --ref, --repo, "
                "--backend and the kubernetes target's options: give none of them"
            )
        saved = api.read_saved_plan(plan_file)
        file, env, region, ref, spec = api.replay(saved, plan_file)
    elif file is not None and api.is_saved_plan(file):
        fail(f"{file} is a plan saved by 'mlopsctl plan --out', not a config: apply it with --plan {file}")
    file = file or DEFAULT_FILE
    selection = selection_of(env, region)
    as_json = fmt is OutputFormat.json
    with validated(file, selection, ref, writes=True, json_document=as_json) as validation:
        result = api.apply(
            validation,
            file,
            selection,
            spec,
            allow_destroy=allow_destroy,
            saved=saved,
            progress=progress(always=fmt is OutputFormat.text),
        )
        if fmt is OutputFormat.json:
            typer.echo(outcomes.apply_json(result), nl=False)
            return
        if result.plan.has_changes:
            echo_chunks(plan_views.chunks(result.plan, "text", no_color=no_color))
        typer.echo(result.outcome.detail)


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
    fmt: FormatOpt = OutputFormat.text,
) -> None:
    """Release the lock left by an apply that died. Only the lock with LOCK_ID is released."""
    from mlopsctl import api
    from mlopsctl.views import outcomes

    result = api.force_unlock(file, lock_id, env=env, region=region, state=state, repo=repo)
    typer.echo(
        (outcomes.unlocked_json if fmt is OutputFormat.json else outcomes.unlocked_text)(result), nl=False
    )
