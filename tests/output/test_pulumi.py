"""The pulumi apply target: what must be there before Pulumi runs, and the pure parts of applying."""

from __future__ import annotations

import pathlib
from types import SimpleNamespace
from typing import Any

import pytest
from helpers import WITH_DATA, applied, planned, run, validated, write

from mlopsctl import api
from mlopsctl.config.target import Target
from mlopsctl.output import ApplyError
from mlopsctl.output import pulumi as target
from mlopsctl.state import AppliedResource, State, dump_state

VARIABLES = (
    "PULUMI_CONFIG_PASSPHRASE",
    "PULUMI_CONFIG_PASSPHRASE_FILE",
    "PULUMI_BACKEND_URL",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CREDENTIALS",
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    "CLOUDSDK_AUTH_ACCESS_TOKEN",
    "CLOUDSDK_CONFIG",
)


@pytest.fixture
def bare(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """A machine with nothing for Pulumi: no CLI on PATH, no passphrase, no credentials."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(target, "GCE_PRODUCT", tmp_path / "no-such-file")
    return tmp_path


def _install_pulumi(folder: pathlib.Path) -> None:
    cli = folder / "bin" / "pulumi"
    cli.write_text("#!/bin/sh\nexit 3\n", encoding="utf-8")
    cli.chmod(0o755)


PULUMI = api.TargetSpec(api.TargetKind.pulumi)


def _fails_with(command: str, config: pathlib.Path, expected: str, spec: api.TargetSpec = PULUMI) -> None:
    with pytest.raises(api.UserError) as caught:
        planned(config, spec) if command == "plan" else applied(config, spec)
    assert str(caught.value) == expected


NO_CLI = (
    "the Pulumi CLI is not installed: install it (https://www.pulumi.com/docs/install/) "
    "and put 'pulumi' on PATH"
)
NO_CREDENTIALS = (
    "no Google Cloud credentials: run 'gcloud auth application-default login' "
    "or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file"
)


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_without_the_pulumi_cli_the_error_says_what_to_install(bare: pathlib.Path, command: str) -> None:
    _fails_with(command, write(bare, WITH_DATA), NO_CLI)


def test_without_a_passphrase_the_error_says_what_to_set(bare: pathlib.Path) -> None:
    _install_pulumi(bare)
    config = write(bare, WITH_DATA)
    backend = (bare / ".mlopsctl" / "pulumi").as_uri()
    _fails_with(
        "apply",
        config,
        "set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE): the passphrase that encrypts "
        f"the secrets of the stacks in {backend}",
    )


@pytest.mark.parametrize("passphrase", ["PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"])
def test_without_google_credentials_the_error_says_how_to_get_them(
    bare: pathlib.Path, monkeypatch: pytest.MonkeyPatch, passphrase: str
) -> None:
    _install_pulumi(bare)
    monkeypatch.setenv(passphrase, "secret")
    _fails_with("plan", write(bare, WITH_DATA), NO_CREDENTIALS)


def test_a_missing_key_file_is_named(bare: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install_pulumi(bare)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "secret")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(bare / "key.json"))
    expected = f"GOOGLE_APPLICATION_CREDENTIALS names {bare / 'key.json'}, which is not a file"
    _fails_with("apply", write(bare, WITH_DATA), expected)


DEPLOY = pathlib.Path("deploy")


@pytest.mark.parametrize(
    ("command", "spec", "expected"),
    [
        ("plan", api.TargetSpec(api.TargetKind.pulumi, DEPLOY), "--repo is for the gitops target; "),
        ("plan", api.TargetSpec(backend="file:///tmp/x"), "--backend is for --target pulumi"),
        ("apply", api.TargetSpec(repo=DEPLOY, backend="file:///tmp/x"), "--backend is for --target pulumi"),
    ],
)
def test_options_of_the_other_target_are_refused(
    bare: pathlib.Path, command: str, spec: api.TargetSpec, expected: str
) -> None:
    with pytest.raises(api.UserError) as caught:
        planned(write(bare, WITH_DATA), spec) if command == "plan" else applied(write(bare, WITH_DATA), spec)
    assert str(caught.value).startswith(expected)


def test_everything_else_works_without_pulumi(bare: pathlib.Path) -> None:
    config = write(bare, WITH_DATA)
    assert planned(config).plan.has_changes
    with validated(config) as validation:
        assert api.render(validation, bare / "out").folders


def test_cli_reports_config_errors_before_pulumi_is_needed(bare: pathlib.Path) -> None:
    code, _, err = run("plan", "--target", "pulumi", write(bare, WITH_DATA + "unknown: 1\n"))
    assert code == 1
    assert "error: the Pulumi CLI" not in err
    assert "mlops.yaml: 1 error" in err


def test_the_backend_is_the_flag_then_the_environment_then_a_folder_beside_the_config() -> None:
    folder = pathlib.Path("/srv/ml")
    local = "file:///srv/ml/.mlopsctl/pulumi"
    assert target.backend_url(folder, None, {}) == local
    assert target.backend_url(folder, None, {"PULUMI_BACKEND_URL": "gs://state"}) == "gs://state"
    assert target.backend_url(folder, "s3://other", {"PULUMI_BACKEND_URL": "gs://state"}) == "s3://other"


def test_pulumi_cloud_needs_no_passphrase(bare: pathlib.Path) -> None:
    _install_pulumi(bare)
    env = {"PATH": str(bare / "bin"), "GOOGLE_CREDENTIALS": "{}"}
    assert target.readiness_problem("https://api.pulumi.com", env) is None
    assert "PULUMI_CONFIG_PASSPHRASE" in str(target.readiness_problem("gs://state", env))


@pytest.mark.parametrize(
    ("counts", "expected", "changed"),
    [
        ({"create": 3, "same": 0}, "3 to create, 0 unchanged", True),
        (
            {"update": 1, "replace": 2, "delete": 1, "same": 7},
            "1 to update, 2 to replace, 1 to delete, 7 unchanged",
            True,
        ),
        ({"same": 4}, "4 unchanged", False),
        ({}, "0 unchanged", False),
    ],
)
def test_change_summary(counts: dict[str, int], expected: str, changed: bool) -> None:
    assert target.change_summary(counts) == expected
    assert target.has_changes(counts) is changed


def test_unprotect_clears_only_the_allowed_resources() -> None:
    bucket = "urn:pulumi:prod-us-central1::digits::gcp:storage/bucket:Bucket::models"
    dataset = "urn:pulumi:prod-us-central1::digits::gcp:bigquery/dataset:Dataset::models"
    deployment: dict[str, Any] = {
        "manifest": {},
        "resources": [
            {"urn": bucket, "type": "gcp:storage/bucket:Bucket", "protect": True},
            {"urn": dataset, "type": "gcp:bigquery/dataset:Dataset", "protect": True},
        ],
    }
    result = target.unprotect(deployment, {("gcp:storage/bucket:Bucket", "models")})
    assert [r["protect"] for r in result["resources"]] == [False, True]
    assert result["manifest"] == {}
    assert deployment["resources"][0]["protect"] is True


PROD = Target("prod", "us-central1")


def _exported(project: str, where: Target) -> str:
    return dump_state(State(project, where, "acme", None, "sha256:0", {}))


def test_the_exported_state_must_be_the_stacks_own() -> None:
    assert target._state(_exported("digits", PROD), "prod-us-central1", "digits").target == PROD
    with pytest.raises(ApplyError, match="stack prod-us-central1 holds the state of fraud prod/us-central1"):
        target._state(_exported("fraud", PROD), "prod-us-central1", "digits")
    with pytest.raises(ApplyError, match="cannot be read"):
        target._state("{", "prod-us-central1", "digits")


class _FakeStack:
    def __init__(self, name: str, log: list[tuple[str, ...]], deployment: dict[str, Any]) -> None:
        self.name, self.log, self.deployment = name, log, deployment

    def export_stack(self) -> Any:
        from pulumi import automation as auto

        return auto.Deployment(version=3, deployment=self.deployment)

    def import_stack(self, state: Any) -> None:
        unprotected = [r["urn"] for r in state.deployment["resources"] if not r["protect"]]
        self.log.append(("import", self.name, *unprotected))

    def up(self, on_output: Any) -> Any:
        self.log.append(("up", self.name))
        return SimpleNamespace(summary=SimpleNamespace(resource_changes={"create": 1, "same": 2}))

    def destroy(self, on_output: Any) -> None:
        self.log.append(("destroy", self.name))


def _protected(project: str, where: Target, *names: str) -> State:
    resources = {
        f"{where}/{BUCKET}/{n}": AppliedResource(f"{where}/{BUCKET}/{n}", BUCKET, n, {"name": n}, (), True)
        for n in names
    }
    return State(project, where, "acme", None, "sha256:0", resources)


@pytest.fixture
def fake_pulumi(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """Stacks that log what is done to them; the first apply found a protected bucket in two stacks."""
    from pulumi import automation as auto

    log: list[tuple[str, ...]] = []
    urn = "urn:pulumi:{}::demo::gcp:storage/bucket:Bucket::old"
    workspace = SimpleNamespace(program=None, remove_stack=lambda name: log.append(("remove", name)))

    def select(name: str, ws: Any) -> _FakeStack:
        assert ws is workspace
        log.append(("program", name, "set" if callable(ws.program) else "none"))
        ws.program = None
        resources = [{"urn": urn.format(name), "type": BUCKET, "protect": True}]
        return _FakeStack(name, log, {"resources": resources})

    applied = {
        DEV: _protected("demo", DEV, "old"),
        Target("staging", "us-central1"): _protected("demo", Target("staging", "us-central1"), "old"),
    }
    monkeypatch.setattr(target.PulumiTarget, "_check", lambda self: None)
    monkeypatch.setattr(target.PulumiTarget, "_workspace", lambda self, project: workspace)
    monkeypatch.setattr(target.PulumiTarget, "applied", lambda self, project: applied)
    monkeypatch.setattr(auto.Stack, "create_or_select", select)
    return log


DEV = Target("dev", "us-central1")
BUCKET = "gcp:storage/bucket:Bucket"


def test_protected_destroys_need_allow_destroy(tmp_path: pathlib.Path, fake_pulumi: list[Any]) -> None:
    with pytest.raises(api.ProtectedResourceError) as caught:
        applied(write(tmp_path, WITH_DATA), PULUMI, selection=api.Selection(("dev",)))
    assert str(caught.value).startswith("the plan destroys or replaces protected resources:")
    assert fake_pulumi == []


def test_allow_destroy_unprotects_what_the_plan_destroys_then_updates_and_destroys_stacks(
    tmp_path: pathlib.Path, fake_pulumi: list[Any]
) -> None:
    config = write(tmp_path, WITH_DATA)
    outcome = applied(config, PULUMI, allow_destroy=True).outcome
    old = "urn:pulumi:{}::demo::gcp:storage/bucket:Bucket::old"
    assert fake_pulumi == [
        ("program", "dev-us-central1", "set"),
        ("import", "dev-us-central1", old.format("dev-us-central1")),
        ("up", "dev-us-central1"),
        ("program", "prod-us-central1", "set"),
        ("up", "prod-us-central1"),
        ("program", "prod-europe-west4", "set"),
        ("up", "prod-europe-west4"),
        ("program", "staging-us-central1", "none"),
        ("import", "staging-us-central1", old.format("staging-us-central1")),
        ("destroy", "staging-us-central1"),
        ("remove", "staging-us-central1"),
    ]
    assert outcome.detail == (
        "Applied with Pulumi:\n"
        "dev/us-central1: 1 to create, 2 unchanged\n"
        "prod/us-central1: 1 to create, 2 unchanged\n"
        "prod/europe-west4: 1 to create, 2 unchanged\n"
        "staging/us-central1: destroyed"
    )
