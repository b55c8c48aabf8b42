"""Argument handling and exit codes of the commands: -f json everywhere, schema --out, colour, progress,
--detailed-exitcode, saved plans, interrupts and refusals (their behaviour is tested through the API)."""

from __future__ import annotations

import io
import json
import pathlib
import re
from typing import Any

import pytest
import typer
from fake_git import FakeGit
from gitops_cases import _interrupt
from gitrepos import git, git_init_and_commit
from helpers import WITH_DATA, run, write
from releases import WAIVED

from mlopsctl.cli import app
from mlopsctl.cli.common import progress


def _commands() -> dict[str, Any]:
    return dict(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_command_offers_json_output(name: str) -> None:
    code, out, _ = run(name, "--help")
    assert code == 0 and re.search(r"-f, --format <[a-z|]*\bjson\b[a-z|]*>", out), name


def test_codes_as_json() -> None:
    code, out, _ = run("codes", "-f", "json")
    assert code == 0 and json.loads(out)["E203"]["title"]


def test_schema_out_writes_the_schema_and_names_the_modeline(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("schema", "--out", ".mlopsctl/mlops.schema.json")  # text, as the README has it
    assert code == 0
    schema = json.loads((tmp_path / ".mlopsctl" / "mlops.schema.json").read_text())
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert out.endswith("# yaml-language-server: $schema=.mlopsctl/mlops.schema.json\n")
    code, out, _ = run("schema", "--out", ".mlopsctl/mlops.schema.json", "-f", "json")
    assert code == 0 and json.loads(out) == {
        "schema": ".mlopsctl/mlops.schema.json",
        "modeline": "# yaml-language-server: $schema=.mlopsctl/mlops.schema.json",
    }


def test_schema_out_that_cannot_be_written_is_one_line(tmp_path: pathlib.Path) -> None:
    """A folder that cannot hold files (here /proc's, which refuses new entries even to root)."""
    code, out, err = run("schema", "--out", "/proc/mlopsctl-test/mlops.schema.json")
    assert (code, out) == (1, "")
    assert err.startswith("error: --out /proc/mlopsctl-test/mlops.schema.json: ") and err.count("\n") == 1


def test_user_errors_are_one_line_or_under_json_one_document(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, WITH_DATA)
    code, out, err = run("apply", config, "--context", "x")
    assert code == 1 and err.startswith("error: ") and not out and "Traceback" not in err
    code, out, err = run("force-unlock", "abc", config, "-f", "json")
    (refused,) = json.loads(out)["diagnostics"]
    assert code == 1 and not err and refused["code"] == "refused" and "Traceback" not in refused["message"]


def test_plan_compact_prints_a_line_per_resource(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, WITH_DATA)
    code, out, _ = run("plan", config, "--env", "dev", "--compact", "--no-color")
    lines = out.splitlines()
    assert code == 0 and "\x1b[" not in out
    assert lines[-1].startswith("Plan: ") and all(" resource " not in line for line in lines)
    assert any(line.strip().startswith("+ dev/us-central1/gcp:storage/bucket:Bucket/") for line in lines)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stream", "always", "shown"),
    [(_Terminal(), True, True), (_Terminal(), False, False), (io.StringIO(), True, False)],
)
def test_progress_goes_to_a_terminal_only(stream: io.StringIO, always: bool, shown: bool) -> None:
    progress(always=always, stream=stream)("Applying to the gitops target")
    assert stream.getvalue() == ("Applying to the gitops target...\n" if shown else "")


def test_plan_detailed_exitcode_is_2_with_changes_and_0_without(source: pathlib.Path) -> None:
    assert run("plan", source, "--base", "HEAD", "--detailed-exitcode")[0] == 0
    source.write_text(WITH_DATA.replace("raw: {}", "raw: {versioning: false}"))
    code, out, _ = run("plan", source, "--base", "HEAD", "--detailed-exitcode")
    assert code == 2 and "Plan: 0 to add, 3 to change, 0 to destroy." in out


def test_plan_out_then_apply_plan(source: pathlib.Path, deploy: pathlib.Path) -> None:
    saved = source.parent / "plan.json"
    code, _, err = run("plan", source, "--repo", deploy, "--env", "dev", "--out", saved)
    assert (
        code == 0
        and f"Saved the plan to {saved}; apply exactly it with 'mlopsctl apply --plan {saved}'" in err
    )
    code, out, _ = run("apply", "--plan", saved)
    assert code == 0 and "Committed" in out
    code, out, err = run("apply", "--plan", saved)
    assert (code, out) == (1, "") and err.startswith("error: Saved plan is stale: ")


def test_an_interrupted_apply_exits_130(
    source: pathlib.Path, deploy: pathlib.Path, fake_git: FakeGit
) -> None:
    """Ctrl-C (SIGINT) arrives as the apply's ``git update-ref`` returns."""
    _interrupt(fake_git)
    assert run("apply", source, "--repo", deploy, "--env", "dev")[0] == 130


@pytest.mark.parametrize("command", ["render", "validate", "apply"])
def test_a_scoped_command_refuses_a_file_with_another_environment_invalid(
    tmp_path: pathlib.Path, deploy: pathlib.Path, command: str
) -> None:
    invalid = (
        "    regions: [us-central1, europe-west4]\n"
        "    overrides: {data: {buckets: {raw: {versioning: maybe}}}}\n"
    )
    config = write(tmp_path, WITH_DATA.replace("    regions: [us-central1, europe-west4]\n", invalid))
    out = tmp_path / "out"
    extra = {"render": ("--out", out), "validate": (), "apply": ("--repo", deploy)}[command]
    code, _, err = run(command, config, "--env", "dev", *extra)
    assert code == 1 and "Traceback" not in err
    assert (
        "mlops.yaml:12:52: error E202: data.buckets.raw.versioning must be true or false, not 'maybe' "
        "(in prod/us-central1, prod/europe-west4)"
    ) in err
    assert ("nothing was written" in err) is (command != "validate")
    assert not out.exists() and [p.name for p in deploy.iterdir()] == [".git"]


def test_a_located_error_is_printed_as_a_diagnostic(tmp_path: pathlib.Path) -> None:
    template = tmp_path / "overrides" / "kubernetes" / "namespace.yaml.j2"
    write(template.parent, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ name }}\n", template.name)
    config = write(tmp_path, WITH_DATA.replace("  name: demo\n", "  name: demo\n  templates: overrides\n"))
    code, _, err = run("plan", config)
    assert code == 1 and err.startswith(f"{template}:4:9: error E314: ") and "Traceback" not in err


def test_promote_and_status_flags(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, WAIVED)
    git_init_and_commit(tmp_path, "config")
    code, _, err = run("promote", "--to", "prod", "--rollback", "--adopt", config)
    assert (code, err) == (1, "error: give --rollback or --adopt, not both\n")
    code, out, _ = run("promote", "--to", "prod", "--adopt", "--dry-run", config)
    assert code == 0 and out.endswith("nothing was written.\n") and not (tmp_path / "mlops.lock").exists()
    code, out, _ = run("promote", "--to", "prod", "--adopt", "-f", "json", config)
    assert code == 0 and json.loads(out)["lock"] == {"file": str(tmp_path / "mlops.lock"), "written": True}
    code, out, _ = run("status", "-f", "json", config)
    assert code == 0 and [t["stand"] for t in json.loads(out)["targets"]][:1] == ["config"]
    assert git(tmp_path, "status", "--porcelain") == "?? mlops.lock\n"


@pytest.mark.parametrize(
    "command",
    [
        ("plan",),
        ("platform",),
        ("status",),
        ("promote", "--to", "prod", "--dry-run"),
        ("run", "train", "--env", "dev"),
        ("run", "train", "--env", "dev", "--local", "--out", "OUT"),
        ("render", "--out", "OUT"),
    ],
)
def test_with_json_an_invalid_config_is_one_json_document_of_diagnostics(
    tmp_path: pathlib.Path, command: tuple[str, ...]
) -> None:
    config = write(tmp_path, WITH_DATA + "    events: {descripton: x}\n")
    args = [str(tmp_path / "out") if a == "OUT" else a for a in command]
    code, out, err = run(*args, "-f", "json", config)
    found = {(d["code"], d["line"], d["column"]) for d in json.loads(out)["diagnostics"]}
    assert (code, err, found) == (1, "", {("E203", 17, 14)})
    assert not (tmp_path / "out").exists()


def test_with_json_a_valid_configs_warnings_go_to_stderr(tmp_path: pathlib.Path) -> None:
    config = write(
        tmp_path, WITH_DATA + "models:\n  m: {framework: sklearn, versions: {a: {artifactUri: gs://bkt/m}}}\n"
    )
    code, out, err = run("plan", "-f", "json", config)
    assert code == 0 and json.loads(out)["summary"] and " warning W301: " in err
