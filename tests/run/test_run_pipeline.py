"""Local runs of a pipeline (``api.run_local``): the compiled spec run by kfp.local, each step a local
process; and what ``mlopsctl run PIPELINE --local`` prints and exits with."""

from __future__ import annotations

import json
import pathlib
import sys

import pytest
from api_helpers import pipeline_run, statuses
from helpers import run
from run_projects import PIPELINES, project


def test_each_step_has_its_status_and_outputs(tmp_path: pathlib.Path) -> None:
    result = pipeline_run(project(tmp_path), "counts", tmp_path / "out")
    assert result.ok and result.pipeline == "counts"
    assert list(result.steps) == ["make", "check", "big", "each"]  # as declared, dependencies first
    outputs = {name: step.outputs for name, step in result.steps.items()}
    rows = outputs["make"].pop("rows")
    assert statuses(result) == {
        "make": "succeeded",
        "check": "succeeded",
        "big": "skipped",
        "each": "succeeded",
    }
    assert outputs == {
        "make": {"total": 20},
        "check": {"lines": 2},
        "big": {},
        "each": {"doubled": [2, 4, 6]},
    }
    # The artifact is the folder the step wrote, under the run's pipeline root; the next step read it.
    assert isinstance(rows, str)
    assert pathlib.Path(rows).is_relative_to(tmp_path / "out" / "pipeline-root")
    assert (pathlib.Path(rows) / "rows.txt").read_text() == "row 0\nrow 1\n"


@pytest.mark.parametrize(
    ("params", "total", "big"),
    [
        ({}, 20, "skipped"),  # the default count: 2 rows, total 20, not > 25
        ({"count": "3"}, 30, "succeeded"),
    ],
)
def test_parameters_and_conditions(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], params: dict[str, str], total: int, big: str
) -> None:
    result = pipeline_run(project(tmp_path), "counts", tmp_path / "out", params=params)
    assert result.ok
    assert result.steps["make"].outputs["total"] == total
    assert result.steps["big"].status == big
    assert ("[big] word: big" in capsys.readouterr().err) == (big == "succeeded")


FAILED = ("failed", "exit code 1: bad input: no rows")


@pytest.mark.parametrize(
    ("pipeline", "steps"),
    [
        # As Argo in the cluster, with or without conditions: what does not depend on the failed step
        # still runs (test_sweep22_local_runs.py has a DAG without conditions).
        (
            "broken",
            {
                "fails": FAILED,
                "downstream": ("skipped", None),
                "guarded": ("skipped", None),
                "aside": ("succeeded", None),
            },
        ),
        ("chain", {"fails": FAILED, "downstream": ("skipped", None)}),
    ],
)
def test_a_failed_step_fails_the_run_and_skips_what_follows(
    tmp_path: pathlib.Path,
    capsys: pytest.CaptureFixture[str],
    pipeline: str,
    steps: dict[str, tuple[str, str | None]],
) -> None:
    result = pipeline_run(project(tmp_path), pipeline, tmp_path / "o")
    assert not result.ok
    assert {name: (step.status, step.message) for name, step in result.steps.items()} == steps
    assert "[fails] reading the input\n" in capsys.readouterr().err


def test_a_step_without_code_cannot_run_locally(tmp_path: pathlib.Path) -> None:
    result = pipeline_run(project(tmp_path), "nocode", tmp_path / "out")
    assert not result.ok
    [(name, step)] = result.steps.items()
    assert (name, step.status, step.outputs) == ("remote", "failed", {})
    assert step.message is not None
    assert step.message.startswith("cannot start: image reg/elsewhere:1 cannot run locally")
    assert "needs `code: FOLDER`" in step.message


def test_logs_go_to_stderr_and_the_settings_to_each_process(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code_folder = {
        "make.py": """\
            import json, os, sys
            settings = json.load(open(os.environ["MLOPSCTL_STAGE_LOCAL"]))
            print(json.dumps({"cwd": os.getcwd(), "python": sys.executable, "settings": settings}))
        """
    }
    config = project(tmp_path, PIPELINES.split("      check:")[0], code_folder)
    out = tmp_path / "out"
    result = pipeline_run(config, "counts", out, region="us-east1")
    assert not result.ok  # the script writes no outputs: kfp cannot read `total`
    stdout, stderr = capsys.readouterr()
    assert "[make] " in stderr and "[make] " not in stdout
    seen = json.loads(next(line for line in stderr.splitlines() if line.startswith("[make] {"))[7:])
    assert seen["cwd"] == str(tmp_path / "code")
    assert pathlib.Path(seen["python"]).parent == pathlib.Path(sys.executable).parent
    assert seen["settings"] == {
        "root": str(out / "data"),
        "code": {"reg/demo:1": str(tmp_path / "code")},
        "trials": 2,
        "endpoints": {},
        "now": None,
    }


def test_local_trials_reach_the_settings(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "out"
    assert not pipeline_run(project(tmp_path), "broken", out, trials=5).ok
    assert json.loads((out / "local.json").read_text())["trials"] == 5


def test_a_declared_output_that_was_not_written_fails_the_step(tmp_path: pathlib.Path) -> None:
    code_folder = {"make.py": "print('wrote nothing')\n"}
    config = project(tmp_path, PIPELINES.split("      check:")[0], code_folder)
    [make] = pipeline_run(config, "counts", tmp_path / "out").steps.values()
    assert make.status == "failed" and make.message is not None
    assert make.message.startswith("output total was not written (expected at ")


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
    assert pipeline_run(project(tmp_path), "counts", tmp_path / "out").ok
    assert seams() == before


# The CLI: the result as text or JSON on stdout, exit 1 when a step failed.


def test_cli_text_is_one_line_per_step_and_a_failure_exits_1(tmp_path: pathlib.Path) -> None:
    code, stdout, stderr = run(
        "run", "chain", project(tmp_path), "-e", "dev", "--local", "-o", tmp_path / "o"
    )
    assert code == 1
    assert stdout.splitlines() == [
        "fails       failed: exit code 1: bad input: no rows",
        "downstream  skipped",
    ]
    assert "[fails] reading the input\n" in stderr


def test_cli_json_is_the_result_as_one_document(tmp_path: pathlib.Path) -> None:
    config = project(tmp_path)
    code, stdout, stderr = run(
        "run", "nocode", config, "--env", "dev", "--local", "--out", tmp_path / "out", "-f", "json"
    )
    assert code == 1, stderr
    document = json.loads(stdout)
    assert document["steps"]["remote"].pop("message").startswith("cannot start: image reg/elsewhere:1 ")
    assert document == {
        "pipeline": "nocode",
        "steps": {"remote": {"status": "failed", "outputs": {}}},
    }
