"""``train-job``: run a distributed training step as the PyTorchJob, TFJob or JobSet compiled into
``--config`` (``{"job": OBJECT, "timeoutSeconds": N?}``) and wait for it.

Every replica container gets ``--NAME=VALUE`` for each ``--input`` and ``--output`` after its own
args; the replicas write the outputs themselves (see :mod:`mlopsctl_stage.launch` for names,
ownership and data). In a local run the leader's command runs once, as a local process.
"""

from __future__ import annotations

import argparse
from typing import Any

from mlopsctl_stage import launch, local_process
from mlopsctl_stage.errors import StageError
from mlopsctl_stage.storage import LocalSettings, local_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for flag, what in (("--input", "an input"), ("--output", "an output the replicas write")):
        parser.add_argument(
            flag,
            nargs=2,
            action="append",
            default=[],
            metavar=("NAME", "URI"),
            help=f"{what}, passed to every replica as --NAME=URI (repeatable)",
        )


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    job = launch.compiled_object(config, "job")
    timeout = launch.timeout_seconds(config)
    inputs = [(name, uri) for name, uri in args.input]
    outputs = [(name, uri) for name, uri in args.output]
    settings = local_settings()
    if settings is not None:
        _run_locally(settings, job, inputs, outputs, timeout)
        return
    values = launch.mount_gcs(job, [*inputs, *outputs])
    for container in launch.primary_containers(job):
        container["args"] = [*container.get("args", []), *launch.flags(values)]
    finished = launch.run_in_cluster(launch.Cluster(), job, timeout)
    print(f"{launch.title(finished)} succeeded", flush=True)


def _run_locally(
    settings: LocalSettings,
    job: dict[str, Any],
    inputs: list[tuple[str, str]],
    outputs: list[tuple[str, str]],
    timeout: float | None,
) -> None:
    leader = launch.leader(job)
    inputs = [(name, launch.local_path(settings, uri)) for name, uri in inputs]
    outputs = [(name, launch.local_path(settings, uri)) for name, uri in outputs]
    launch.prepare_outputs(path for _, path in outputs)
    print(f"Running the leader of {launch.title(job)} as a local process", flush=True)
    finished = local_process.run(
        settings,
        leader.get("image", ""),
        list(leader.get("command", [])),
        [*leader.get("args", []), *launch.flags([*inputs, *outputs])],
        launch.literal_env(leader),
        timeout,
    )
    if finished.timed_out:
        raise StageError(launch.title(job), f"did not finish within {timeout:g} seconds; stopped it")
    if finished.returncode != 0:
        raise StageError(launch.title(job), f"the training command exited with code {finished.returncode}")
