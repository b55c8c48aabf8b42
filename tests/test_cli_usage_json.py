"""Usage errors (unknown option, missing argument, bad choice) under ``-f json``: one JSON document of
diagnostics on stdout, as an invalid config prints, exit 1; without json, click's usage text on stderr."""

from __future__ import annotations

import json

import pytest
from helpers import run

from mlopsctl.cli.common import asks_for_json


@pytest.mark.parametrize(
    ("args", "message", "command"),
    [
        (
            ("plan", "-f", "json", "--bogus"),
            "No such option: --bogus (Possible options: --base, --out)",
            "mlopsctl plan",
        ),
        (("plan", "--format=json", "--bogus"), "No such option: --bogus", "mlopsctl plan"),
        (("render", "--format", "json"), "Missing option '--out' / '-o'.", "mlopsctl render"),
        (("run", "-fjson"), "Missing argument 'NAME'.", "mlopsctl run"),
        (
            ("validate", "-f", "json", "--format", "yaml"),
            "Invalid value for '--format' / '-f': 'yaml' is not one of 'text', 'json', 'sarif', 'github'.",
            "mlopsctl validate",
        ),
        (("validate", "-f", "json", "--env"), "Option '--env' requires an argument.", "mlopsctl validate"),
        (("plann", "-f", "json"), "No such command 'plann'. Did you mean 'plan'?", "mlopsctl"),
        (("-f", "json"), "No such option: -f", "mlopsctl"),
    ],
)
def test_a_usage_error_under_json_is_a_json_document(
    args: tuple[str, ...], message: str, command: str
) -> None:
    code, out, err = run(*args)
    [diagnostic] = json.loads(out)["diagnostics"]
    assert (code, err) == (1, "")
    assert diagnostic["message"].startswith(message), diagnostic
    assert diagnostic | {"message": ""} == {
        "code": "usage",
        "severity": "error",
        "message": "",
        "hint": f"see '{command} --help'",
        "path": "(document)",
        "file": None,
        "line": None,
        "column": None,
    }


@pytest.mark.parametrize(
    "args", [("plan", "--bogus"), ("plan", "-f", "yaml"), ("render",), ("plan", "--", "-f", "json", "x")]
)
def test_without_json_a_usage_error_is_usage_text(args: tuple[str, ...]) -> None:
    code, out, err = run(*args)
    assert (code, out) == (1, "")
    assert "Usage: mlopsctl " in err and "Error: " in err and "Value error" not in err


@pytest.mark.parametrize(
    ("argv", "asks"),
    [
        (["plan", "-f", "json"], True),
        (["plan", "--format", "json", "x.yaml"], True),
        (["plan", "--format=json"], True),
        (["plan", "-fjson"], True),
        (["plan", "-f", "text"], False),
        (["plan", "-f"], False),
        (["plan", "json"], False),
        (["plan", "--", "-f", "json"], False),  # after "--": arguments, not options
        ([], False),
    ],
)
def test_asks_for_json(argv: list[str], asks: bool) -> None:
    assert asks_for_json(argv) is asks
