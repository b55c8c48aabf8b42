"""``mlopsctl run PIPELINE --local``: the compiled spec run by kfp.local, each step a local process."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from helpers import run
from run_projects import PIPELINES, project


def _run_json(config: pathlib.Path, out: pathlib.Path, *args: str) -> tuple[int, dict[str, Any], str]:
    code, stdout, stderr = run("run", *args, config, "--env", "dev", "--local", "--out", out, "-f", "json")
    return code, json.loads(stdout), stderr


def test_json_result_has_each_step_with_its_outputs(tmp_path: pathlib.Path) -> None:
    config = project(tmp_path)
    code, result, stderr = _run_json(config, tmp_path / "out", "counts")
    assert code == 0, stderr
    assert list(result["steps"]) == ["make", "check", "big", "each"]  # as declared, dependencies first
    rows = result["steps"]["make"]["outputs"].pop("rows")
    assert result == {
        "pipeline": "counts",
        "steps": {
            "make": {"status": "succeeded", "outputs": {"total": 20}},
            "check": {"status": "succeeded", "outputs": {"lines": 2}},
            "each": {"status": "succeeded", "outputs": {"doubled": [2, 4, 6]}},
            "big": {"status": "skipped", "outputs": {}},
        },
    }
    # The artifact is the folder the step wrote, under the run's pipeline root; the next step read it.
    assert pathlib.Path(rows).is_relative_to(tmp_path / "out" / "pipeline-root")
    assert (pathlib.Path(rows) / "rows.txt").read_text() == "row 0\nrow 1\n"


@pytest.mark.parametrize(
    ("params", "total", "big"),
    [
        ((), 20, "skipped"),  # the default count: 2 rows, total 20, not > 25
        (("--param", "count=3"), 30, "succeeded"),
    ],
)
def test_parameters_and_conditions(
    tmp_path: pathlib.Path, params: tuple[str, ...], total: int, big: str
) -> None:
    code, result, stderr = _run_json(project(tmp_path), tmp_path / "out", "counts", *params)
    assert code == 0, stderr
    assert result["steps"]["make"]["outputs"]["total"] == total
    assert result["steps"]["big"]["status"] == big
    assert ("[big] word: big" in stderr) == (big == "succeeded")


@pytest.mark.parametrize(
    ("pipeline", "lines"),
    [
        # With a condition, kfp.local's orchestrator for control flow: it goes on with what does not
        # depend on the failed step.
        (
            "broken",
            [
                "fails       failed: exit code 1: bad input: no rows",
                "downstream  skipped",
                "guarded     skipped",
                "aside       succeeded",
            ],
        ),
        # Without, its plain orchestrator: it stops at the first failure.
        ("chain", ["fails       failed: exit code 1: bad input: no rows", "downstream  skipped"]),
    ],
)
def test_a_failed_step_fails_the_run_and_skips_what_follows(
    tmp_path: pathlib.Path, pipeline: str, lines: list[str]
) -> None:
    config = project(tmp_path)
    code, stdout, stderr = run("run", pipeline, config, "-e", "dev", "--local", "-o", tmp_path / "o")
    assert code == 1
    assert stdout.splitlines() == lines
    assert "[fails] reading the input\n" in stderr


def test_a_step_without_code_cannot_run_locally(tmp_path: pathlib.Path) -> None:
    code, result, _ = _run_json(project(tmp_path), tmp_path / "out", "nocode")
    assert code == 1
    assert result == {"pipeline": "nocode", "steps": {"remote": {"status": "failed", "outputs": {}}}}
    _, stdout, _ = run("run", "nocode", tmp_path / "mlops.yaml", "-e", "dev", "--local", "-o", tmp_path / "o")
    assert stdout.startswith("remote  failed: cannot start: image reg/elsewhere:1 cannot run locally")
    assert "needs `code: FOLDER`" in stdout


def test_logs_go_to_stderr_and_the_settings_to_each_process(tmp_path: pathlib.Path) -> None:
    code_folder = {
        "make.py": """\
            import json, os, sys
            settings = json.load(open(os.environ["MLOPSCTL_STAGE_LOCAL"]))
            print(json.dumps({"cwd": os.getcwd(), "python": sys.executable, "settings": settings}))
        """
    }
    config = project(tmp_path, PIPELINES.split("      check:")[0], code_folder)
    out = tmp_path / "out"
    code, stdout, stderr = run("run", "counts", config, "-e", "dev", "-r", "us-east1", "--local", "-o", out)
    assert code == 1  # the script writes no outputs: kfp cannot read `total`
    assert "[make] " in stderr and "[make] " not in stdout
    seen = json.loads(next(line for line in stderr.splitlines() if line.startswith("[make] {"))[7:])
    assert seen["cwd"] == str(tmp_path / "code")
    assert pathlib.Path(seen["python"]).parent == pathlib.Path(__import__("sys").executable).parent
    assert seen["settings"] == {
        "root": str(out / "data"),
        "code": {"reg/demo:1": str(tmp_path / "code")},
        "trials": 2,
        "endpoints": {},
        "now": None,
    }


def test_local_trials_reach_the_settings(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "out"
    code, _, stderr = _run_json(project(tmp_path), out, "broken", "--local-trials", "5")
    assert code == 1, stderr
    assert json.loads((out / "local.json").read_text())["trials"] == 5


def test_a_declared_output_that_was_not_written_fails_the_step(tmp_path: pathlib.Path) -> None:
    code_folder = {"make.py": "print('wrote nothing')\n"}
    config = project(tmp_path, PIPELINES.split("      check:")[0], code_folder)
    code, stdout, _ = run("run", "counts", config, "-e", "dev", "--local", "-o", tmp_path / "out")
    assert code == 1
    assert stdout.startswith("make  failed: output total was not written (expected at ")


def test_kfp_local_is_left_as_it_was(tmp_path: pathlib.Path) -> None:
    import builtins

    from kfp.local import config, executor_output_utils, subprocess_task_handler
    from kfp.local.orchestrator import enhanced_dag_orchestrator, task_executor

    def seams() -> list[object]:
        return [
            subprocess_task_handler.SubprocessTaskHandler,
            task_executor.execute_single_task,
            executor_output_utils.get_outputs_for_task,
            enhanced_dag_orchestrator.ConditionEvaluator,
            config.LocalExecutionConfig.instance,
            builtins.print,
        ]

    before = seams()
    code, _, stderr = _run_json(project(tmp_path), tmp_path / "out", "counts")
    assert code == 0, stderr
    assert seams() == before
