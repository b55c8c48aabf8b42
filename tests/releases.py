"""A config with dev → staging → prod (two regions), and Git commits at chosen times."""

from __future__ import annotations

import pathlib
from datetime import UTC, datetime

import pytest
from gitrepos import git

from mlopsctl import api
from mlopsctl.config.lock import dump_lock
from mlopsctl.config.source import open_source
from mlopsctl.io.fileio import write_atomic
from mlopsctl.output.gitops import GitopsTarget
from mlopsctl.promote import commands
from mlopsctl.promote.assess import Promoter

CHAIN = """\
apiVersion: mlopsctl.dev/v1alpha1
kind: MLOpsProject
project:
  name: demo
environments:
  dev:
    gcpProject: acme-demo-dev
    regions: [us-central1]
  staging:
    gcpProject: acme-demo-staging
    regions: [us-central1]
    promotion: {from: dev, soak: 24h}
  prod:
    gcpProject: acme-demo-prod
    regions: [us-central1, europe-west4]
    promotion: {from: staging, soak: 72h}
models:
  clf:
    framework: sklearn
    versions:
      v1: {artifactUri: gs://demo-models/clf/v1}
      v2: {artifactUri: gs://demo-models/clf/v2}
endpoints:
  score:
    variants:
      main: {model: clf, version: v1}
"""
"""Every environment serves clf v1; ``release_v2`` moves mlops.yaml (so dev) to v2."""
DRIFT_WAIVER = "    - {policy: MLP009, path: endpoints.score, reason: a test endpoint serves no traffic}\n"
WAIVED = (
    CHAIN
    + "policies:\n"
    + "  waivers:\n"
    + "    - {policy: MLP001, path: endpoints.score, reason: a test endpoint serves no traffic}\n"
    + DRIFT_WAIVER
    + "    - {policy: MLP005, path: project, reason: a test project stores nothing}\n"
    + "    - {policy: MLP005, resource: '*/*/gcp:container/cluster:Cluster/*', reason: it holds no Secrets}\n"
)
"""CHAIN with its policy findings (tests/promote/test_gates.py) waived, so that the policy gate of a
promotion passes: promotion order and soak are tested apart from it."""


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


class Releases:
    """The config repository and the deploy repository of one test, and a clock for Git."""

    def __init__(self, folder: pathlib.Path, deploy: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.repo = folder / "src"
        self.repo.mkdir()
        self.config = self.repo / "mlops.yaml"
        self.lock = self.repo / "mlops.lock"
        self.deploy = deploy
        self.monkeypatch = monkeypatch
        git(self.repo, "init", "-q")

    def clock(self, moment: datetime) -> None:
        for name in ("GIT_COMMITTER_DATE", "GIT_AUTHOR_DATE"):
            self.monkeypatch.setenv(name, moment.isoformat())

    def commit(self, moment: datetime, message: str) -> None:
        self.clock(moment)
        git(self.repo, "add", "-A")
        git(self.repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", message)

    def write(self, text: str, moment: datetime) -> None:
        self.config.write_text(text, encoding="utf-8")
        self.commit(moment, "config")

    def apply(self, env: str, moment: datetime) -> None:
        self.clock(moment)
        selection = api.Selection((env,))
        with open_source(self.config) as source:
            validation = api.validate(source, selection)
            assert validation.ok, [d.to_text() for d in validation.diagnostics]
            api.apply_graphs(validation, api.compile_graphs(validation), GitopsTarget(self.deploy), selection)

    def promoter(self, now: datetime) -> Promoter:
        with open_source(self.config) as source:
            validation = api.validate(source)
        assert validation.ok, [d.to_text() for d in validation.diagnostics]
        return commands.promoter(validation, self.deploy, now)


@pytest.fixture
def releases(tmp_path: pathlib.Path, deploy: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Releases:
    """Day 1: the config and a lock pinning staging and prod, applied everywhere; day 2: dev moves to v2."""
    r = Releases(tmp_path, deploy, monkeypatch)
    r.config.write_text(WAIVED, encoding="utf-8")
    for env in ("staging", "prod"):
        proposal = commands.adopt(r.promoter(at(1)), env, ())
        write_atomic(r.lock, dump_lock(proposal.lock))
    r.commit(at(1), "config and lock")
    for env in ("dev", "staging", "prod"):
        r.apply(env, at(1, 1))
    r.write(WAIVED.replace("version: v1", "version: v2"), at(2))
    r.apply("dev", at(2, 1))
    return r
