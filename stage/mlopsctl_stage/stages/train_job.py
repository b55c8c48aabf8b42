"""``train-job``: run a distributed training step as the PyTorchJob, TFJob or JobSet compiled into
``--config`` (``{"job": OBJECT, "timeoutSeconds": N?}``) and wait for it.

Every replica container gets ``--NAME=VALUE`` for each ``--input`` and ``--output`` after its own
args; the replicas write the outputs themselves (see :mod:`mlopsctl_stage.launch` for names,
ownership and data). In a local run the leader's command runs once, as a local process.

With ``MLOPSCTL_EXPERIMENT`` set, once the job succeeded, the metrics of every output that holds a
``metrics.json`` and the inputs passed by value (the hyperparameters) are logged as an experiment run
(:mod:`mlopsctl_stage.tracking`).
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from mlopsctl_stage import launch, local_process, storage, tracking
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
    parser.add_argument("--run-id", help="The pipeline run's id: the experiment run metrics are logged to.")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    job = launch.compiled_object(config, "job")
    timeout = launch.timeout_seconds(config)
    inputs = [(name, uri) for name, uri in args.input]
    outputs = [(name, uri) for name, uri in args.output]
    settings = local_settings()
    if settings is not None:
        _run_locally(settings, job, inputs, outputs, timeout)
    else:
        values = launch.mount_gcs(job, [*inputs, *outputs])
        for container in launch.primary_containers(job):
            container["args"] = [*container.get("args", []), *launch.flags(values)]
        finished = launch.run_in_cluster(launch.Cluster(), job, timeout)
        print(f"{launch.title(finished)} succeeded", flush=True)
    if os.environ.get(tracking.EXPERIMENT_ENV):
        _track(inputs, outputs, args.run_id)


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


def _track(inputs: list[tuple[str, str]], outputs: list[tuple[str, str]], run_id: str | None) -> None:
    """Log the metrics the replicas wrote (``metrics.json`` of an output) and the by-value inputs."""
    metrics: dict[str, float] = {}
    for name, uri in outputs:
        found = f"{uri.rstrip('/')}/metrics.json"
        try:
            values = json.loads(storage.read_bytes(found)) if storage.exists(found) else {}
        except (StageError, ValueError) as error:
            tracking.warn(f"metrics of output {name} not logged: {error}")
            continue
        if isinstance(values, dict):
            metrics |= {
                k: float(v)
                for k, v in values.items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            }
    params = {name: _value(v) for name, v in inputs if "://" not in v and not v.startswith("/")}
    tracking.log_run(metrics, params, run_id=run_id, outputs=[uri for _, uri in outputs])


def _value(text: str) -> tracking.Value:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
