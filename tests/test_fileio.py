from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from mlopsctl.io.fileio import write_atomic, write_tree


def test_write_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    write_atomic(path, "one")
    write_atomic(path, "two")
    assert path.read_text() == "two"
    assert os.listdir(tmp_path) == ["plan.json"]


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "plan.json"
    write_atomic(path, "old")

    def fail(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, "new")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["plan.json"]  # no temporary file left behind


@pytest.mark.skipif(os.name != "posix", reason="folders are synced on POSIX only")
def test_the_file_then_the_rename_is_synced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(f"fsync {'folder' if stat.S_ISDIR(os.fstat(fd).st_mode) else 'file'}")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        events.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_atomic(tmp_path / "state.json", "{}")
    assert events == ["fsync file", "rename", "fsync folder"]


def test_write_tree_writes_every_file_under_its_folders(tmp_path: Path) -> None:
    files = {"graph.json": "{}\n", "manifests/a.yaml": "a: 1\n", "pipelines/deep/b.yaml": "naïve\n"}
    write_tree(tmp_path / "out", files)
    written = {p.relative_to(tmp_path / "out").as_posix(): p for p in (tmp_path / "out").rglob("*")}
    assert sorted(written) == [
        "graph.json",
        "manifests",
        "manifests/a.yaml",
        "pipelines",
        "pipelines/deep",
        "pipelines/deep/b.yaml",
    ]
    assert {k: written[k].read_text(encoding="utf-8") for k in files} == files


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="syncfs is Linux's")
def test_write_tree_syncs_the_file_system_once_on_linux(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", synced.append)
    write_tree(tmp_path, {f"manifests/{i}.yaml": f"{i}\n" for i in range(50)})
    assert synced == []  # no fsync per file or folder: one syncfs of the file system
    assert len(list((tmp_path / "manifests").iterdir())) == 50
