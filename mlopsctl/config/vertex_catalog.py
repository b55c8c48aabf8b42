"""What Vertex AI online prediction offers: machine types, accelerators and prebuilt serving
containers (``data/vertex.json``, which names its sources and date)."""

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


@functools.cache
def vertex_catalog() -> VertexCatalog:
    raw = json.loads(resources.files("mlopsctl").joinpath("data/vertex.json").read_text(encoding="utf-8"))
    return VertexCatalog(
        date=raw["date"],
        default_machine_type=raw["defaultMachineType"],
        machine_types=tuple(raw["machineTypes"]),
        accelerator_families={k: tuple(v["machineFamilies"]) for k, v in raw["acceleratorTypes"].items()},
        containers=dict(raw["containers"]),
        gpu_containers=dict(raw["gpuContainers"]),
        built_in_gpus={
            m: (spec["type"], int(spec["count"])) for m, spec in raw["builtInAccelerators"].items()
        },
    )
