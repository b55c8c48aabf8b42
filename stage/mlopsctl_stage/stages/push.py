"""push: copy a model folder to ``REGISTRY/VERSION/``, where VERSION is named by the model's content.

VERSION is the first 12 hex digits of the SHA-256 of the lines ``PATH SHA256`` of the folder's
files (sorted by relative path), so pushing the same model twice yields the same version. The files
go first and the ``_PUSHED`` manifest (the files with their sizes and digests) last: a version
without it is incomplete and is written again; one with it is complete, and is never overwritten.

With a ``vertex`` block (endpoints on Vertex AI: its Model Registry is the registry), the pushed
folder is then registered as a new version of the model ``vertex.modelId`` (the model is created
with it if it does not exist yet), without aliases: the rollout gives those. A folder already
registered (a version of the model whose ``artifactUri`` is that folder) is not registered again.
A local run (``MLOPSCTL_STAGE_LOCAL``) registers nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlopsctl_stage import storage, vertex
from mlopsctl_stage.artifacts import write_parameter
from mlopsctl_stage.errors import StageError

MANIFEST = "_PUSHED"
VERSION_DIGITS = 12
CONTENT_LABEL = "mlops-content-version"
"""The label of a registered version that names the content version it holds."""
UPLOAD_TIMEOUT = 1800
"""Seconds an upload to the Model Registry (a long-running operation) may take."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="IN: the model folder.")
    parser.add_argument("--pushed-uri", help="OUT: a string parameter, the URI of the pushed version.")


def _files(folder: Path) -> dict[str, dict[str, Any]]:
    """Relative path → its size and SHA-256, for every file under ``folder``."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        with path.open("rb") as data:
            digest = hashlib.file_digest(data, "sha256").hexdigest()
        found[path.relative_to(folder).as_posix()] = {"size": path.stat().st_size, "sha256": digest}
    return found


def version_of(files: dict[str, dict[str, Any]]) -> str:
    lines = "".join(f"{path} {entry['sha256']}\n" for path, entry in sorted(files.items()))
    return hashlib.sha256(lines.encode()).hexdigest()[:VERSION_DIGITS]


def _pushed_files(manifest_uri: str) -> Any:
    """The files a version's manifest lists (None if it is not a manifest push wrote)."""
    try:
        pushed = json.loads(storage.read_bytes(manifest_uri))
    except ValueError:
        return None
    return pushed.get("files") if isinstance(pushed, dict) else None


def _config(config: dict[str, Any]) -> tuple[str, str, str]:
    values = []
    for key in ("registry", "model", "framework"):
        value = config.get(key)
        if not isinstance(value, str) or not value:
            raise StageError(f"--config {key}", "must be a non-empty string")
        values.append(value)
    return values[0], values[1], values[2]


@dataclass(frozen=True)
class Registration:
    """Where a pushed folder is registered in Vertex AI Model Registry (``--config vertex``)."""

    project: str
    location: str
    model_id: str
    display_name: str
    image_uri: str
    ports: list[int]
    labels: dict[str, str] = field(default_factory=dict)
    kms_key_name: str = ""
    """The customer-managed key each uploaded version is encrypted with (none: Google's)."""

    @classmethod
    def from_config(cls, block: Any) -> Registration:
        subject = "--config vertex"
        if not isinstance(block, dict):
            raise StageError(subject, "must be an object")
        keys = ("project", "location", "modelId", "displayName")
        missing = [key for key in keys if not isinstance(block.get(key), str) or not block[key]]
        if missing:
            raise StageError(subject, f"missing {', '.join(missing)}")
        container = block.get("container")
        if not isinstance(container, dict) or not isinstance(container.get("imageUri"), str):
            raise StageError(f"{subject}.container", "must be an object with an imageUri")
        ports = container.get("ports") or []
        if not isinstance(ports, list) or not all(isinstance(p, int) and 0 < p < 65536 for p in ports):
            raise StageError(f"{subject}.container.ports", "must be a list of port numbers")
        labels = block.get("labels") or {}
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise StageError(f"{subject}.labels", "must be an object of strings")
        key = block.get("kmsKeyName", "")
        if not isinstance(key, str) or (key and "/cryptoKeys/" not in key):
            raise StageError(f"{subject}.kmsKeyName", "must be a key's resource name (.../cryptoKeys/KEY)")
        return cls(
            project=block["project"],
            location=block["location"],
            model_id=block["modelId"],
            display_name=block["displayName"],
            image_uri=container["imageUri"],
            ports=ports,
            labels=labels,
            kms_key_name=key,
        )

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.location}"

    @property
    def model(self) -> str:
        return f"{self.parent}/models/{self.model_id}"


def _versions(service: Any, target: Registration) -> dict[str, str] | None:
    """The folder (``artifactUri``, no trailing ``/``) of each version of the model → its version id;
    None if there is no such model yet."""
    from google.api_core.exceptions import NotFound

    try:
        versions = list(service.list_model_versions(name=target.model))
    except NotFound:
        return None
    return {v.artifact_uri.rstrip("/"): str(v.version_id) for v in versions}


def register(target: Registration, folder: str, version: str) -> None:
    """Registers ``folder`` (content ``version``) as a version of ``target``'s model, once."""
    from google.api_core.exceptions import Conflict
    from google.cloud import aiplatform_v1

    with vertex.api_errors(f"versions of {target.model}"):  # credentials are looked up by the client
        service = vertex.client("ModelServiceClient", target.location)
        versions = _versions(service, target)
    found = (versions or {}).get(folder.rstrip("/"))
    if found is None:
        model = aiplatform_v1.Model(
            display_name=target.display_name,
            version_description=f"Content version {version}, pushed to {folder} by mlopsctl.",
            labels={**target.labels, CONTENT_LABEL: version},
            artifact_uri=folder,
            container_spec=aiplatform_v1.ModelContainerSpec(
                image_uri=target.image_uri,
                ports=[aiplatform_v1.Port(container_port=port) for port in target.ports],
            ),
        )
        if target.kms_key_name:
            model.encryption_spec = aiplatform_v1.EncryptionSpec(kms_key_name=target.kms_key_name)
        later = aiplatform_v1.UploadModelRequest(parent=target.parent, parent_model=target.model, model=model)
        with vertex.api_errors(f"upload of {folder} to {target.model}"):
            if versions is None:
                first = aiplatform_v1.UploadModelRequest(
                    parent=target.parent, model_id=target.model_id, model=model
                )
                try:
                    uploaded = service.upload_model(request=first).result(timeout=UPLOAD_TIMEOUT)
                except Conflict:  # another push created the model meanwhile: become a version of it
                    uploaded = service.upload_model(request=later).result(timeout=UPLOAD_TIMEOUT)
            else:
                uploaded = service.upload_model(request=later).result(timeout=UPLOAD_TIMEOUT)
        found = str(uploaded.model_version_id)
        print(f"registered {folder} as version {found} of {target.model}")
    else:
        print(f"{folder} is already version {found} of {target.model}")
    link = vertex.MODEL_CONSOLE.format(
        location=target.location, model=target.model_id, version=found, project=target.project
    )
    print(f"Console: {link}")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    registry, model, framework = _config(config)
    registration = None if config.get("vertex") is None else Registration.from_config(config["vertex"])
    folder = Path(args.model)
    if not folder.is_dir():
        raise StageError(
            f"model ({folder})", "not a folder (a trainer writes its files into its model output)"
        )
    files = _files(folder)
    if not files:
        raise StageError(f"model ({folder})", "the folder is empty")
    if MANIFEST in files:
        raise StageError(f"model ({folder})", f"holds a file named {MANIFEST}, which push writes itself")
    version = version_of(files)
    destination = f"{registry.rstrip('/')}/{version}/"
    manifest_uri = destination + MANIFEST
    if storage.exists(manifest_uri):
        if _pushed_files(manifest_uri) != files:
            raise StageError(
                f"registry ({destination})", f"version {version} holds other files; it is never overwritten"
            )
        print(f"{model} {version} is already at {destination}")
    else:
        storage.upload_dir(folder, destination)
        manifest = {"model": model, "framework": framework, "version": version, "files": files}
        storage.write_bytes(manifest_uri, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
        print(f"pushed {model} {version} to {destination}")
    if registration is not None and storage.local_settings() is not None:
        note = f"a local run registers nothing in Vertex AI Model Registry ({registration.model})"
        print(f"mlopsctl-stage push: note: {note}", file=sys.stderr)
    elif registration is not None:
        register(registration, destination, version)
    write_parameter(args.pushed_uri, destination)
