"""``--param K=V`` values a number parameter refuses: NaN, infinities and numbers past a double's range
are refused with what is accepted instead (a submitted run's body is JSON, which has none of them)."""

from __future__ import annotations

import pathlib

import pytest
from helpers import run
from run_projects import PIPELINES, project

from mlopsctl.run.compiled import parameter_arguments
from mlopsctl.run.errors import RunError

SPEC = {
    "pipelineInfo": {"name": "p"},
    "root": {
        "inputDefinitions": {
            "parameters": {"f": {"parameterType": "NUMBER_DOUBLE"}, "i": {"parameterType": "NUMBER_INTEGER"}}
        }
    },
}
NOT_A_NUMBER = "a pipeline parameter cannot be NaN or infinite (give a value such as 0.5)"
HUGE = "1" + "0" * 400


@pytest.mark.parametrize(
    ("given", "message"),
    [
        *(
            (("f", text), f"--param f={text}: must be a number, and finite: {NOT_A_NUMBER}")
            for text in (".nan", "NaN", "nan", "Infinity", "-Infinity", "inf", "-.inf", "+.Inf")
        ),
        (
            ("f", "1e400"),
            "--param f=1e400: must be a number, and finite: 1e400 is past a double's range of ±1.8e308 "
            "(give a value such as 0.5)",
        ),
        (  # an integer literal past a double's range (was an OverflowError traceback)
            ("f", HUGE),
            f"--param f={HUGE}: must be a number, and finite: {HUGE} is past a double's range of "
            "±1.8e308 (give a value such as 0.5)",
        ),
        (("f", "fast"), "--param f=fast: must be a number"),
        (("i", "NaN"), "--param i=NaN: must be an integer"),
        (("i", "1e400"), "--param i=1e400: must be an integer"),
    ],
)
def test_a_number_parameter_says_what_it_accepts(given: tuple[str, str], message: str) -> None:
    with pytest.raises(RunError) as caught:
        parameter_arguments(SPEC, dict([given]))
    assert str(caught.value) == message


@pytest.mark.parametrize(("text", "value"), [("1e308", 1e308), ("-0.5", -0.5), ("7", 7.0)])
def test_finite_numbers_are_accepted(text: str, value: float) -> None:
    assert parameter_arguments(SPEC, {"f": text}) == {"f": value}


def test_the_cli_refuses_a_nan_parameter_in_one_line(tmp_path: pathlib.Path) -> None:
    config = project(tmp_path, PIPELINES.replace("      count: 2\n", "      count: 2\n      rate: 0.5\n", 1))
    out = tmp_path / "out"
    code, stdout, stderr = run(
        "run", "counts", config, "--env", "dev", "--local", "--out", out, "-p", "rate=.nan"
    )
    assert (code, stdout) == (1, "")
    assert stderr == f"error: --param rate=.nan: must be a number, and finite: {NOT_A_NUMBER}\n"
    assert not out.exists()
