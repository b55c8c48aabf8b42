"""``mlopsctl-stage push`` end to end through the CLI: local mode on real files, and a fake GCS."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fake_gcs_api
import pytest

from mlopsctl_stage import storage
from mlopsctl_stage.cli import main

REGISTRY = "gs://models/registry/fraud/"
CONFIG = {"model": "fraud", "framework": "onnx", "registry": REGISTRY}


DEFAULT_FILES = {"fraud/1/model.onnx": b"\x08\x07onnx", "fraud/config.pbtxt": b"name: 'fraud'"}


def _model(folder: Path, files: dict[str, bytes] = DEFAULT_FILES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def _push(model: Path, out: Path | None = None, config: dict[str, Any] = CONFIG) -> str | None:
    args = ["push", "--config", json.dumps(config), "--model", str(model)]
    main(args + (["--pushed-uri", str(out)] if out else []))
    return out.read_text() if out else None


def _version(uri: str) -> str:
    match = re.fullmatch(re.escape(REGISTRY) + r"([0-9a-f]{12})/", uri)
    assert match, uri
    return match[1]


def test_a_model_is_pushed_under_its_content_version(
    local_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = _push(_model(tmp_path / "model"), tmp_path / "uri")
    assert uri is not None
    version = _version(uri)
    folder = local_root / "gcs" / "models" / "registry" / "fraud" / version
    assert (folder / "fraud" / "1" / "model.onnx").read_bytes() == b"\x08\x07onnx"
    manifest = json.loads((folder / "_PUSHED").read_text())
    assert manifest["version"] == version
    assert (manifest["model"], manifest["framework"]) == ("fraud", "onnx")
    assert manifest["files"]["fraud/1/model.onnx"]["size"] == 6
    assert capsys.readouterr().out == f"pushed fraud {version} to {uri}\n"


def test_the_version_is_the_content(local_root: Path, tmp_path: Path) -> None:
    first = _push(_model(tmp_path / "a"), tmp_path / "1")
    same_elsewhere = _push(_model(tmp_path / "b" / "other-name"), tmp_path / "2")
    changed = _push(
        _model(tmp_path / "c", {"fraud/1/model.onnx": b"\x08\x07onnx", "fraud/config.pbtxt": b"v2"})
    )
    renamed = _push(
        _model(tmp_path / "d", {"fraud/2/model.onnx": b"\x08\x07onnx", "fraud/config.pbtxt": b"v2"})
    )
    assert first == same_elsewhere
    versions = {p.name for p in (local_root / "gcs" / "models" / "registry" / "fraud").iterdir()}
    assert len(versions) == 3 and changed is None and renamed is None


def test_pushing_again_changes_nothing(
    local_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _model(tmp_path / "model")
    uri = _push(model, tmp_path / "uri")
    assert uri is not None
    pushed = local_root / "gcs" / "models" / "registry" / "fraud" / _version(uri)
    stamps = {p: p.stat().st_mtime_ns for p in pushed.rglob("*")}
    capsys.readouterr()
    assert _push(model, tmp_path / "again") == uri
    assert {p: p.stat().st_mtime_ns for p in pushed.rglob("*")} == stamps
    assert capsys.readouterr().out == f"fraud {_version(uri)} is already at {uri}\n"


def test_an_incomplete_version_is_pushed_again(local_root: Path, tmp_path: Path) -> None:
    model = _model(tmp_path / "model")
    uri = _push(model, tmp_path / "uri")
    assert uri is not None
    pushed = local_root / "gcs" / "models" / "registry" / "fraud" / _version(uri)
    (pushed / "_PUSHED").unlink()
    (pushed / "fraud" / "config.pbtxt").unlink()
    assert _push(model, tmp_path / "again") == uri
    assert (pushed / "fraud" / "config.pbtxt").read_bytes() == b"name: 'fraud'"
    assert (pushed / "_PUSHED").exists()


@pytest.mark.parametrize("manifest", ['{"files": {"other": {"size": 1, "sha256": "00"}}}', "not json", "[]"])
def test_a_complete_version_is_never_overwritten(
    local_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], manifest: str
) -> None:
    model = _model(tmp_path / "model")
    uri = _push(model, tmp_path / "uri")
    assert uri is not None
    pushed = local_root / "gcs" / "models" / "registry" / "fraud" / _version(uri)
    (pushed / "_PUSHED").write_text(manifest)
    (pushed / "fraud" / "config.pbtxt").write_bytes(b"tampered")
    with pytest.raises(SystemExit):
        _push(model, tmp_path / "again")
    assert capsys.readouterr().err == (
        f"mlopsctl-stage push: registry ({uri}): version {_version(uri)} holds other files; "
        "it is never overwritten\n"
    )
    assert (pushed / "fraud" / "config.pbtxt").read_bytes() == b"tampered"
    assert not (tmp_path / "again").exists()


@pytest.mark.parametrize(
    ("files", "config", "message"),
    [
        ({}, CONFIG, "model (MODEL): the folder is empty"),
        ({"_PUSHED": b"{}"}, CONFIG, "model (MODEL): holds a file named _PUSHED, which push writes itself"),
        (None, CONFIG, "model (MODEL): not a folder"),
        ({"m.onnx": b"x"}, {**CONFIG, "registry": ""}, "--config registry: must be a non-empty string"),
        ({"m.onnx": b"x"}, {"registry": REGISTRY}, "--config model: must be a non-empty string"),
    ],
)
def test_bad_inputs_fail_with_one_line(
    local_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    files: dict[str, bytes] | None,
    config: dict[str, Any],
    message: str,
) -> None:
    model = tmp_path / "model"
    if files is None:
        model.write_bytes(b"a file, not a folder")
    else:
        (model / "empty-folder").mkdir(parents=True)  # folders alone do not make a model
        _model(model, files)
    with pytest.raises(SystemExit) as exited:
        _push(model, tmp_path / "uri", config)
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(f"mlopsctl-stage push: {message.replace('MODEL', str(model))}")
    assert err.count("\n") == 1
    assert not (local_root / "gcs").exists()


@pytest.fixture
def gcs(monkeypatch: pytest.MonkeyPatch) -> Iterator[fake_gcs_api.FakeGcs]:
    monkeypatch.delenv(storage.LOCAL_ENV, raising=False)
    with fake_gcs_api.serve() as fake:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake.url)
        yield fake


def test_push_to_cloud_storage_writes_the_manifest_last(gcs: fake_gcs_api.FakeGcs, tmp_path: Path) -> None:
    model = _model(tmp_path / "model")
    uri = _push(model, tmp_path / "uri")
    assert uri is not None
    prefix = f"registry/fraud/{_version(uri)}/"
    assert sorted(gcs.objects) == [
        ("models", prefix + "_PUSHED"),
        ("models", prefix + "fraud/1/model.onnx"),
        ("models", prefix + "fraud/config.pbtxt"),
    ]
    assert len(gcs.uploads) == 3 and gcs.uploads[-1] == prefix + "_PUSHED"
    gcs.requests.clear()
    assert _push(model, tmp_path / "again") == uri
    assert not [r for r in gcs.requests if r.startswith("POST")]
