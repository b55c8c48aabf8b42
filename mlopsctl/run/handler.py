"""The task handler of local runs: each step's container command, run as a local process.

kfp.local walks the compiled DAG (conditions, loops, placeholders, artifact passing) and hands
each task's image and full command to its runner's task handler: while a run lasts, one bound to
the run's :class:`Session` (:mod:`mlopsctl.run.seams`). The session also observes kfp's per-task
executor, to learn which step each process belongs to and what came of it.

- ``mlopsctl-stage ...`` runs the stage runtime installed beside this Python;
- a user image runs its command in the folder it is built from (``code``), ``python`` and
  ``python3`` standing for this Python; an image without one cannot run locally.

Every process gets ``MLOPSCTL_STAGE_LOCAL`` (the run's settings) and the step's environment, less the
variables that make a step log to Vertex AI (``tracking``): a local run reaches no cloud service, so
its steps log no experiment run and write to no TensorBoard, wherever the variables come from (the
compiled step, or the environment ``mlopsctl`` runs in). Its output goes to stderr line by line,
prefixed with the step's name.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mlopsctl.compiler.kfp_dag import STAGE_PROGRAM
from mlopsctl.compiler.vertex_tracking import EXPERIMENT_ENV, TENSORBOARD_ENV
from mlopsctl.graph import JSON
from mlopsctl.run.errors import RunError

PYTHONS = ("python", "python3")
LOCAL_ENV = "MLOPSCTL_STAGE_LOCAL"
NO_BYTECODE = "PYTHONDONTWRITEBYTECODE"
CLOUD_TRACKING = (EXPERIMENT_ENV, TENSORBOARD_ENV)
"""The variables that make a step log to Vertex AI (docs/stages.md), which no local process gets."""
_ITERATION = re.compile(r"-iteration-(\d+)$")
"""How kfp.local names the DAG of one item of a ``ParallelFor`` (``.../for-loop-2-iteration-0``)."""


def stage_program() -> pathlib.Path:
    """The ``mlopsctl-stage`` console script of this Python environment."""
    program = pathlib.Path(sys.executable).parent / STAGE_PROGRAM
    if not program.exists():
        raise RunError(
            f"{program}: the stage runtime is not installed beside {sys.executable} "
            "(install mlopsctl-stage into this environment)"
        )
    return program


def process_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment of a local process running a step with ``env``: this process's, overlaid with
    ``env``, without :data:`CLOUD_TRACKING`; Python writes no bytecode (``__pycache__``) into the
    code folder the step runs in, which belongs to the project, unless ``env`` says otherwise."""
    return {NO_BYTECODE: "1"} | {k: v for k, v in {**os.environ, **env}.items() if k not in CLOUD_TRACKING}


@dataclass(frozen=True)
class Outcome:
    """What one execution of a step (one item of a loop) came to."""

    status: Literal["succeeded", "failed"]
    outputs: dict[str, JSON]
    message: str | None = None
    item: int | None = None
    """The index of the loop item, for a step under ``parallelFor``."""


class Session:
    """What the steps of one local run share, and what became of each."""

    def __init__(self, settings_file: pathlib.Path, code: Mapping[str, pathlib.Path], workdir: pathlib.Path):
        self.settings_file = settings_file
        self.code = dict(code)
        """Image → the folder it is built from."""
        self.workdir = workdir
        self.outcomes: dict[str, list[Outcome]] = {}
        """Step → its executions, in the order they finished."""
        self._current = threading.local()
        """The step this thread runs, and why its last process failed (loop items run in threads)."""
        self._lock = threading.Lock()

    @property
    def step(self) -> str:
        return str(getattr(self._current, "step", "?"))

    def command(self, image: str, full_command: list[str]) -> tuple[list[str], pathlib.Path]:
        """The process to start for a container's command and args, and the folder to start it in."""
        if full_command[:1] == [STAGE_PROGRAM]:
            return [str(stage_program()), *full_command[1:]], self.workdir
        folder = self.code.get(image)
        if folder is None:
            raise RunError(
                f"image {image} cannot run locally: a step that runs its own image needs `code: FOLDER` "
                "(the folder the image is built from), whose command then runs there"
            )
        if not full_command:
            raise RunError(f"image {image}: the compiled step has no command")
        program = sys.executable if full_command[0] in PYTHONS else full_command[0]
        return [program, *full_command[1:]], folder

    def execute(
        self, image: str, full_command: list[str], env: Mapping[str, str], step: str | None = None
    ) -> bool:
        """Run one task's process to its end (as ``step``, default: the task kfp runs); True on exit 0.

        Why it failed is then :meth:`failure`.
        """
        step = step or self.step
        self._current.failure = None
        untracked = {k: v for k, v in env.items() if k in CLOUD_TRACKING}
        if untracked:
            logged = ", ".join(f"{k}={v}" for k, v in sorted(untracked.items()))
            sys.stderr.write(f"[{step}] tracking is off in local runs: not logging to Vertex AI ({logged})\n")
        try:
            argv, cwd = self.command(image, full_command)
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                env={**process_env(env), LOCAL_ENV: str(self.settings_file), "PYTHONUNBUFFERED": "1"},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
            )
        except (RunError, OSError) as error:
            self._note(step, f"cannot start: {error}")
            return False
        last = ""
        assert process.stdout is not None
        with process:
            for line in process.stdout:
                sys.stderr.write(f"[{step}] {line}")
                sys.stderr.flush()
                last = line.strip() or last
            code = process.wait()
        if code != 0:
            self._note(step, f"exit code {code}" + (f": {last}" if last else ""))
        return code == 0

    def failure(self) -> str | None:
        """Why the last process this thread ran failed."""
        found: str | None = getattr(self._current, "failure", None)
        return found

    def _note(self, step: str, message: str) -> None:
        sys.stderr.write(f"[{step}] {message}\n")
        self._current.failure = message

    def observe(self, execute_single_task: Callable[..., Any]) -> Callable[..., Any]:
        """kfp's ``execute_single_task``, recording each step's outcome under its name."""
        from kfp import dsl
        from kfp.local import status

        def observed(*args: Any, **kwargs: Any) -> Any:
            task_spec = kwargs["task_spec"]
            step = task_spec.task_info.name or kwargs["task_name"]
            iteration = _ITERATION.search(kwargs["pipeline_resource_name"])
            item = int(iteration[1]) if iteration else None
            self._current.step = step
            self._current.failure = None
            try:
                outputs, task_status = execute_single_task(*args, **kwargs)
            except Exception as error:  # kfp could not run the task or read its outputs: the step failed
                self._record(step, Outcome("failed", {}, str(error), item))
                return {}, status.Status.FAILURE
            if task_status == status.Status.SUCCESS:
                found = {k: v.uri if isinstance(v, dsl.Artifact) else v for k, v in outputs.items()}
                self._record(step, Outcome("succeeded", found, None, item))
            else:
                self._record(step, Outcome("failed", {}, self.failure(), item))
            return outputs, task_status

        return observed

    def _record(self, step: str, outcome: Outcome) -> None:
        with self._lock:
            self.outcomes.setdefault(step, []).append(outcome)


def handler_class(session: Session) -> type:
    """A kfp task handler class whose tasks run through ``session``."""
    from kfp.local import status, task_handler_interface

    class LocalProcess(task_handler_interface.ITaskHandler):  # type: ignore[misc]
        def __init__(
            self,
            image: str,
            full_command: list[str],
            pipeline_root: str,
            runner: object,
            env_vars: dict[str, str] | None = None,
        ) -> None:
            self.image = image
            self.full_command = list(full_command)
            self.env_vars = env_vars or {}

        def run(self) -> Any:
            ok = session.execute(self.image, self.full_command, self.env_vars)
            return status.Status.SUCCESS if ok else status.Status.FAILURE

    return LocalProcess
