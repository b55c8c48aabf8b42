"""The gitops target: render into a deploy repository and commit.

Layout of the deploy repository::

    <env>/<region>/...                    what Argo CD or Flux syncs (see mlopsctl.render)
    .mlopsctl/state/<env>/<region>.json   what was applied, for the next plan
"""

from __future__ import annotations

import os
import pathlib

from mlopsctl import gitutil
from mlopsctl.apply import ApplyError, Outcome, Release
from mlopsctl.graph import Target
from mlopsctl.plan import Plan
from mlopsctl.plan.render_text import summary_line
from mlopsctl.render import render_target, target_dir, write_targets
from mlopsctl.state import State, read_state, state_from_graph, write_state

STATE_DIR = pathlib.PurePosixPath(".mlopsctl", "state")
_FALLBACK_IDENTITY = ["-c", "user.name=mlopsctl", "-c", "user.email=mlopsctl@localhost"]


class GitopsTarget:
    def __init__(self, repo: pathlib.Path) -> None:
        self.repo = repo

    def _check_repo(self) -> None:
        if not self.repo.is_dir() or gitutil.toplevel(self.repo) != self.repo.resolve():
            raise ApplyError(
                f"{self.repo} is not the root of a Git repository: create it with 'git init {self.repo}'"
            )

    def state_path(self, target: Target) -> pathlib.Path:
        return self.repo / STATE_DIR / target.env / f"{target.region}.json"

    def applied(self, project: str) -> dict[Target, State]:
        self._check_repo()
        states: dict[Target, State] = {}
        for path in sorted((self.repo / STATE_DIR).glob("*/*.json")):
            state = read_state(path)
            if state is not None and state.project == project:
                states[state.target] = state
        return states

    def apply(self, plan: Plan, release: Release, removed: tuple[Target, ...]) -> Outcome:
        self._check_repo()
        rendered = {t: render_target(g, release.project) for t, g in release.graphs.items()}
        write_targets(self.repo, rendered, removed)
        for target, graph in release.graphs.items():
            write_state(
                self.state_path(target),
                state_from_graph(
                    graph,
                    project=release.project,
                    source_commit=release.source_commit,
                    config_hash=release.config_hashes[target],
                ),
            )
        for target in removed:
            self.state_path(target).unlink(missing_ok=True)
        paths = [str(target_dir(t)) for t in (*release.graphs, *removed)] + [str(STATE_DIR)]
        gitutil.git(["add", "-A", "--", *paths], self.repo)
        if not gitutil.git(["status", "--porcelain", "--", *paths], self.repo).strip():
            return Outcome(False, "No changes. The deploy repository already holds this configuration.")
        identity = [] if _has_identity(self.repo) else _FALLBACK_IDENTITY
        message = commit_message(plan, release, removed)
        gitutil.git(
            [*identity, "commit", "-q", "-F", "-", "--", *paths], self.repo, input_bytes=message.encode()
        )
        commit = gitutil.head_commit(self.repo) or "?"
        return Outcome(True, f"Committed {commit[:12]} to {self.repo}: {summary_line(plan)}")


def commit_message(plan: Plan, release: Release, removed: tuple[Target, ...]) -> str:
    lines = [f"mlopsctl apply {release.project}: {summary_line(plan)}", ""]
    lines.append(f"Source commit: {release.source_commit or 'none (not read from a Git checkout)'}")
    lines.append("Targets:")
    for target_plan in plan.targets:
        s = target_plan.summary
        lines.append(f"  {target_plan.target}: +{s.add} ~{s.change} -{s.destroy}")
    lines += [f"  {t}: removed" for t in removed if t not in {p.target for p in plan.targets}]
    return "\n".join(lines) + "\n"


def _has_identity(repo: pathlib.Path) -> bool:
    if os.environ.get("GIT_AUTHOR_EMAIL") and os.environ.get("GIT_COMMITTER_EMAIL"):
        return True
    try:
        return bool(gitutil.git(["config", "user.email"], repo).strip())
    except gitutil.GitError:
        return False
