"""Options that write a file or a folder refuse, before any work is done or printed, a path they could
not write: a file's folder missing (plan --out; schema --out creates it), a folder or a file in the way."""

from __future__ import annotations

import json
import pathlib

import pytest
from helpers import WITH_DATA, run, write

FIX = "create it or choose another path"


def _tree(folder: pathlib.Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_plan_out_in_a_missing_folder_is_refused_before_planning(tmp_path: pathlib.Path, fmt: str) -> None:
    config = write(tmp_path, WITH_DATA)
    out = tmp_path / "plans" / "dev.json"
    code, stdout, stderr = run("plan", config, "--env", "dev", "-f", fmt, "--out", out)
    message = f"--out {out}: folder {out.parent} does not exist; {FIX}"
    if fmt == "json":  # a usage error under -f json: one JSON document of diagnostics
        [diagnostic] = json.loads(stdout)["diagnostics"]
        assert (code, stderr, diagnostic["code"], diagnostic["message"]) == (1, "", "usage", message)
    else:
        assert (code, stdout, stderr) == (1, "", f"error: {message}\n")
    assert _tree(tmp_path) == ["mlops.yaml"]


@pytest.mark.parametrize(
    ("args", "out", "message"),
    [
        (("plan", "CONFIG"), "DIR", "{out}: that is a folder; give the path of a file to write"),
        (("plan", "CONFIG"), "FILE/plan.json", "{out}: {file} is a file, not a folder; choose another path"),
        (("schema",), "DIR", "{out}: that is a folder; give the path of a file to write"),
        (("schema",), "FILE/x/s.json", "{out}: {file} is a file, not a folder; choose another path"),
        (("render", "CONFIG"), "FILE", "{out}: {file} is a file, not a folder; choose another path"),
        (("render", "CONFIG"), "FILE/r", "{out}: {file} is a file, not a folder; choose another path"),
        (
            ("run", "train", "CONFIG", "--env", "dev", "--local"),
            "FILE/run",
            "{out}: {file} is a file, not a folder; choose another path",
        ),
    ],
)
def test_a_path_that_cannot_be_written_is_refused_up_front(
    tmp_path: pathlib.Path, args: tuple[str, ...], out: str, message: str
) -> None:
    config = write(tmp_path, WITH_DATA)
    folder, file = tmp_path / "dir", tmp_path / "file"
    folder.mkdir()
    file.write_text("keep\n")
    before = _tree(tmp_path)
    target = tmp_path / out.replace("DIR", "dir").replace("FILE", "file")
    given = [config if a == "CONFIG" else a for a in args]
    code, stdout, stderr = run(*given, "--out", target)
    assert (code, stdout) == (1, "")
    assert stderr == f"error: --out {message.format(out=target, file=file)}\n"
    assert _tree(tmp_path) == before and file.read_text() == "keep\n"


def test_schema_out_creates_its_folder(tmp_path: pathlib.Path) -> None:
    out = tmp_path / ".mlopsctl" / "deeper" / "mlops.schema.json"
    code, _, stderr = run("schema", "--out", out)
    assert (code, stderr) == (0, "") and out.read_text().startswith("{")
