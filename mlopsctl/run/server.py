"""The local stand-in of a batch job's endpoint: the stage runtime's model server on 127.0.0.1.

A batch job's ``batch-predict`` step calls its endpoint's cluster URL; in a local run the
settings map that URL to a ``mlopsctl-stage serve`` process serving the job's model version from
the local storage root, started before the run and stopped after it.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from mlopsctl.run.errors import RunError
from mlopsctl.run.handler import stage_program

HOST = "127.0.0.1"
READY_SECONDS = 60.0
STOP_SECONDS = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def local_model(root: pathlib.Path, uri: str, model: str) -> pathlib.Path:
    """Where a model version's ``gs://`` artifact URI is in the local storage ``root``."""
    if not uri.startswith("gs://"):
        raise RunError(f"model {model}: artifact URI {uri} is not a gs:// URI, which a local run maps")
    path = root / "gcs" / uri.removeprefix("gs://").rstrip("/")
    if not path.exists():
        raise RunError(
            f"model {model}: no artifact at {uri} ({path}): put it in sample-data/buckets/<bucket>/..., "
            "or first run the pipeline that writes it with the same --out"
        )
    return path


@contextlib.contextmanager
def model_server(batch: dict[str, Any], root: pathlib.Path) -> Iterator[dict[str, str]]:
    """Serve the model of a compiled ``batch-predict`` config; yields {cluster URL: local URL}."""
    endpoint = batch.get("endpoint")
    model = batch.get("model")
    if not isinstance(endpoint, dict) or not isinstance(model, dict) or "url" not in endpoint:
        raise RunError("the compiled batch-predict step names no endpoint or model to serve locally")
    name = f"{model.get('name')} {model.get('version')}"
    path = local_model(root, str(model.get("uri")), name)
    port = free_port()
    argv = [str(stage_program()), "serve", "--model-uri", str(path), "--port", str(port)]
    argv += ["--protocol", str(endpoint.get("protocol", "v2")), "--name", str(endpoint.get("modelName"))]
    process = subprocess.Popen(
        argv,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    pump = threading.Thread(target=_pump, args=(process, output), daemon=True)
    pump.start()
    try:
        _wait_ready(process, port, output, pump)
        yield {str(endpoint["url"]): f"http://{HOST}:{port}"}
    finally:
        process.terminate()
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        pump.join()


def _pump(process: subprocess.Popen[str], output: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        sys.stderr.write(f"[serve] {line}")
        output.append(line.strip())


def _wait_ready(process: subprocess.Popen[Any], port: int, output: list[str], pump: threading.Thread) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pump.join()
            last = next((line for line in reversed(output) if line), "")
            raise RunError(f"the local model server exited with code {process.returncode}: {last}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return
        time.sleep(0.1)
    raise RunError(f"the local model server did not listen on {HOST}:{port} within {READY_SECONDS:g}s")
