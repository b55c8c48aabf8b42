"""A user image's command run as a local process, for ``mlopsctl run --local`` (docs/stages.md).

The process runs in the folder the image is built from (``code`` of the local settings), with
``python``/``python3`` standing for the Python running this stage; its output (stdout and
stderr, in order) is echoed as it comes and kept for the caller.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from mlopsctl_stage.errors import StageError
from mlopsctl_stage.storage import LocalSettings

PYTHONS = ("python", "python3")


@dataclass(frozen=True)
class Finished:
    returncode: int
    output: list[str]
    """Its lines, without line ends."""
    timed_out: bool = False


def run(
    settings: LocalSettings,
    image: str,
    command: list[str],
    args: list[str],
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Finished:
    """Run ``command`` + ``args`` of ``image`` in its code folder; killed after ``timeout`` seconds."""
    folder = settings.code.get(image)
    if folder is None:
        raise StageError(
            f"image ({image})",
            "no local code folder for it: a step that runs its own image locally needs `code: FOLDER`",
        )
    if not command:
        raise StageError(f"image ({image})", "no command to run")
    program = [sys.executable if command[0] in PYTHONS else command[0], *command[1:], *args]
    try:
        process = subprocess.Popen(
            program,
            cwd=folder,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
    except OSError as error:
        raise StageError(f"command ({' '.join(command)})", f"cannot start it in {folder}: {error}") from None
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        process.kill()

    timer = threading.Timer(timeout, kill) if timeout is not None else None
    if timer is not None:
        timer.start()
    output: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            output.append(line.rstrip("\n"))
        returncode = process.wait()
    finally:
        if timer is not None:
            timer.cancel()
    return Finished(returncode, output, killed.is_set())
