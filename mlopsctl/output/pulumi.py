"""The pulumi target: run the graph's Pulumi program through the Automation API.

One Pulumi project per mlopsctl project, one stack per target (``<env>-<region>``),
the program inline (``mlopsctl.pulumi.program``). Each stack exports the mlopsctl
state of what it applied (``mlopsctlState``), which the next plan diffs against.
State lives in a ``file://`` backend beside the config (``.mlopsctl/pulumi``) unless
``--backend`` or ``PULUMI_BACKEND_URL`` names another. Secrets are encrypted with
the passphrase from ``PULUMI_CONFIG_PASSPHRASE`` or ``PULUMI_CONFIG_PASSPHRASE_FILE``;
Pulumi never prompts.

What Vertex AI makes by itself (the region's metadata store ``default``) is looked up before each
plan (:meth:`PulumiTarget.scope`, ``mlopsctl.pulumi.adopt``): a store that exists and that the
stack's state does not hold yet is planned as an import and adopted by ``pulumi up``; one that
cannot be adopted as configured is refused when the state is read (:meth:`PulumiTarget.applied`).
"""

from __future__ import annotations

import os
import pathlib
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from mlopsctl.config.target import Target
from mlopsctl.graph import Graph
from mlopsctl.output import ApplyError, Outcome, Release
from mlopsctl.plan import Plan, blocked_by_protection
from mlopsctl.pulumi.adopt import ADOPTED, Lookup, adoptable
from mlopsctl.state import State, StateError, dump_state, parse_state, state_from_graph

if TYPE_CHECKING:
    from pulumi import automation as auto

LOCAL_BACKEND = pathlib.PurePosixPath(".mlopsctl", "pulumi")
GCE_PRODUCT = pathlib.Path("/sys/class/dmi/id/product_name")
"""Names the machine 'Google ...' on Compute Engine, where the metadata server has credentials."""
_PASSPHRASE = ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE")
_TOKENS = ("GOOGLE_CREDENTIALS", "GOOGLE_OAUTH_ACCESS_TOKEN", "CLOUDSDK_AUTH_ACCESS_TOKEN")
_OPERATIONS = (
    ("import", "to import"),
    ("create", "to create"),
    ("update", "to update"),
    ("replace", "to replace"),
    ("delete", "to delete"),
)


def stack_name(target: Target) -> str:
    return f"{target.env}-{target.region}"


def backend_url(config_dir: pathlib.Path, flag: str | None, env: Mapping[str, str]) -> str:
    """``--backend``, else ``PULUMI_BACKEND_URL``, else a folder beside the config."""
    return flag or env.get("PULUMI_BACKEND_URL") or (config_dir.resolve() / LOCAL_BACKEND).as_uri()


def readiness_problem(backend: str, env: Mapping[str, str]) -> str | None:
    """What must be installed or set before Pulumi can run here, or None."""
    if shutil.which("pulumi", path=env.get("PATH")) is None:
        return (
            "the Pulumi CLI is not installed: install it (https://www.pulumi.com/docs/install/) "
            "and put 'pulumi' on PATH"
        )
    if not backend.startswith("https://") and not any(env.get(v) for v in _PASSPHRASE):
        return (
            f"set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE): the passphrase that "
            f"encrypts the secrets of the stacks in {backend}"
        )
    return google_credentials_problem(env)


def google_credentials_problem(env: Mapping[str, str]) -> str | None:
    """None when Application Default Credentials (or a token) can be found, else what to do."""
    key_file = env.get("GOOGLE_APPLICATION_CREDENTIALS")
    if key_file:
        if pathlib.Path(key_file).is_file():
            return None
        return f"GOOGLE_APPLICATION_CREDENTIALS names {key_file}, which is not a file"
    if any(env.get(v) for v in _TOKENS):
        return None
    gcloud = pathlib.Path(env.get("CLOUDSDK_CONFIG") or _home(env) / ".config" / "gcloud")
    if (gcloud / "application_default_credentials.json").is_file() or _on_compute_engine():
        return None
    return (
        "no Google Cloud credentials: run 'gcloud auth application-default login' "
        "or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file"
    )


def _home(env: Mapping[str, str]) -> pathlib.Path:
    return pathlib.Path(env.get("HOME") or pathlib.Path.home())


def _on_compute_engine() -> bool:
    try:
        return GCE_PRODUCT.read_text(encoding="utf-8").startswith("Google")
    except OSError:
        return False


def _counts(operations: Mapping[Any, int]) -> dict[str, int]:
    """Pulumi's counts, keyed by operation or its name, by name."""
    return {str(getattr(op, "value", op)): n for op, n in operations.items()}


def has_changes(operations: Mapping[Any, int]) -> bool:
    counts = _counts(operations)
    return any(counts.get(op) for op, _ in _OPERATIONS)


def change_summary(operations: Mapping[Any, int]) -> str:
    """``2 to create, 1 to update, 5 unchanged`` from Pulumi's counts (keyed by operation or its name)."""
    counts = _counts(operations)
    parts = [f"{counts[op]} {words}" for op, words in _OPERATIONS if counts.get(op)]
    return ", ".join([*parts, f"{counts.get('same', 0)} unchanged"])


def unprotect(deployment: Mapping[str, Any], resources: set[tuple[str, str]]) -> dict[str, Any]:
    """``deployment`` (a stack export) with the (type, name) ``resources`` no longer protected."""
    found = [dict(r) for r in deployment.get("resources", [])]
    for r in found:
        if (r.get("type"), r["urn"].rsplit("::", 1)[-1]) in resources:
            r["protect"] = False
    return {**deployment, "resources": found}


class PulumiTarget:
    def __init__(self, config: pathlib.Path, backend: str | None = None) -> None:
        self.backend = backend_url(config.parent, backend, os.environ)
        self.on_output: Callable[[str], Any] = lambda line: print(line, file=sys.stderr)
        self._lookups: dict[str, Lookup] = {}
        """What :meth:`scope` found of each store, by address, for :meth:`applied` to check."""

    def _check(self) -> None:
        problem = readiness_problem(self.backend, os.environ)
        if problem:
            raise ApplyError(problem)
        if self.backend.startswith("file://"):
            _local_folder(self.backend).mkdir(parents=True, exist_ok=True)

    @contextmanager
    def _workspace(self, project: str) -> Iterator[auto.LocalWorkspace]:
        """A workspace in a folder of its own, removed afterwards (Pulumi writes its project file there;
        the stacks live in the backend)."""
        from pulumi import automation as auto

        secrets = None if self.backend.startswith("https://") else "passphrase"
        backend = auto.ProjectBackend(self.backend)
        settings = auto.ProjectSettings(name=project, runtime="python", backend=backend)
        with tempfile.TemporaryDirectory(prefix="mlopsctl-pulumi-") as work_dir:
            with _pulumi_errors("set up the Pulumi workspace"):
                workspace = auto.LocalWorkspace(
                    work_dir=work_dir,
                    project_settings=settings,
                    secrets_provider=secrets,
                    env_vars={"PULUMI_SKIP_UPDATE_CHECK": "true"},
                )
            yield workspace

    def scope(self, graph: Graph) -> Graph:
        """``graph``, each store that Vertex AI made already marked to be imported (``plan.Existing``):
        the plan imports it unless the stack's state holds it."""
        if not any(graph.of_type(t) for t in ADOPTED):
            return graph
        self._check()
        scoped, lookups = adoptable(graph)
        self._lookups.update(lookups)
        return scoped

    def applied(self, project: str) -> dict[Target, State]:
        """The state each stack of ``project`` exported when last applied. A store of a scoped graph
        that this state does not hold and that cannot be adopted (see ``mlopsctl.pulumi.adopt``) is
        an error."""
        states = self._applied(project)
        refusals = []
        for address, lookup in sorted(self._lookups.items()):
            held = states.get(lookup.resource.target)
            refusal = lookup.refusal() if held is None or address not in held.resources else None
            if refusal is not None:
                refusals.append(refusal)
        if refusals:
            raise ApplyError("\n".join(refusals))
        return states

    def _applied(self, project: str) -> dict[Target, State]:
        from pulumi import automation as auto

        from mlopsctl.pulumi.program import STATE_OUTPUT

        self._check()
        states: dict[Target, State] = {}
        with (
            self._workspace(project) as workspace,
            _pulumi_errors(f"read the stacks of {project} in {self.backend}"),
        ):
            for summary in workspace.list_stacks():
                output = auto.Stack.select(summary.name, workspace).outputs().get(STATE_OUTPUT)
                if output is not None:
                    state = _state(output.value, summary.name, project)
                    states[state.target] = state
        return states

    def preview(self, release: Release) -> Outcome:
        """A Pulumi preview of every target: one summary line each."""
        self._check()
        lines = []
        changed = False
        with self._workspace(release.project) as workspace:
            for target, graph in release.graphs.items():
                stack = self._stack(workspace, target, graph, release)
                with _pulumi_errors(f"preview {stack.name}"):
                    result = stack.preview()
                lines.append(f"{target}: Pulumi preview: {change_summary(result.change_summary)}")
                changed = changed or has_changes(result.change_summary)
        return Outcome(changed, "\n".join(lines))

    def apply(self, plan: Plan, release: Release, removed: tuple[Target, ...]) -> Outcome:
        """Unprotect what ``--allow-destroy`` allowed, then update each stack and destroy removed ones."""
        self._check()
        allowed: dict[Target, set[tuple[str, str]]] = {}
        for change in blocked_by_protection(plan):
            allowed.setdefault(change.target, set()).add((change.type, change.name))
        lines = []
        with self._workspace(release.project) as workspace:
            for target, graph in release.graphs.items():
                stack = self._stack(workspace, target, graph, release)
                self._unprotect(stack, allowed.get(target, set()))
                with _pulumi_errors(f"update {stack.name}"):
                    result = stack.up(on_output=self.on_output)
                lines.append(f"{target}: {change_summary(result.summary.resource_changes or {})}")
            for target in removed:
                stack = self._stack(workspace, target, None, release)
                self._unprotect(stack, allowed.get(target, set()))
                with _pulumi_errors(f"destroy {stack.name}"):
                    stack.destroy(on_output=self.on_output)
                    workspace.remove_stack(stack.name)
                lines.append(f"{target}: destroyed")
        return Outcome(plan.has_changes, "Applied with Pulumi:\n" + "\n".join(lines))

    def _stack(
        self, workspace: auto.LocalWorkspace, target: Target, graph: Graph | None, release: Release
    ) -> auto.Stack:
        from pulumi import automation as auto

        from mlopsctl.pulumi.program import program_of

        if graph is not None:
            state = state_from_graph(
                graph,
                project=release.project,
                source_commit=release.source_commit,
                config_hash=release.config_hashes[target],
            )
            workspace.program = program_of(graph, dump_state(state))
        with _pulumi_errors(f"select the stack {stack_name(target)}"):
            return auto.Stack.create_or_select(stack_name(target), workspace)

    def _unprotect(self, stack: auto.Stack, resources: set[tuple[str, str]]) -> None:
        if not resources:
            return
        from pulumi import automation as auto

        with _pulumi_errors(f"unprotect resources of {stack.name}"):
            exported = stack.export_stack()
            deployment = unprotect(exported.deployment or {}, resources)
            stack.import_stack(auto.Deployment(version=exported.version, deployment=deployment))


def _local_folder(url: str) -> pathlib.Path:
    from urllib.parse import unquote, urlparse

    return pathlib.Path(unquote(urlparse(url).path))


def _state(text: Any, stack: str, project: str) -> State:
    try:
        state = parse_state(str(text))
    except StateError as exc:
        raise ApplyError(f"the state exported by stack {stack} cannot be read: {exc}") from None
    if state.project != project or stack_name(state.target) != stack:
        raise ApplyError(f"stack {stack} holds the state of {state.project} {state.target}")
    return state


@contextmanager
def _pulumi_errors(doing: str) -> Iterator[None]:
    """Pulumi's failures as an ApplyError naming what failed and Pulumi's last words."""
    from pulumi.automation import errors

    try:
        yield
    except errors.CommandError as exc:
        stderr = str(exc).split(" stderr: ", 1)[-1]  # CommandError's text ends with Pulumi's stderr
        words = [line.strip() for line in stderr.splitlines() if line.strip()]
        raise ApplyError(f"cannot {doing}: {' '.join(words[-3:]) or 'pulumi failed'}") from None
