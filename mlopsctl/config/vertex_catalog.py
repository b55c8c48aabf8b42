"""What Vertex AI offers: machine types, accelerators and prebuilt serving containers for online
prediction, the GPU counts one machine carries, and the most a pipeline step may ask for
(``data/vertex.json``, which names its sources and date)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class VertexCatalog:
    date: str
    default_machine_type: str
    machine_types: tuple[str, ...]
    accelerator_families: dict[str, tuple[str, ...]]
    """Accelerator type -> the machine families it attaches to (or comes built into)."""
    containers: dict[str, str]
    """Model framework -> prebuilt serving container image."""
    gpu_containers: dict[str, str]
    """Model framework -> prebuilt serving container image that uses GPUs (only some frameworks)."""
    built_in_gpus: dict[str, tuple[str, int]]
    """Machine type -> the accelerator type and count built into it (a2, a3, g2)."""
    gpu_counts: dict[str, dict[int, str | None]]
    """Accelerator type -> each count of it one machine carries -> the largest predefined machine type
    carrying that many (its shape is in ``data/machines.json``), None where not recorded."""
    step_max_cpu: int
    """The most CPUs a Vertex AI Pipelines step may ask for."""
    step_max_memory_gib: int
    """The most memory a Vertex AI Pipelines step may ask for, in GiB (Compute Engine's GB)."""


@functools.cache
def vertex_catalog() -> VertexCatalog:
    raw = json.loads(resources.files("mlopsctl").joinpath("data/vertex.json").read_text(encoding="utf-8"))
    types = raw["acceleratorTypes"]
    return VertexCatalog(
        date=raw["date"],
        default_machine_type=raw["defaultMachineType"],
        machine_types=tuple(raw["machineTypes"]),
        accelerator_families={k: tuple(v["machineFamilies"]) for k, v in types.items()},
        containers=dict(raw["containers"]),
        gpu_containers=dict(raw["gpuContainers"]),
        built_in_gpus={
            m: (spec["type"], int(spec["count"])) for m, spec in raw["builtInAccelerators"].items()
        },
        gpu_counts={k: {int(n): m for n, m in v["counts"].items()} for k, v in types.items()},
        step_max_cpu=int(raw["pipelineSteps"]["maxCpu"]),
        step_max_memory_gib=int(raw["pipelineSteps"]["maxMemoryGB"]),
    )
