"""What a local run refuses before running anything (``api.run_local``): one message, nothing written;
and how ``mlopsctl run --local`` reports a refusal and an invalid config."""

from __future__ import annotations

import pathlib

import pytest
from api_helpers import LocalOptions, refusal, run_locally
from helpers import run
from run_projects import PIPELINES, project

from mlopsctl import api
from mlopsctl.run.compiled import parameter_arguments
from mlopsctl.run.errors import RunError


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        (
            "counts",
            {"params": {"cuont": "3"}},
            "--param cuont: pipeline counts has no such parameter (did you mean 'count'?)",
        ),
        ("counts", {"params": {"count": "three"}}, "--param count=three: must be an integer"),
        ("cuonts", {}, "cuonts: no pipeline, batch job or monitor of that name (did you mean 'counts'?)"),
        ("counts", {"act": True}, "--act is for monitors"),
        ("counts", {"trials": 0}, "--local-trials 0: must be at least 1"),
    ],
)
def test_refused_before_anything_runs(
    tmp_path: pathlib.Path, name: str, options: LocalOptions, message: str
) -> None:
    config = project(tmp_path)
    out = tmp_path / "out"
    found = refusal(lambda: run_locally(config, name, out, **options))
    assert found.startswith(message), found
    assert not out.exists()


def test_an_invalid_config_is_reported_with_positions(tmp_path: pathlib.Path) -> None:
    config = project(tmp_path, PIPELINES.replace("        command: [python, fail.py]\n", "", 1))
    with api.open_config(config) as validation:
        [error] = [d for d in validation.diagnostics if d.is_error]
    assert error.to_text().startswith(f"{config}:58:9: error E201: container step 'fails' ")


def test_an_unknown_environment_is_a_config_error(tmp_path: pathlib.Path) -> None:
    with api.open_config(project(tmp_path), selection=api.Selection(("prod",))) as validation:
        assert not validation.ok
    assert "--env prod: no such environment in the config" in [d.message for d in validation.diagnostics]


def test_missing_sample_data(tmp_path: pathlib.Path) -> None:
    config = project(tmp_path)
    (tmp_path / "sample-data").rmdir()
    out = tmp_path / "out"
    found = refusal(lambda: run_locally(config, "counts", out))
    assert found.startswith(f"{tmp_path / 'sample-data'}: no such folder"), found
    found = refusal(lambda: run_locally(config, "counts", out, data=tmp_path / "x"))
    assert found.startswith(f"{tmp_path / 'x'}: no such folder (--data {tmp_path / 'x'}: "), found


SPEC = {
    "pipelineInfo": {"name": "p"},
    "root": {
        "inputDefinitions": {
            "parameters": {
                name: {"parameterType": kind}
                for name, kind in {
                    "s": "STRING",
                    "i": "NUMBER_INTEGER",
                    "f": "NUMBER_DOUBLE",
                    "b": "BOOLEAN",
                    "l": "LIST",
                    "d": "STRUCT",
                }.items()
            }
        }
    },
}


@pytest.mark.parametrize(
    ("given", "value"),
    [
        (("s", "3"), "3"),
        (("s", "true"), "true"),
        (("i", "3"), 3),
        (("f", "3"), 3.0),
        (("f", "0.25"), 0.25),
        (("b", "true"), True),
        (("b", "false"), False),
        (("l", '["a", 1]'), ["a", 1]),
        (("d", '{"k": 1}'), {"k": 1}),
    ],
)
def test_parameters_are_typed_as_declared(given: tuple[str, str], value: object) -> None:
    found = parameter_arguments(SPEC, dict([given]))
    assert found == {given[0]: value}
    assert type(found[given[0]]) is type(value)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (("i", "3.5"), "--param i=3.5: must be an integer"),
        (("i", "true"), "--param i=true: must be an integer"),
        (("f", "x"), "--param f=x: must be a number"),
        (("b", "1"), "--param b=1: must be true or false"),
        (("l", "a,b"), "--param l=a,b: must be a JSON list"),
        (("d", "[]"), "--param d=[]: must be a JSON object"),
    ],
)
def test_parameters_of_the_wrong_type(given: tuple[str, str], message: str) -> None:
    with pytest.raises(RunError) as caught:
        parameter_arguments(SPEC, dict([given]))
    assert str(caught.value) == message


# The CLI: flags it refuses itself, and one line (or the config's diagnostics), exit 1, nothing on stdout.


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("counts", "--local", "--no-out"), "error: --out DIR is required"),
        (("counts", "--local", "--param", "count"), "error: --param count: expected K=V"),
        (("cuonts", "--local"), "error: cuonts: no pipeline, batch job or monitor of that name"),
    ],
)
def test_cli_refusals_are_one_line(tmp_path: pathlib.Path, args: tuple[str, ...], message: str) -> None:
    config = project(tmp_path)
    out = tmp_path / "out"
    given = [a for a in args if a != "--no-out"]
    where: list[str | pathlib.Path] = [] if "--no-out" in args else ["--out", out]
    code, stdout, stderr = run("run", *given, config, "--env", "dev", *where)
    assert (code, stdout) == (1, "")
    assert stderr.startswith(message), stderr
    assert stderr.count("\n") == 1
    assert not out.exists()


def test_cli_an_invalid_config_writes_nothing(tmp_path: pathlib.Path) -> None:
    config = project(tmp_path, PIPELINES.replace("        command: [python, fail.py]\n", "", 1))
    out = tmp_path / "out"
    code, stdout, stderr = run("run", "counts", config, "--env", "dev", "--local", "--out", out)
    assert (code, stdout) == (1, "")
    assert stderr.startswith(f"{config}:58:9: error E201: ")
    assert stderr.endswith(f"{config}: 1 error; nothing was written\n")
    assert not out.exists()
