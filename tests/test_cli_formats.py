"""Argument handling common to the commands: -f json everywhere, schema --out, colour and progress."""

from __future__ import annotations

import io
import json
import pathlib
import re
from typing import Any

import pytest
import typer
from helpers import WITH_DATA, run, write

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
    code, out, _ = run("schema", "--out", ".mlopsctl/mlops.schema.json", "-f", "text")
    assert code == 0
    schema = json.loads((tmp_path / ".mlopsctl" / "mlops.schema.json").read_text())
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert out.endswith("# yaml-language-server: $schema=.mlopsctl/mlops.schema.json\n")


def test_force_unlock_and_apply_report_user_errors_without_traceback(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, WITH_DATA)
    for args in (("force-unlock", "abc", config, "-f", "json"), ("apply", config, "--context", "x")):
        code, out, err = run(*args)
        assert code == 1 and err.startswith("error: ") and "Traceback" not in out + err, args


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
