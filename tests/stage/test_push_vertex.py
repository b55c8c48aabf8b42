"""``push`` with a ``vertex`` block registers the pushed folder in Vertex AI Model Registry: the real
google-cloud-aiplatform REST client against a fake Vertex AI API, the folder pushed to a fake Cloud
Storage (or, in a local run, to the local backend and not registered)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fake_gcs_api
import pytest
import vertex_stage_fake
from fake_gcs_api import FakeGcs
from vertex_stage_fake import Call, Failure, FakeVertex

from mlopsctl_stage import storage
from mlopsctl_stage.cli import main

PARENT = "projects/proj/locations/europe-west4"
MODEL = f"{PARENT}/models/demo-fraud"
REGISTRY = "gs://models/registry/fraud/"
IMAGE = "europe-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-6:latest"
LABELS = {"managed-by": "mlopsctl", "mlops-model": "fraud", "mlops-pipeline": "train"}
VERTEX = {
    "project": "proj",
    "location": "europe-west4",
    "modelId": "demo-fraud",
    "displayName": "fraud",
    "container": {"imageUri": IMAGE, "ports": [8080]},
    "labels": LABELS,
}
CONFIG = {"model": "fraud", "framework": "sklearn", "registry": REGISTRY, "vertex": VERTEX}
FILES = {"model.joblib": b"\x80\x04fitted", "meta.json": b"{}"}


def _model(folder: Path, files: dict[str, bytes] = FILES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def _push(model: Path, out: Path, config: dict[str, Any] = CONFIG) -> str:
    main(["push", "--config", json.dumps(config), "--model", str(model), "--pushed-uri", str(out)])
    return out.read_text()


def _content_version(uri: str) -> str:
    match = re.fullmatch(re.escape(REGISTRY) + r"([0-9a-f]{12})/", uri)
    assert match, uri
    return match[1]


def _expected_upload(uri: str) -> dict[str, Any]:
    """The Model of an upload of ``uri``: no aliases (the rollout gives them)."""
    version = _content_version(uri)
    return {
        "displayName": "fraud",
        "versionDescription": f"Content version {version}, pushed to {uri} by mlopsctl.",
        "labels": {**LABELS, "mlops-content-version": version},
        "artifactUri": uri,
        "containerSpec": {"imageUri": IMAGE, "ports": [{"containerPort": 8080}]},
    }


@pytest.fixture
def vertex(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeVertex]:
    for fake in vertex_stage_fake.serve():
        monkeypatch.setenv("MLOPSCTL_VERTEX_ENDPOINT", fake.url)
        yield fake


@pytest.fixture
def gcs(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGcs]:
    monkeypatch.delenv(storage.LOCAL_ENV, raising=False)
    with fake_gcs_api.serve() as fake:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake.url)
        yield fake


def test_the_first_push_creates_the_model_with_the_folder_as_its_version(
    vertex: FakeVertex, gcs: FakeGcs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = _push(_model(tmp_path / "model"), tmp_path / "uri")
    [upload] = vertex.uploads()
    assert upload.path == f"/v1/{PARENT}/models:upload"
    assert upload.body == {"modelId": "demo-fraud", "model": _expected_upload(uri)}
    assert [v["artifactUri"] for v in vertex.models[MODEL]] == [uri]
    assert ("models", f"registry/fraud/{_content_version(uri)}/_PUSHED") in gcs.objects
    out = capsys.readouterr().out.splitlines()
    assert out[1:] == [
        f"registered {uri} as version 1 of {MODEL}",
        "Console: https://console.cloud.google.com/vertex-ai/models/locations/europe-west4/models/demo-fraud"
        "/versions/1/properties?project=proj",
    ]


def test_a_push_to_an_existing_model_is_its_next_version(
    vertex: FakeVertex, gcs: FakeGcs, tmp_path: Path
) -> None:
    vertex.add_model_version(MODEL, "gs://models/registry/fraud/000000000000/")
    uri = _push(_model(tmp_path / "model"), tmp_path / "uri")
    [upload] = vertex.uploads()
    assert upload.body == {"parentModel": MODEL, "model": _expected_upload(uri)}
    assert [v["versionId"] for v in vertex.models[MODEL]] == ["1", "2"]


@pytest.mark.parametrize("registered_as", ["{uri}", "{uri_without_slash}"])
def test_a_folder_already_registered_is_not_registered_again(
    vertex: FakeVertex,
    gcs: FakeGcs,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    registered_as: str,
) -> None:
    model = _model(tmp_path / "model")
    uri = _push(model, tmp_path / "first")
    vertex.models[MODEL][0]["artifactUri"] = registered_as.format(uri=uri, uri_without_slash=uri.rstrip("/"))
    vertex.add_model_version(MODEL, "gs://models/registry/fraud/000000000000/")
    capsys.readouterr()
    assert _push(model, tmp_path / "again") == uri
    assert len(vertex.uploads()) == 1
    assert capsys.readouterr().out.splitlines()[1] == f"{uri} is already version 1 of {MODEL}"


def test_a_model_created_meanwhile_gets_the_folder_as_a_version(
    vertex: FakeVertex, gcs: FakeGcs, tmp_path: Path
) -> None:
    def another_push(call: Call) -> None:
        if call.path.endswith("models:upload") and "modelId" in call.body:
            vertex.add_model_version(MODEL, "gs://models/registry/fraud/000000000000/")

    vertex.before = another_push
    uri = _push(_model(tmp_path / "model"), tmp_path / "uri")
    first, second = vertex.uploads()
    assert "modelId" in first.body and "parentModel" not in first.body
    assert second.body == {"parentModel": MODEL, "model": _expected_upload(uri)}
    assert [v["artifactUri"] for v in vertex.models[MODEL]][1:] == [uri]


@pytest.mark.parametrize(
    ("failure", "message"),
    [
        (
            Failure(403, "Permission 'aiplatform.models.upload' denied", "models:upload"),
            (
                "upload of {uri} to {model}: Vertex AI API: 403 ",
                "Permission 'aiplatform.models.upload' denied",
            ),
        ),
        (
            Failure(403, "Permission 'aiplatform.models.list' denied", "listVersions"),
            ("versions of {model}: Vertex AI API: 403 ", "Permission 'aiplatform.models.list' denied"),
        ),
    ],
)
def test_a_refused_registration_fails_the_step_after_the_copy(
    vertex: FakeVertex,
    gcs: FakeGcs,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    failure: Failure,
    message: tuple[str, str],
) -> None:
    vertex.failures.append(failure)
    with pytest.raises(SystemExit) as exited:
        _push(_model(tmp_path / "model"), tmp_path / "uri")
    assert exited.value.code == 1
    [(_, manifest)] = [o for o in gcs.objects if o[1].endswith("/_PUSHED")]
    uri = f"gs://models/{manifest.removesuffix('_PUSHED')}"
    err = capsys.readouterr().err
    assert err.startswith(f"mlopsctl-stage push: {message[0].format(uri=uri, model=MODEL)}")
    assert err.endswith(f"{message[1]}\n") and err.count("\n") == 1
    assert not (tmp_path / "uri").exists()
    assert _push(_model(tmp_path / "model"), tmp_path / "uri") == uri  # a retry registers it
    assert [v["artifactUri"] for v in vertex.models[MODEL]] == [uri]


def test_without_a_vertex_block_nothing_is_registered(
    vertex: FakeVertex, gcs: FakeGcs, tmp_path: Path
) -> None:
    config = {k: v for k, v in CONFIG.items() if k != "vertex"}
    _push(_model(tmp_path / "model"), tmp_path / "uri", config)
    assert vertex.calls == []


def test_a_local_run_registers_nothing(
    vertex: FakeVertex, local_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = _push(_model(tmp_path / "model"), tmp_path / "uri")
    assert (local_root / "gcs" / "models" / "registry" / "fraud" / _content_version(uri) / "_PUSHED").exists()
    assert vertex.calls == []
    assert (
        capsys.readouterr().err
        == f"mlopsctl-stage push: note: a local run registers nothing in Vertex AI Model Registry ({MODEL})\n"
    )


@pytest.mark.parametrize(
    ("vertex_block", "message"),
    [
        ("no", "--config vertex: must be an object"),
        ({**VERTEX, "modelId": ""}, "--config vertex: missing modelId"),
        (
            {k: v for k, v in VERTEX.items() if k != "container"},
            "--config vertex.container: must be an object",
        ),
        ({**VERTEX, "container": {"imageUri": IMAGE, "ports": ["80"]}}, "--config vertex.container.ports"),
        ({**VERTEX, "labels": {"a": 1}}, "--config vertex.labels: must be an object of strings"),
        ({**VERTEX, "kmsKeyName": "data"}, "--config vertex.kmsKeyName: must be a key's resource name"),
    ],
)
def test_a_bad_vertex_block_fails_before_anything_is_copied(
    vertex: FakeVertex,
    local_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    vertex_block: Any,
    message: str,
) -> None:
    with pytest.raises(SystemExit):
        _push(_model(tmp_path / "model"), tmp_path / "uri", {**CONFIG, "vertex": vertex_block})
    assert capsys.readouterr().err.startswith(f"mlopsctl-stage push: {message}")
    assert not (local_root / "gcs").exists() and vertex.calls == []


def test_a_customer_managed_key_encrypts_each_registered_version(
    vertex: FakeVertex, gcs: FakeGcs, tmp_path: Path
) -> None:
    key = "projects/proj/locations/europe-west4/keyRings/demo-prod/cryptoKeys/data"
    uri = _push(
        _model(tmp_path / "model"), tmp_path / "uri", {**CONFIG, "vertex": {**VERTEX, "kmsKeyName": key}}
    )
    [upload] = vertex.uploads()
    assert upload.body["model"] == {**_expected_upload(uri), "encryptionSpec": {"kmsKeyName": key}}
