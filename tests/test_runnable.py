"""What every example compiles to can start on a cluster.

Every container, in pipeline executors and in Kubernetes objects alike, names the program it
runs; every ``mlopsctl-stage`` program names a stage the stage runtime has; and no pod that only
launches or calls other workloads holds accelerators.
"""

from __future__ import annotations

import functools
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import EXAMPLES

from mlopsctl.api import compile_graphs, validate
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph
from mlopsctl_stage.cli import STAGES

LAUNCHERS = {"train-job", "tune-job", "start-run", "batch-predict", "drift", "skew", "request-logger"}
"""Stages that start or call other workloads, and so must hold no accelerator themselves."""
ACCELERATORS = ("nvidia.com/gpu", "google.com/tpu")


@functools.cache
def _graphs(example: pathlib.Path) -> dict[Target, Graph]:
    validation = validate(ConfigSource(example, str(example), None))
    assert validation.ok, [d.message for d in validation.diagnostics]
    return compile_graphs(validation)


def _pod_specs(obj: Any) -> Iterator[dict[str, Any]]:
    """Every pod spec inside a Kubernetes object, however deeply templated."""
    if isinstance(obj, dict):
        if "containers" in obj and isinstance(obj["containers"], list):
            yield obj
        for value in obj.values():
            yield from _pod_specs(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _pod_specs(value)


def _containers(graph: Graph) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, container) for every container the graph defines, executors included."""
    for resource in graph:
        if not resource.type.startswith("kubernetes:"):
            continue
        if resource.inputs.get("kind") == "PipelineVersion":
            executors = resource.inputs["spec"]["pipelineSpec"]["deploymentSpec"]["executors"]
            for name, executor in executors.items():
                yield f"{resource.address} executor {name}", executor["container"]
            continue
        for spec in _pod_specs(resource.inputs.get("spec", {})):
            for container in spec["containers"]:
                yield f"{resource.address} container {container['name']}", container


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_every_container_runs_a_command_that_exists(example: pathlib.Path) -> None:
    seen = 0
    for graph in _graphs(example).values():
        for where, container in _containers(graph):
            seen += 1
            command = container.get("command")
            assert command, f"{where} has no command"
            if command[0] == "mlopsctl-stage":
                assert len(command) > 1 and command[1] in STAGES, f"{where} runs an unknown stage {command}"
    assert seen


def _executor_accelerators(container: dict[str, Any]) -> Any:
    return container.get("resources", {}).get("accelerator")


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_launchers_and_callers_hold_no_accelerators(example: pathlib.Path) -> None:
    for graph in _graphs(example).values():
        for where, container in _containers(graph):
            command = container.get("command") or []
            if command[:1] != ["mlopsctl-stage"] or command[1] not in LAUNCHERS:
                continue
            limits = container.get("resources", {}).get("limits", {})
            assert not set(limits) & set(ACCELERATORS), f"{where} holds accelerators"
            assert not _executor_accelerators(container), f"{where} holds accelerators"
