"""The mlopsctl command line: parse flags, call one library function, print, exit.

Exit codes: 0 success (or no changes), 1 any error, 2 changes present (only
with ``plan --detailed-exitcode``). Usage errors exit 1, never 2, because CI
reads 2 as "changes". Heavy modules are imported inside the commands so that
``--help`` stays fast.
"""

from __future__ import annotations

import contextlib
import enum
import pathlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    from mlopsctl.api import Selection, Validation
    from mlopsctl.apply import ApplyTarget
    from mlopsctl.diagnostics import Diagnostic
    from mlopsctl.graph import Target
    from mlopsctl.plan.saved import SavedPlan
    from mlopsctl.state import State


class _ChangesPresent(Exception):
    """Raised by ``plan --detailed-exitcode`` to exit 2."""


class _Group(TyperGroup):
    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().main(*args, **kwargs)
        except _ChangesPresent:
            raise SystemExit(2) from None
        except SystemExit as exc:
            if exc.code == 2:  # a usage error: CI must not read it as "changes"
                raise SystemExit(1) from None
            raise


app = typer.Typer(
    cls=_Group,
    name="mlopsctl",
    help="Compile mlops.yaml into Google Cloud infrastructure and Kubernetes manifests; plan and apply it.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class DiagnosticFormat(enum.StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


class PlanFormat(enum.StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


class TargetKind(enum.StrEnum):
    gitops = "gitops"
    pulumi = "pulumi"
    kubernetes = "kubernetes"


FileArg = Annotated[pathlib.Path, typer.Argument(help="The config file.", show_default=True, metavar="FILE")]
EnvOpt = Annotated[
    list[str] | None, typer.Option("--env", "-e", metavar="ENV", help="Only this environment (repeatable).")
]
RegionOpt = Annotated[
    list[str] | None, typer.Option("--region", "-r", metavar="REGION", help="Only this region (repeatable).")
]
RefOpt = Annotated[
    str | None,
    typer.Option("--ref", metavar="REF", help="Read the config as of this Git commit, branch or tag."),
]
DEFAULT_FILE = pathlib.Path("mlops.yaml")


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _fail(message: str) -> NoReturn:
    _err(f"error: {message}")
    raise typer.Exit(1)


def _selection(env: list[str] | None, region: list[str] | None) -> Selection:
    from mlopsctl.api import Selection

    return Selection(tuple(env or ()), tuple(region or ()))


@contextlib.contextmanager
def _validated(
    file: pathlib.Path,
    selection: Selection,
    ref: str | None = None,
    fmt: DiagnosticFormat = DiagnosticFormat.text,
    *,
    writes: bool = False,
    report_valid: bool = True,
) -> Iterator[Validation]:
    """Validate ``file``; print diagnostics; exit 1 on errors (nothing else runs).

    With ``report_valid`` false, the diagnostics of a valid config are left to the command.

    Failures of the command's body that are the user's to fix (a path that cannot
    be written, a Git or template problem, a refused apply) end it with a message.
    """
    from mlopsctl import api
    from mlopsctl.apply import ApplyError
    from mlopsctl.diagnostics import plural
    from mlopsctl.gitutil import GitError
    from mlopsctl.manifests import TemplateError
    from mlopsctl.plan.saved import SavedPlanError
    from mlopsctl.source import open_source
    from mlopsctl.state_store import StateStoreError

    try:
        with open_source(file, ref) as source:
            validation = api.validate(source, selection)
            if report_valid or not validation.ok:
                _print_diagnostics(validation.diagnostics, fmt, file=validation.source.display)
            if not validation.ok:
                errors = sum(d.is_error for d in validation.diagnostics)
                if fmt is DiagnosticFormat.text:
                    tail = "; nothing was written" if writes else ""
                    _err(f"{validation.source.display}: {plural(errors, 'error')}{tail}")
                raise typer.Exit(1)
            yield validation
    except TemplateError as exc:
        if not exc.shown:
            _fail(str(exc))
        _err(str(exc))
        raise typer.Exit(1) from None
    except (
        GitError,
        ApplyError,
        api.ProtectedResourceError,
        SavedPlanError,
        StateStoreError,
    ) as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{exc.filename or file}: {exc.strerror or exc}")


def _print_diagnostics(
    diagnostics: list[Diagnostic],
    fmt: DiagnosticFormat,
    rules: dict[str, tuple[str, str]] | None = None,
    file: str | None = None,
) -> None:
    """Diagnostics in ``fmt``: text on stderr, the others (one document) on stdout; ``file`` is the
    config, where SARIF places findings about no line."""
    from mlopsctl import __version__
    from mlopsctl.diagnostics import render_github, render_json, render_sarif

    if fmt is DiagnosticFormat.json:
        typer.echo(render_json(diagnostics))
    elif fmt is DiagnosticFormat.sarif:
        typer.echo(render_sarif(diagnostics, __version__, rules, file))
    elif fmt is DiagnosticFormat.github:
        if diagnostics:
            typer.echo(render_github(diagnostics))
    else:
        for diagnostic in diagnostics:
            _err(diagnostic.to_text())


@app.command()
def validate(
    files: Annotated[
        list[pathlib.Path] | None,
        typer.Argument(help="The config files (default: mlops.yaml).", metavar="[FILE]..."),
    ] = None,
    env: EnvOpt = None,
    region: RegionOpt = None,
    fmt: Annotated[
        DiagnosticFormat, typer.Option("--format", "-f", help="Output format.")
    ] = DiagnosticFormat.text,
    ref: RefOpt = None,
) -> None:
    """Check configs: syntax, schema, references and cloud limits. Exit 1 on any error."""
    paths = files or [DEFAULT_FILE]
    if len(paths) > 1 and fmt in (DiagnosticFormat.json, DiagnosticFormat.sarif):
        _fail(f"--format {fmt.value} reports on one FILE; run once per file")
    failed = 0
    for file in paths:
        try:
            with _validated(file, _selection(env, region), ref, fmt) as validation:
                if fmt is DiagnosticFormat.text:
                    targets = ", ".join(str(t) for t in validation.targets)
                    typer.echo(f"{validation.source.display} is valid ({targets}).")
        except typer.Exit as exc:
            failed += exc.exit_code != 0
    if failed:
        raise typer.Exit(1)


def _apply_target(
    kind: TargetKind | None,
    repo: pathlib.Path | None,
    file: pathlib.Path,
    backend: str | None,
    kube: dict[str, str] | None = None,
) -> ApplyTarget | None:
    kube = kube or {}
    if kind is TargetKind.kubernetes:
        if repo is not None or backend is not None:
            _fail("--repo and --backend are not for the kubernetes target; it keeps its state in --state")
        import functools

        from mlopsctl.apply.kubernetes import KubernetesTarget, open_store

        store = functools.partial(open_store, file, kube.get("state"))
        return KubernetesTarget(store, kubeconfig=kube.get("kubeconfig"), context=kube.get("context"))
    if kube:
        _fail(f"--{min(kube)} is for --target kubernetes")
    if kind is TargetKind.pulumi:
        if repo is not None:
            _fail("--repo is for the gitops target; the pulumi target keeps its state in --backend")
        from mlopsctl.apply.pulumi import PulumiTarget

        return PulumiTarget(file, backend)
    if backend is not None:
        _fail("--backend is for --target pulumi")
    if kind is None and repo is None:
        return None
    if repo is None:
        _fail("--repo DIR is required: the deploy repository to apply to (or to plan against)")
    from mlopsctl.apply.gitops import GitopsTarget

    return GitopsTarget(repo)


TargetOpt = Annotated[
    TargetKind | None,
    typer.Option("--target", help="Diff against what this target applied (implied by --repo)."),
]
RepoOpt = Annotated[
    pathlib.Path | None,
    typer.Option("--repo", metavar="DIR", help="The deploy repository (gitops target): plan against it."),
]
ContextOpt = Annotated[
    str | None,
    typer.Option("--context", metavar="NAME", help="Kube context (kubernetes target); default: the current."),
]
KubeconfigOpt = Annotated[
    str | None,
    typer.Option(
        "--kubeconfig",
        metavar="PATH",
        help="Kubeconfig (kubernetes target); default $KUBECONFIG, else ~/.kube/config.",
    ),
]
StateOpt = Annotated[
    str | None,
    typer.Option(
        "--state",
        metavar="URL",
        help="Where the kubernetes target keeps what it applied; default .mlopsctl/state beside the config.",
    ),
]


def _kube_options(context: str | None, kubeconfig: str | None, state: str | None) -> dict[str, str]:
    """The kubernetes target's options that were given, by name."""
    given = {"context": context, "kubeconfig": kubeconfig, "state": state}
    return {k: v for k, v in given.items() if v is not None}


BackendOpt = Annotated[
    str | None,
    typer.Option(
        "--backend",
        metavar="URL",
        help="Pulumi state backend (pulumi target); default $PULUMI_BACKEND_URL, else .mlopsctl/pulumi "
        "beside the config.",
    ),
]


@app.command()
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
    from mlopsctl.fileio import write_atomic
    from mlopsctl.plan.render_json import render_json
    from mlopsctl.plan.render_markdown import render_markdown
    from mlopsctl.plan.render_text import render_text

    kube = _kube_options(context, kubeconfig, state)
    if base is not None and (target or repo or backend or out or kube):
        _fail("--base compares two commits of the config: it takes no --target, --repo, --backend or --out")
    applier = _apply_target(target, repo, file, backend, kube)
    selection = _selection(env, region)
    with _validated(file, selection, ref) as validation:
        graphs = api.graphs_for(validation, applier)
        if target is TargetKind.kubernetes:  # one cluster: say so before printing a plan
            from mlopsctl.apply.kubernetes import check_one_target

            check_one_target(tuple(graphs))
        applied = applier.applied(validation.project) if applier else {}
        if base is not None:
            applied = _applied_as_of(file, base)
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
            _err(f"Saved the plan to {out}; apply exactly it with 'mlopsctl apply --plan {out}'.")
        preview = api.preview(validation, graphs, applier) if applier else None
        if preview is not None:
            _err(preview.detail)
    if detailed_exitcode and the_plan.has_changes:
        raise _ChangesPresent


def _applied_as_of(file: pathlib.Path, ref: str) -> dict[Target, State]:
    from mlopsctl import api
    from mlopsctl.source import open_source

    with open_source(file, ref) as source:
        try:
            return api.applied_as_of(api.validate(source))
        except api.BaseConfigError as exc:
            _fail(str(exc))


@app.command()
def check(
    file: FileArg = DEFAULT_FILE,
    env: EnvOpt = None,
    region: RegionOpt = None,
    fmt: Annotated[
        DiagnosticFormat, typer.Option("--format", "-f", help="Output format.")
    ] = DiagnosticFormat.text,
    repo: Annotated[
        pathlib.Path | None,
        typer.Option(
            "--repo", metavar="DIR", help="Also check what applying to this deploy repository would destroy."
        ),
    ] = None,
    base: Annotated[
        str | None,
        typer.Option(
            "--base",
            metavar="REF",
            help="Also check what changes from the config as of this Git ref destroy.",
        ),
    ] = None,
) -> None:
    """Enforce the policies (docs/policies.md) over the compiled graphs. Exit 1 on any error finding."""
    from mlopsctl import api
    from mlopsctl.diagnostics import plural
    from mlopsctl.policies.run import all_policies, check, rules

    if repo is not None and base is not None:
        _fail("give --repo or --base, not both")
    applier = _apply_target(None, repo, file, None)
    selection = _selection(env, region)
    with _validated(file, selection, None, fmt, report_valid=False) as validation:
        graphs = api.compile_graphs(validation)
        plan = None
        if base is not None:
            plan, _ = api.make_plan(validation, graphs, _applied_as_of(file, base), selection)
        elif applier is not None:
            plan, _ = api.make_plan(validation, graphs, applier.applied(validation.project), selection)
        policies = all_policies()
        found = validation.diagnostics + check(validation, graphs, policies, plan)
        _print_diagnostics(found, fmt, rules(policies), validation.source.display)
        errors = sum(d.is_error for d in found)
        if fmt is DiagnosticFormat.text:
            counts = f"{plural(errors, 'error')}, {plural(len(found) - errors, 'warning')}"
            typer.echo(f"{validation.source.display}: {counts}.")
    if errors:
        raise typer.Exit(1)


@app.command()
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
) -> None:
    """Write manifests, the resource graph and a kustomization for each environment/region."""
    from mlopsctl import api
    from mlopsctl.render import render_target, write_targets

    with _validated(file, _selection(env, region), ref, writes=True) as validation:
        graphs = api.compile_graphs(validation)
        rendered = {t: render_target(g, validation.project) for t, g in graphs.items()}
        write_targets(out, rendered)
        for t, files in rendered.items():
            typer.echo(f"{out / t.env / t.region}: {len(files)} files")


@app.command()
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
    from mlopsctl.plan.render_text import render_text

    saved = None
    kube = _kube_options(context, kubeconfig, state)
    if plan_file is not None:
        if file or env or region or target or repo or ref or backend or kube:
            _fail(
                "--plan repeats the saved plan's FILE, environments, regions, --target, --ref, --repo, "
                "--backend and the kubernetes target's options: give none of them"
            )
        saved = _read_saved_plan(plan_file)
        inv = saved.invocation
        if inv.target is None:
            _fail(f"{plan_file} was planned against no target; plan with --repo or --target to apply it")
        file, env, region, ref = pathlib.Path(inv.config), list(inv.envs), list(inv.regions), inv.ref
        target = TargetKind(inv.target)
        repo = pathlib.Path(inv.options["repo"]) if "repo" in inv.options else None
        backend = inv.options.get("backend")
        kube = {k: v for k, v in inv.options.items() if k in ("context", "kubeconfig", "state")}
    file = file or DEFAULT_FILE
    applier = _apply_target(target or TargetKind.gitops, repo, file, backend, kube)
    assert applier is not None
    selection = _selection(env, region)
    with _validated(file, selection, ref, writes=True) as validation:
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
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{path}: {exc.strerror or exc}")
    except UnicodeDecodeError:
        _fail(f"{path} is not a plan saved by 'mlopsctl plan --out': not UTF-8 text")


@app.command("force-unlock")
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
    from mlopsctl.apply import ApplyError
    from mlopsctl.gitutil import GitError
    from mlopsctl.graph import Target
    from mlopsctl.state_store import StateStoreError

    try:
        if repo is not None:
            if env or region or state:
                _fail(
                    "--repo has one lock for all environments and regions: drop --env, --region and --state"
                )
            from mlopsctl.apply.gitops import GitopsTarget

            what, holder = f"the deploy repository {repo}", GitopsTarget(repo).force_unlock(lock_id)
        else:
            if env is None or region is None:
                _fail("--env and --region name the locked state (or --repo DIR for a deploy repository)")
            from mlopsctl.stores import project_of, store_from_url

            store = store_from_url(state, file.parent)
            target = Target(env, region)
            holder = store.force_unlock(project_of(file), target, lock_id)
            what = f"the state of {target} in {store}"
    except (StateStoreError, ApplyError, GitError) as exc:
        _fail(str(exc))
    typer.echo(f"Released the lock of {what}, held by {holder.describe()}.")


DeployRepoOpt = Annotated[
    pathlib.Path | None,
    typer.Option(
        "--repo",
        metavar="DIR",
        help="The deploy repository (gitops): when each region applied its release (promote needs it).",
    ),
]


@app.command()
def promote(
    to: Annotated[str, typer.Option("--to", metavar="ENV", help="The environment to promote into.")],
    file: FileArg = DEFAULT_FILE,
    from_env: Annotated[
        str | None,
        typer.Option("--from", metavar="ENV", help="The source environment: the target's promotion.from."),
    ] = None,
    region: Annotated[
        list[str] | None,
        typer.Option("--region", "-r", metavar="REGION", help="Only this region of ENV (repeatable)."),
    ] = None,
    repo: DeployRepoOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would move; write nothing.")] = False,
    rollback: Annotated[
        bool, typer.Option("--rollback", help="Restore each region's previous entry of mlops.lock.")
    ] = False,
    adopt: Annotated[
        bool,
        typer.Option("--adopt", help="Pin what each region of ENV without a lock entry compiles to now."),
    ] = False,
) -> None:
    """Copy the source environment's release into the target's regions, in order; write mlops.lock.

    A region moves once the region before it applied the release, soaked and passed the
    gates. Only mlops.lock is written: commit it and have it reviewed.
    """
    from datetime import UTC, datetime

    from mlopsctl.fileio import write_atomic
    from mlopsctl.promote import commands
    from mlopsctl.promote.assess import PromotionError
    from mlopsctl.promote.lock import dump_lock, lock_path
    from mlopsctl.promote.render import render_promotion

    if (rollback or adopt) and from_env is not None:
        _fail("--rollback and --adopt pin releases of the target itself: they take no --from")
    if rollback and adopt:
        _fail("give --rollback or --adopt, not both")
    with _validated(file, _selection(None, None), writes=not dry_run) as validation:
        p = commands.promoter(validation, repo, datetime.now(UTC))
        try:
            if rollback:
                proposal = commands.rollback(p, to, region or ())
            elif adopt:
                proposal = commands.adopt(p, to, region or ())
            else:
                proposal = commands.promote(p, to, from_env, region or ())
        except PromotionError as exc:
            _fail(str(exc))
        typer.echo(render_promotion(proposal, validation.lock), nl=False)
        moved = ", ".join(str(t) for t in proposal.moved)
        if not proposal.moved:
            typer.echo("Nothing to promote now.")
        elif dry_run:
            typer.echo(f"Dry run: would write {lock_path(file)} for {moved}; nothing was written.")
        else:
            write_atomic(lock_path(file), dump_lock(proposal.lock))
            typer.echo(f"Wrote {lock_path(file)} for {moved}. Commit it for review, then apply once merged.")


class StatusFormat(enum.StrEnum):
    text = "text"
    json = "json"


@app.command()
def status(
    file: FileArg = DEFAULT_FILE,
    repo: DeployRepoOpt = None,
    fmt: Annotated[StatusFormat, typer.Option("--format", "-f", help="Output format.")] = StatusFormat.text,
) -> None:
    """Per environment/region: the release it runs, whether it matches its source, pending promotions."""
    from datetime import UTC, datetime

    from mlopsctl.promote import commands
    from mlopsctl.promote.render import render_status_json, render_status_text

    with _validated(file, _selection(None, None)) as validation:
        proposal = commands.status(commands.promoter(validation, repo, datetime.now(UTC)))
        render = render_status_json if fmt is StatusFormat.json else render_status_text
        typer.echo(render(proposal), nl=False)


class PlatformFormat(enum.StrEnum):
    text = "text"
    json = "json"


@app.command()
def platform(
    file: FileArg = DEFAULT_FILE,
    env: EnvOpt = None,
    region: RegionOpt = None,
    fmt: Annotated[
        PlatformFormat, typer.Option("--format", "-f", help="Output format.")
    ] = PlatformFormat.text,
) -> None:
    """Per cluster: each add-on its workloads need, its exact version, how it is installed, and why."""
    from mlopsctl import api
    from mlopsctl.platform_report import render_json, render_text

    with _validated(file, _selection(env, region), report_valid=False) as validation:
        report = api.platform(validation, api.compile_graphs(validation))
        typer.echo((render_json if fmt is PlatformFormat.json else render_text)(report), nl=False)


class RunFormat(enum.StrEnum):
    text = "text"
    json = "json"


@app.command()
def run(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="A pipeline, a batch job or a drift/skew monitor.")
    ],
    env: Annotated[str, typer.Option("--env", "-e", metavar="ENV", help="The environment to run in.")],
    file: FileArg = DEFAULT_FILE,
    region: Annotated[
        str | None,
        typer.Option("--region", "-r", metavar="REGION", help="Its region; default: the first."),
    ] = None,
    local: Annotated[
        bool, typer.Option("--local", help="Run on this machine: kfp.local, each step a local process.")
    ] = False,
    out: Annotated[
        pathlib.Path | None,
        typer.Option("--out", "-o", metavar="DIR", help="Where a local run writes its data and outputs."),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", metavar="K=V", help="A pipeline parameter for this run (repeatable)."),
    ] = None,
    local_trials: Annotated[
        int, typer.Option("--local-trials", metavar="N", help="Trials a tune step runs locally.")
    ] = 2,
    act: Annotated[
        bool,
        typer.Option("--act", help="Monitors: on a breach, run the retraining pipelines locally."),
    ] = False,
    data: Annotated[
        pathlib.Path | None,
        typer.Option("--data", metavar="DIR", help="The sample data (default: sample-data beside FILE)."),
    ] = None,
    fmt: Annotated[RunFormat, typer.Option("--format", "-f", help="Output format.")] = RunFormat.text,
) -> None:
    """Run a pipeline, batch job or monitor of one environment (docs/local-runs.md).

    With --local it runs on this machine, from the same compiled objects that go to the
    cluster, on the sample data beside the config. Exit 1 when a step (or the monitor) failed.
    """
    import json

    from mlopsctl import api
    from mlopsctl.run.errors import RunError

    if not local:
        _fail(
            "a cluster run needs the Kubeflow Pipelines API, which mlopsctl run does not support yet: "
            "add --local to run on this machine"
        )
    if out is None:
        _fail("--out DIR is required: where the local run writes its data and outputs")
    params: dict[str, str] = {}
    for given in param or []:
        key, sep, value = given.partition("=")
        if not sep or not key:
            _fail(f"--param {given}: expected K=V")
        params[key] = value
    with _validated(file, _selection([env], [region] if region else None), writes=True) as validation:
        try:
            result = api.run_local(
                validation,
                name,
                out,
                env=env,
                region=region,
                params=params,
                trials=local_trials,
                act=act,
                data=data,
            )
        except RunError as exc:
            _fail(str(exc))
        if fmt is RunFormat.json:
            typer.echo(json.dumps(result.to_json(), indent=2))
        else:
            for line in result.text_lines():
                typer.echo(line)
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def schema() -> None:
    """Print the JSON Schema of mlops.yaml."""
    from mlopsctl.schema import schema_text

    typer.echo(schema_text(), nl=False)


@app.command()
def codes() -> None:
    """Print the table of diagnostic codes (Markdown)."""
    from mlopsctl.diagnostics import codes_markdown

    typer.echo(codes_markdown(), nl=False)


def _version(value: bool) -> None:
    if value:
        from mlopsctl import __version__

        typer.echo(f"mlopsctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    pass


def main() -> None:
    app()
