"""plan --out and schema --out replace only what they wrote: the user's mlops.yaml, another file,
a link or a FIFO at that path is refused before any work, and left as it was."""

from __future__ import annotations

import os
import pathlib

import pytest
from helpers import MINIMAL, run, write


@pytest.mark.parametrize("command", [("plan", "CONFIG"), ("schema",)], ids=["plan", "schema"])
@pytest.mark.parametrize("kind", ["the config", "a text file", "a link", "a fifo"])
def test_out_refuses_to_replace_a_file_it_did_not_write(
    tmp_path: pathlib.Path, command: tuple[str, ...], kind: str
) -> None:
    config = write(tmp_path, MINIMAL)
    out = {"the config": config}.get(kind, tmp_path / "out.json")
    if kind == "a text file":
        out.write_text("my notes\n")
    elif kind == "a link":
        (tmp_path / "notes.json").write_text('{"mine": true}\n')
        out.symlink_to(tmp_path / "notes.json")
    elif kind == "a fifo":
        os.mkfifo(out)
    before = {p.name: (p.is_symlink(), p.read_bytes() if p.is_file() else None) for p in tmp_path.iterdir()}
    args = [config if a == "CONFIG" else a for a in command]
    code, stdout, err = run(*args, "--out", out)
    assert (code, stdout) == (1, "")
    assert err.startswith(f"error: --out {out}: that file exists and is not ")
    assert "choose another path, or move the file first" in err
    after = {p.name: (p.is_symlink(), p.read_bytes() if p.is_file() else None) for p in tmp_path.iterdir()}
    assert after == before


@pytest.mark.parametrize("command", [("plan", "CONFIG"), ("schema",)], ids=["plan", "schema"])
def test_out_replaces_what_it_wrote_before(tmp_path: pathlib.Path, command: tuple[str, ...]) -> None:
    config = write(tmp_path, MINIMAL)
    args = [config if a == "CONFIG" else a for a in command]
    out = tmp_path / "out.json"
    assert run(*args, "--out", out)[0] == 0
    assert run(*args, "--out", out)[0] == 0


@pytest.mark.parametrize("command", [("plan", "CONFIG"), ("schema",)], ids=["plan", "schema"])
def test_out_writes_into_an_empty_file(tmp_path: pathlib.Path, command: tuple[str, ...]) -> None:
    """``--out "$(mktemp)"``, as CI scripts do: an empty file holds nothing to lose."""
    config = write(tmp_path, MINIMAL)
    out = tmp_path / "tmp.Xy12"
    out.touch()
    args = [config if a == "CONFIG" else a for a in command]
    assert run(*args, "--out", out)[0] == 0
    assert out.stat().st_size > 0
