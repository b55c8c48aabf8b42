"""Special files given as the config are refused before they are opened: a FIFO must not hang."""

from __future__ import annotations

import os
import pathlib
import socket
import threading
from collections.abc import Callable

import pytest
from helpers import MINIMAL, run

from mlopsctl import api
from mlopsctl.config.diagnostics import Diagnostic
from mlopsctl.config.load import Document, load_file
from mlopsctl.config.source import NotRegularFile, read_regular


def _fifo(folder: pathlib.Path) -> pathlib.Path:
    path = folder / "mlops.yaml"
    os.mkfifo(path)
    return path


def _directory(folder: pathlib.Path) -> pathlib.Path:
    path = folder / "mlops.yaml"
    path.mkdir()
    return path


def _socket(folder: pathlib.Path) -> pathlib.Path:
    path = folder / "s.yaml"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
    return path


def _device(folder: pathlib.Path) -> pathlib.Path:
    return pathlib.Path("/dev/zero")


def _link_to_fifo(folder: pathlib.Path) -> pathlib.Path:
    link = folder / "link.yaml"
    link.symlink_to(_fifo(folder))
    return link


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (_fifo, "a FIFO"),
        (_directory, "a directory"),
        (_socket, "a socket"),
        (_device, "a character device"),
        (_link_to_fifo, "a FIFO"),
    ],
)
def test_special_file_is_refused_with_one_located_error(
    tmp_path: pathlib.Path, make: Callable[[pathlib.Path], pathlib.Path], kind: str
) -> None:
    path = make(tmp_path)
    outcome: list[tuple[Document | None, list[Diagnostic]]] = []
    reader = threading.Thread(target=lambda: outcome.append(load_file(path, "mlops.yaml")), daemon=True)
    reader.start()
    reader.join(timeout=5)
    assert outcome, "loading a special file hung"
    doc, found = outcome[0]
    assert doc is None
    assert [d.to_text() for d in found] == [
        f"mlops.yaml:1:1: error E101: cannot read mlops.yaml: it is {kind}, not a regular file\n"
        "  hint: pass the path of your mlops.yaml, or run in its folder"
    ]


def test_read_regular_reads_a_regular_file_up_to_the_limit(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "mlops.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert read_regular(path, 10) == MINIMAL.encode()[:10]
    with pytest.raises(NotRegularFile, match="is a directory, not a regular file"):
        read_regular(tmp_path, 10)
    with pytest.raises(FileNotFoundError):
        read_regular(tmp_path / "absent.yaml", 10)


@pytest.mark.parametrize(
    ("section", "name"),
    [
        (
            "data:\n  datasets:\n    features:\n      tables:\n        events: {schemaFile: events.json}\n",
            "events.json",
        ),
        ("  templates: overrides\n", "overrides/kubernetes/namespace.yaml.j2"),
    ],
)
def test_a_fifo_named_by_the_config_is_refused_without_hanging(
    tmp_path: pathlib.Path, section: str, name: str
) -> None:
    text = (
        MINIMAL + section
        if section.startswith("data")
        else MINIMAL.replace("  name: demo\n", "  name: demo\n" + section)
    )
    (tmp_path / "mlops.yaml").write_text(text)
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(tmp_path / name)
    outcome: list[list[str]] = []

    def validate() -> None:
        with api.open_config(tmp_path / "mlops.yaml") as validation:
            outcome.append([d.to_text() for d in validation.diagnostics if d.is_error])

    worker = threading.Thread(target=validate, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert outcome, "validate hung on a FIFO"
    [error] = outcome[0]
    assert "is a FIFO, not a regular file" in error


@pytest.mark.parametrize("command", ["validate", "plan", "check"])
def test_cli_refuses_a_fifo_and_exits_1(tmp_path: pathlib.Path, command: str) -> None:
    path = _fifo(tmp_path)
    code, out, err = run(command, path)
    assert code == 1
    assert f"{path}:1:1: error E101: cannot read {path}: it is a FIFO, not a regular file" in out + err
    assert "Traceback" not in out + err
