"""``mlopsctl-stage``: every stage has its subcommand and help; failures are one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mlopsctl_stage.cli import STAGES, main


def test_the_top_level_help_lists_every_stage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert all(f"    {stage}" in out for stage in STAGES)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_each_stage_has_help(stage: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([stage, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: mlopsctl-stage {stage}") and "--config" in out


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("{", "mlopsctl-stage schema: --config: not valid JSON (Expecting property name"),
        ("[1]", "mlopsctl-stage schema: --config: must be a JSON object, not list"),
    ],
)
def test_a_bad_config_is_one_line(config: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["schema", "--config", config, "--statistics", "in", "--schema", "out"])
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_the_console_script_runs_without_a_traceback() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlopsctl_stage",
            "statistics",
            "--examples",
            "/nonexistent",
            "--statistics",
            "x",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("mlopsctl-stage statistics: ") and done.stderr.count("\n") == 1
