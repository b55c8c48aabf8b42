"""Every refusal of ``mlopsctl run -f json`` is one JSON document of diagnostics on stdout, exit 1, as an
invalid config's; without ``-f json`` the same refusal is one ``error:`` line on stderr."""

from __future__ import annotations

import json
import pathlib

import pytest
from helpers import run
from run_projects import HEAD, LOGGED_SCORER, project

CONFIG = (
    HEAD
    + LOGGED_SCORER
    + """\
pipelines:
  p:
    steps:
      say:
        image: reg/demo:1
        code: code
        command: [python, echo.py]
monitors:
  drift:
    type: drift
    endpoint: scorer
    baseline: {dataset: serving, table: baseline}
    features:
      amount: {kind: numeric, threshold: 0.1}
    schedule: {cron: "0 * * * *"}
  slow: {type: latency, endpoint: scorer, objective: 300}
"""
)
VERTEX_MONITORS = "placement: {endpoints: vertex, monitors: vertex}\n"
LOCAL = ("--env", "dev", "--local", "--out", "OUT")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("nosuch", *LOCAL), "refused", "nosuch: no pipeline, batch job or monitor of that name"),
        (
            ("slow", *LOCAL),
            "refused",
            "monitor slow is an SLO monitor: a Cloud Monitoring alert policy on its",
        ),
        (("p", *LOCAL, "--param", "x"), "refused", "--param x: expected K=V"),
        (("p", *LOCAL, "--param", "x=1"), "refused", "--param x: pipeline p has no such parameter"),
        (("drift", "--env", "dev"), "refused", "monitor drift: mlopsctl run submits pipelines only"),
        (("p", "--env", "dev"), "refused", "a run on Kubeflow Pipelines needs its API"),
        (("p", "--env", "dev", "--local"), "usage", "--out DIR is required"),
        (("p", "--env", "dev", "--out", "OUT"), "usage", "--out is for --local runs"),
        (("p", "--env", "dev", "--local", "--out", "CONFIG/x"), "usage", "--out CONFIG/x: CONFIG is a file"),
        (("p", "--env", "nope", "--local", "--out", "OUT"), "E307", "--env nope: no such environment"),
    ],
)
def test_a_refused_run_is_one_json_document(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], code: str, message: str
) -> None:
    monkeypatch.delenv("MLOPSCTL_KFP_HOST", raising=False)
    config = project(tmp_path, CONFIG + VERTEX_MONITORS)
    argv = [a.replace("CONFIG", str(config)).replace("OUT", str(tmp_path / "out")) for a in args]
    message = message.replace("CONFIG", str(config))

    exit_code, stdout, _ = run("run", argv[0], config, *argv[1:], "-f", "json")
    [diagnostic] = json.loads(stdout)["diagnostics"]
    assert (exit_code, diagnostic["code"], diagnostic["severity"]) == (1, code, "error")
    assert diagnostic["message"].startswith(message), diagnostic

    exit_code, stdout, stderr = run("run", argv[0], config, *argv[1:])
    assert (exit_code, stdout) == (1, "")
    assert message in stderr
    assert not (tmp_path / "out").exists()


def test_a_failed_run_is_its_result_as_one_json_document(tmp_path: pathlib.Path) -> None:
    config = project(tmp_path, CONFIG, {"echo.py": "raise SystemExit('no rows today')\n"})
    exit_code, stdout, _ = run("run", "p", config, *LOCAL[:-1], tmp_path / "out", "-f", "json")
    assert exit_code == 1
    assert json.loads(stdout)["steps"]["say"]["message"] == "exit code 1: no rows today"


def test_other_commands_refuse_their_command_line_in_json_too(tmp_path: pathlib.Path) -> None:
    config = project(tmp_path, CONFIG)
    exit_code, stdout, _ = run("plan", config, "--base", "HEAD", "--out", tmp_path / "p.json", "-f", "json")
    [diagnostic] = json.loads(stdout)["diagnostics"]
    assert (exit_code, diagnostic["code"]) == (1, "usage")
    assert diagnostic["message"].startswith("--base compares two commits of the config: it takes no --out")
