"""push: copy a model folder to ``REGISTRY/VERSION/``, where VERSION is named by the model's content.

VERSION is the first 12 hex digits of the SHA-256 of the lines ``PATH SHA256`` of the folder's
files (sorted by relative path), so pushing the same model twice yields the same version. The files
go first and the ``_PUSHED`` manifest (the files with their sizes and digests) last: a version
without it is incomplete and is written again; one with it is complete, and is never overwritten.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

from mlopsctl_stage import storage
from mlopsctl_stage.artifacts import write_parameter
from mlopsctl_stage.errors import StageError

MANIFEST = "_PUSHED"
VERSION_DIGITS = 12


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


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    registry, model, framework = _config(config)
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
    write_parameter(args.pushed_uri, destination)
