"""CPU and memory requests that fit a node: a pod larger than what one node of its pool can
allocate is never scheduled, and the autoscaler adds nodes for it in vain.

Machine shapes come from ``mlopsctl/data/machines.json`` (with its sources and date); what GKE
keeps from each node for itself follows the tiers of GKE's node sizing page. A machine type
that file does not know is not checked.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from typing import Any

from mlopsctl.config import catalog
from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.diagnostics import Diagnostic
from mlopsctl.config.models.compute import (
    SYSTEM_POOL,
    SYSTEM_POOL_SPEC,
    CpuPool,
    GpuPool,
    TpuPool,
    needs_system_pool,
)
from mlopsctl.config.sourcemap import Path

NodePool = GpuPool | TpuPool | CpuPool
MIB = 2**20
GIB = 2**30
_SUFFIXES = {
    "m": Fraction(1, 1000),
    "": Fraction(1),
    "k": Fraction(10**3),
    "K": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    **{f"{p}i": Fraction(2 ** (10 * n)) for n, p in enumerate("KMGTPE", 1)},
}
_QUANTITY = re.compile(r"^(?P<number>[0-9]*\.?[0-9]+)(?P<suffix>[a-zA-Z]*)$")
_SIZED = re.compile(r"^(?P<family>[a-z0-9]+-[a-z]+)-(?P<vcpus>[0-9]+)$")


def quantity(text: str) -> Fraction | None:
    """A Kubernetes quantity (``500m``, ``2``, ``24Gi``, ``64G``) as an exact number; None if malformed."""
    match = _QUANTITY.match(text)
    if match is None or match["suffix"] not in _SUFFIXES:
        return None
    return Fraction(match["number"]) * _SUFFIXES[match["suffix"]]


@dataclass(frozen=True)
class Shape:
    machine_type: str
    vcpus: int
    memory: Fraction
    """Bytes."""


@functools.cache
def _data() -> dict[str, Any]:
    text = resources.files("mlopsctl").joinpath("data/machines.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def shape(machine_type: str) -> Shape | None:
    """vCPUs and memory of a predefined machine type; None for one the data file does not list."""
    data = _data()
    if machine_type in data["machines"]:
        vcpus, gib = data["machines"][machine_type]
        return Shape(machine_type, vcpus, Fraction(str(gib)) * GIB)
    sized = _SIZED.match(machine_type)
    family = data["families"].get(sized["family"]) if sized else None
    if sized is None or family is None or int(sized["vcpus"]) not in family["vcpus"]:
        return None
    vcpus = int(sized["vcpus"])
    return Shape(machine_type, vcpus, Fraction(str(family["memoryPerVcpu"])) * vcpus * GIB)


def _tiered(total: Fraction, tiers: Sequence[tuple[float | None, float]], unit: int) -> Fraction:
    """The sum over tiers of ``fraction`` times the part of ``total`` between the previous bound and this."""
    reserved, lower = Fraction(0), Fraction(0)
    for upper, fraction in tiers:
        top = total if upper is None else min(total, Fraction(upper) * unit)
        if top > lower:
            reserved += (top - lower) * Fraction(str(fraction))
        lower = max(lower, top)
    return reserved


@functools.lru_cache(maxsize=256)
def allocatable(machine: Shape) -> tuple[Fraction, Fraction]:
    """CPUs and bytes of memory that pods can request on a GKE Standard node of this shape."""
    reserved = _data()["gkeReserved"]
    cpus = machine.vcpus - _tiered(Fraction(machine.vcpus), reserved["cpuTiers"], 1)
    if machine.memory < GIB:
        kept = Fraction(reserved["memorySmallMachineMiB"] * MIB)
    else:
        kept = _tiered(machine.memory, reserved["memoryTiers"], GIB)
    return cpus, machine.memory - kept - reserved["evictionMiB"] * MIB


def pool_machine_type(pool: NodePool) -> str | None:
    """The machine type of the pool's nodes, defaults from the catalog included."""
    if isinstance(pool, CpuPool):
        return pool.machine_type
    if isinstance(pool, GpuPool):
        return pool.machine_type or catalog.default_gpu_machine_type(pool.accelerator, pool.count)
    tpu_slice = catalog.tpu_machine_type(pool.version, pool.topology, pool.machine_type)
    return tpu_slice.machine_type if tpu_slice else None


@dataclass(frozen=True)
class Request:
    owner: str
    pool: str | None
    cpu: str | None
    memory: str | None
    path: Path
    """The object holding ``cpu`` and ``memory``."""


def _requests(ctx: CheckContext) -> Iterator[Request]:
    placement = ctx.config.placement  # Vertex AI sizes its own machines (checks.placement)
    for p, pipeline in ctx.config.pipelines.items() if placement.pipelines == "gke" else ():
        for s, step in pipeline.steps.items():
            r = step.resources
            yield Request(
                f"step '{s}' of pipeline '{p}'",
                r.node_pool or pipeline.node_pool,
                r.cpu,
                r.memory,
                ("pipelines", p, "steps", s, "resources"),
            )
    for e, endpoint in ctx.config.endpoints.items() if placement.endpoints == "gke" else ():
        for v, variant in endpoint.variants.items():
            yield Request(
                f"variant '{v}' of endpoint '{e}'",
                variant.node_pool,
                variant.cpu,
                variant.memory,
                ("endpoints", e, "variants", v),
            )


def _hosts(ctx: CheckContext, pool: str | None) -> list[tuple[str, NodePool]]:
    """The pools a pod of ``pool`` may land on: that pool, or without one every untainted pool."""
    pools = ctx.config.accelerators
    if pool is not None:
        return [(pool, pools[pool])] if pool in pools else []
    hosts: list[tuple[str, NodePool]] = [
        (n, p) for n, p in pools.items() if isinstance(p, CpuPool) and not p.spot
    ]
    return [*hosts, (SYSTEM_POOL, SYSTEM_POOL_SPEC)] if needs_system_pool(pools) else hosts


def _cpus(amount: Fraction) -> str:
    return "1 CPU" if amount == 1 else f"{float(amount):g} CPUs"


def _gib(amount: Fraction) -> str:
    return f"{float(amount / GIB):.2f}".rstrip("0").rstrip(".") + "Gi of memory"


@dataclass(frozen=True)
class Node:
    pool: str
    machine: Shape
    cpu: Fraction
    memory: Fraction
    """Allocatable CPUs and bytes."""


def _nodes(ctx: CheckContext, pool: str | None) -> list[Node]:
    """A node of each pool the request may land on; none if a machine type has an unknown shape."""
    nodes = []
    for name, host in _hosts(ctx, pool):
        machine = shape(pool_machine_type(host) or "")
        if machine is None:
            return []
        nodes.append(Node(name, machine, *allocatable(machine)))
    return nodes


@check
def requests_fit(ctx: CheckContext) -> Iterator[Diagnostic]:
    for request in _requests(ctx):
        nodes = _nodes(ctx, request.pool)
        if not nodes:
            continue
        machines = ", ".join(sorted({f"{n.pool}: {n.machine.machine_type}" for n in nodes}))
        on = (
            f"nodes of pool '{request.pool}' ({nodes[0].machine.machine_type})"
            if request.pool
            else f"it names no node pool, and the nodes it can run on ({machines})"
        )
        cpu = quantity(request.cpu) if request.cpu else None
        most_cpu = max(n.cpu for n in nodes)
        if cpu is not None and cpu > most_cpu:
            yield Diagnostic(
                "E205",
                f"{request.owner} requests {_cpus(cpu)}, but {on} can allocate at most {_cpus(most_cpu)}",
                path=(*request.path, "cpu"),
                hint=f"request at most {int(most_cpu * 1000)}m, or run it on a pool of larger machines",
            )
        memory = quantity(request.memory) if request.memory else None
        most_memory = max(n.memory for n in nodes)
        if memory is not None and memory > most_memory:
            yield Diagnostic(
                "E205",
                f"{request.owner} requests {_gib(memory)}, but {on} can allocate at most {_gib(most_memory)}",
                path=(*request.path, "memory"),
                hint=f"request at most {int(most_memory / MIB)}Mi, or run it on a pool of larger machines",
            )
