"""Projects with template overrides under ``overrides/kubernetes/``, and what every command must say of an
override that renders something of another shape."""

from __future__ import annotations

import pathlib

from helpers import run, write

COMMANDS = (("check", "mlops.yaml"), ("render", "mlops.yaml", "--out", "out"), ("plan", "mlops.yaml"))


def with_overrides(folder: pathlib.Path, text: str, templates: dict[str, str]) -> pathlib.Path:
    """``text`` as ``folder/mlops.yaml``, with ``templates`` (name -> body) as its overrides."""
    (folder / "overrides" / "kubernetes").mkdir(parents=True)
    for name, body in templates.items():
        write(folder / "overrides" / "kubernetes", body, f"{name}.yaml.j2")
    return write(folder, text)


def assert_located_error(folder: pathlib.Path, error: str) -> None:
    """Each command run in ``folder`` exits 1 with ``error`` (``FILE:LINE:COL: error E314: ...``) of the
    override first, a hint, no traceback, and writes nothing."""
    for command in COMMANDS:
        code, out, err = run(*command)
        assert (code, out) == (1, ""), err
        assert err.startswith(f"overrides/kubernetes/{error}"), err
        assert "hint: " in err
        assert "Traceback" not in err
    assert not (folder / "out").exists()
