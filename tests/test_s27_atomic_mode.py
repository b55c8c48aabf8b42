"""write_atomic writes through a temporary file and a rename: the file it leaves keeps the permission
bits of the one it replaced, and a new file gets 0o666 less the umask, as any new file would (not
the 0o600 of a temporary file)."""

from __future__ import annotations

import os
import pathlib
import stat
from collections.abc import Iterator

import pytest
from helpers import run

from mlopsctl.io.fileio import write_atomic


@pytest.fixture
def umask() -> Iterator[None]:
    """Every test sets its own umask; the process's is restored after it."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: pathlib.Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(
    ("mask", "expected"),
    [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664), (0o077, 0o600)],
    ids=oct,
)
def test_a_new_file_gets_what_the_umask_leaves_of_0o666(
    tmp_path: pathlib.Path, umask: None, mask: int, expected: int
) -> None:
    os.umask(mask)
    path = tmp_path / "mlops.lock"
    write_atomic(path, "x\n")
    assert (_mode(path), path.read_text()) == (expected, "x\n")
    assert sorted(os.listdir(tmp_path)) == ["mlops.lock"]


@pytest.mark.parametrize("existing", [0o644, 0o640, 0o664, 0o600, 0o755], ids=oct)
def test_a_replaced_file_keeps_its_permission_bits(
    tmp_path: pathlib.Path, umask: None, existing: int
) -> None:
    os.umask(0o077)  # what the umask would give a new file is not what the old one had
    path = tmp_path / "state.json"
    path.write_text("old\n")
    path.chmod(existing)
    write_atomic(path, "new\n")
    assert (_mode(path), path.read_text()) == (existing, "new\n")


def test_a_file_replaced_through_a_link_keeps_the_bits_of_what_it_named(
    tmp_path: pathlib.Path, umask: None
) -> None:
    target = tmp_path / "real.json"
    target.write_text("old\n")
    target.chmod(0o640)
    link = tmp_path / "state.json"
    link.symlink_to(target)
    write_atomic(link, "new\n")
    assert (_mode(link), link.read_text()) == (0o640, "new\n")


def test_schema_out_keeps_a_readable_file_readable(tmp_path: pathlib.Path, umask: None) -> None:
    out = tmp_path / ".mlopsctl" / "schema.json"
    assert run("schema", "--out", out)[0] == 0
    assert _mode(out) == 0o644
    out.chmod(0o664)
    assert run("schema", "--out", out)[0] == 0
    assert _mode(out) == 0o664
