"""What Google Cloud offers where: regions and zones, GPU and TPU availability, and the
machine types that carry each accelerator.

The data lives in ``mlopsctl/data/accelerators.json`` (with the documentation pages it
was taken from and the date it was checked); it is read once, on first use. Lookups of
unknown names return empty results rather than raising, so that callers can report
them as diagnostics.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Zone:
    name: str
    gpus: frozenset[str]
    tpus: frozenset[str]


@dataclass(frozen=True)
class Region:
    name: str
    zones: Mapping[str, Zone]


@dataclass(frozen=True)
class GpuMachineType:
    name: str
    vcpus: int
    counts: tuple[int, ...]
    """GPUs per VM that this machine type can carry."""


@dataclass(frozen=True)
class Gpu:
    type: str
    machine_types: Mapping[str, GpuMachineType]
    defaults: Mapping[int, str]
    """GPU count -> the machine type used when a node pool names none."""


@dataclass(frozen=True)
class TpuTopology:
    topology: str
    chips: int
    machine_types: tuple[str, ...]
    """GKE machine types that can form this slice, the default first."""


@dataclass(frozen=True)
class Tpu:
    version: str
    gke_accelerator: str
    """The value of the node label ``cloud.google.com/gke-tpu-accelerator``."""
    chips_per_host: Mapping[str, int]
    """GKE machine type -> TPU chips on each VM of that type."""
    topologies: Mapping[str, TpuTopology]


@dataclass(frozen=True)
class TpuSlice:
    """One TPU slice as a GKE node pool builds it."""

    version: str
    topology: str
    machine_type: str
    chips: int
    chips_per_host: int

    @property
    def hosts(self) -> int:
        return self.chips // self.chips_per_host

    @property
    def multi_host(self) -> bool:
        return self.hosts > 1


@dataclass(frozen=True)
class Catalog:
    source: tuple[str, ...]
    date: str
    notes: tuple[str, ...]
    regions: Mapping[str, Region]
    gpus: Mapping[str, Gpu]
    tpus: Mapping[str, Tpu]


def _region(name: str, raw: Mapping[str, Any]) -> Region:
    zones = {
        zone: Zone(zone, frozenset(offer["gpus"]), frozenset(offer["tpus"]))
        for zone, offer in raw["zones"].items()
    }
    return Region(name, zones)


def _gpu(gpu_type: str, raw: Mapping[str, Any]) -> Gpu:
    machine_types = {
        name: GpuMachineType(name, spec["vcpus"], tuple(spec["counts"]))
        for name, spec in raw["machineTypes"].items()
    }
    defaults = {int(count): name for count, name in raw["defaults"].items()}
    return Gpu(gpu_type, machine_types, defaults)


def _tpu(version: str, raw: Mapping[str, Any]) -> Tpu:
    topologies = {
        topology: TpuTopology(topology, spec["chips"], tuple(spec["machineTypes"]))
        for topology, spec in raw["topologies"].items()
    }
    return Tpu(version, raw["gkeAccelerator"], dict(raw["machineTypes"]), topologies)


@functools.cache
def catalog() -> Catalog:
    """The catalog shipped with mlopsctl."""
    text = resources.files("mlopsctl").joinpath("data/accelerators.json").read_text(encoding="utf-8")
    raw = json.loads(text)
    return Catalog(
        source=tuple(raw["source"]),
        date=raw["date"],
        notes=tuple(raw["notes"]),
        regions={name: _region(name, spec) for name, spec in raw["regions"].items()},
        gpus={name: _gpu(name, spec) for name, spec in raw["gpus"].items()},
        tpus={name: _tpu(name, spec) for name, spec in raw["tpus"].items()},
    )


def regions() -> list[str]:
    return sorted(catalog().regions)


def zones(region: str) -> list[str]:
    """The zones of ``region``; empty for a region the catalog does not know."""
    found = catalog().regions.get(region)
    return sorted(found.zones) if found else []


def gpu_zones(region: str, gpu_type: str) -> list[str]:
    """Zones of ``region`` that offer ``gpu_type``."""
    found = catalog().regions.get(region)
    return sorted(z.name for z in found.zones.values() if gpu_type in z.gpus) if found else []


def tpu_zones(region: str, version: str) -> list[str]:
    """Zones of ``region`` that offer TPU ``version``."""
    found = catalog().regions.get(region)
    return sorted(z.name for z in found.zones.values() if version in z.tpus) if found else []


def gpu_regions(gpu_type: str) -> list[str]:
    """Regions with at least one zone that offers ``gpu_type``."""
    return [r for r in regions() if gpu_zones(r, gpu_type)]


def tpu_regions(version: str) -> list[str]:
    """Regions with at least one zone that offers TPU ``version``."""
    return [r for r in regions() if tpu_zones(r, version)]


def gpu_machine_types(gpu_type: str) -> dict[str, tuple[int, ...]]:
    """Machine types that carry ``gpu_type``, each with the GPU counts it allows."""
    gpu = catalog().gpus.get(gpu_type)
    return {m.name: m.counts for m in gpu.machine_types.values()} if gpu else {}


def gpu_counts(gpu_type: str) -> list[int]:
    """Every GPU count per VM that some machine type allows for ``gpu_type``."""
    return sorted({c for counts in gpu_machine_types(gpu_type).values() for c in counts})


def default_gpu_machine_type(gpu_type: str, count: int) -> str | None:
    """The machine type a node pool with ``count`` GPUs of ``gpu_type`` gets when it names none."""
    gpu = catalog().gpus.get(gpu_type)
    return gpu.defaults.get(count) if gpu else None


def tpu_topologies(version: str) -> list[str]:
    """Topologies GKE accepts for TPU ``version``, smallest slice first."""
    tpu = catalog().tpus.get(version)
    return [t.topology for t in sorted(tpu.topologies.values(), key=lambda t: t.chips)] if tpu else []


def tpu_machine_types(version: str, topology: str) -> list[str]:
    """GKE machine types that can form a ``topology`` slice of TPU ``version``, the default first."""
    tpu = catalog().tpus.get(version)
    found = tpu.topologies.get(topology) if tpu else None
    return list(found.machine_types) if found else []


def tpu_machine_type(version: str, topology: str, machine_type: str | None = None) -> TpuSlice | None:
    """The slice a node pool builds: ``machine_type`` (default: the topology's first) and its host count.

    None when the version, topology or machine type does not fit.
    """
    tpu = catalog().tpus.get(version)
    allowed = tpu_machine_types(version, topology)
    if tpu is None or not allowed:
        return None
    chosen = machine_type or allowed[0]
    if chosen not in allowed:
        return None
    return TpuSlice(version, topology, chosen, tpu.topologies[topology].chips, tpu.chips_per_host[chosen])


def tpu_gke_accelerator(version: str) -> str | None:
    """The ``cloud.google.com/gke-tpu-accelerator`` label value of TPU ``version``."""
    tpu = catalog().tpus.get(version)
    return tpu.gke_accelerator if tpu else None
