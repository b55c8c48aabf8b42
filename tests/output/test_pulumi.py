"""The pulumi apply target: what must be there before Pulumi runs, and the pure parts of applying."""

from __future__ import annotations

import pathlib
import tempfile
from importlib.metadata import version
from typing import Any

import pytest
from fake_pulumi import FakePulumi, FakeStack, install
from helpers import WITH_DATA, applied, planned, run, validated, write

from mlopsctl import api
from mlopsctl.config.target import Target
from mlopsctl.output import ApplyError
from mlopsctl.output import pulumi as target
from mlopsctl.output.pulumi import stack_name
from mlopsctl.pulumi.program import STATE_OUTPUT
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


def _protected(project: str, where: Target, *names: str) -> State:
    resources = {
        f"{where}/{BUCKET}/{n}": AppliedResource(f"{where}/{BUCKET}/{n}", BUCKET, n, {"name": n}, (), True)
        for n in names
    }
    return State(project, where, "acme", None, "sha256:0", resources)


OLD = "urn:pulumi:{}::demo::gcp:storage/bucket:Bucket::old"


@pytest.fixture
def fake_pulumi(bare: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> FakePulumi:
    """A ``pulumi`` CLI on PATH whose backend holds two stacks that the first apply left: dev and
    staging (which the config no longer has), each with a protected bucket 'old'."""
    stacks = {
        stack_name(where): FakeStack(
            outputs={STATE_OUTPUT: dump_state(_protected("demo", where, "old"))},
            resources=[{"urn": OLD.format(stack_name(where)), "type": BUCKET, "protect": True}],
        )
        for where in (DEV, Target("staging", "us-central1"))
    }
    fake = install(bare / "pulumi", f"v{version('pulumi')}", stacks, {"create": 1, "same": 2})
    monkeypatch.setenv("PATH", str(fake.folder))
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "secret")
    monkeypatch.setenv("GOOGLE_CREDENTIALS", "{}")
    monkeypatch.setattr(tempfile, "tempdir", str(bare))  # where each workspace makes its folder
    return fake


DEV = Target("dev", "us-central1")
BUCKET = "gcp:storage/bucket:Bucket"


def test_protected_destroys_need_allow_destroy(bare: pathlib.Path, fake_pulumi: FakePulumi) -> None:
    with pytest.raises(api.ProtectedResourceError) as caught:
        applied(write(bare, WITH_DATA), PULUMI, selection=api.Selection(("dev",)))
    assert str(caught.value).startswith("the plan destroys or replaces protected resources:")
    assert fake_pulumi.log() == []


def test_allow_destroy_unprotects_what_the_plan_destroys_then_updates_and_destroys_stacks(
    bare: pathlib.Path, fake_pulumi: FakePulumi
) -> None:
    """Each stack the config has runs its program inline; a stack it dropped is destroyed and removed."""
    outcome = applied(write(bare, WITH_DATA), PULUMI, allow_destroy=True).outcome
    inline = "auto.inline"
    assert fake_pulumi.log() == [
        ("import", "dev-us-central1", OLD.format("dev-us-central1")),
        ("up", "dev-us-central1", inline),
        ("init", "prod-us-central1"),
        ("up", "prod-us-central1", inline),
        ("init", "prod-europe-west4"),
        ("up", "prod-europe-west4", inline),
        ("import", "staging-us-central1", OLD.format("staging-us-central1")),
        ("destroy", "staging-us-central1"),
        ("rm", "staging-us-central1"),
    ]
    assert outcome.detail == (
        "Applied with Pulumi:\n"
        "dev/us-central1: 1 to create, 2 unchanged\n"
        "prod/us-central1: 1 to create, 2 unchanged\n"
        "prod/europe-west4: 1 to create, 2 unchanged\n"
        "staging/us-central1: destroyed"
    )
    assert not [p.name for p in bare.iterdir() if p.name.startswith(("mlopsctl-pulumi-", "automation-"))]
