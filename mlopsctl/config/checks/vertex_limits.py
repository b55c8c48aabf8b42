"""How much one Vertex AI machine holds (E401, E402): the CPUs and memory of a pipeline step, and the GPUs of
a step or of a model deployed on a machine type they attach to (n1).

``data/vertex.json`` records the counts of each accelerator type one machine carries, each with the largest
predefined machine type carrying that many (``acceleratorTypes.counts``), and the most CPUs and memory
Vertex AI Pipelines gives a step (``pipelineSteps``: 96 CPUs and 624 GB, Compute Engine's GB being GiB).
Vertex AI Pipelines picks the closest machine type for the CPU, memory and accelerators the compiled
PipelineSpec asks for, so a step that no machine type fits fails only when it runs, and the deploy call
refuses a GPU count that no machine carries. Machine shapes come from ``data/machines.json``; a count
without a recorded machine type (P100) is checked for the count only.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

from mlopsctl.config.checks.resources import GIB, MIB, Shape, quantity, shape
from mlopsctl.config.checks.vertex_machines import gpus
from mlopsctl.config.diagnostics import Diagnostic
from mlopsctl.config.models.pipelines import Resources
from mlopsctl.config.sourcemap import Path
from mlopsctl.config.vertex_catalog import vertex_catalog
from mlopsctl.config.wording import one_of

_ON_GKE = "or place pipelines on GKE (placement.pipelines: gke, per environment under overrides)"


def _gb(memory: Fraction) -> str:
    """Bytes as Compute Engine writes a machine's memory: ``7.5 GB`` (its GB being GiB)."""
    gib = memory / GIB
    return f"{int(gib) if gib.denominator == 1 else round(float(gib), 1)} GB"


def _quantity(memory: Fraction) -> str:
    """Bytes as a memory quantity: ``128Gi``, or ``7680Mi``."""
    gib = memory / GIB
    return f"{int(gib)}Gi" if gib.denominator == 1 else f"{int(memory / MIB)}Mi"


def _largest(gpu: str, count: int) -> Shape | None:
    machine = vertex_catalog().gpu_counts.get(gpu, {}).get(count)
    return shape(machine) if machine else None


def _described(found: Shape) -> str:
    return f"{found.machine_type} ({found.vcpus} vCPUs, {_gb(found.memory)})"


def _roomier(gpu: str, cpu: Fraction | None, memory: Fraction | None) -> str:
    """``, or set accelerators: 4 (g2-standard-48 has 48 vCPUs and 192 GB)``: the fewest GPUs of type
    ``gpu`` whose machine holds ``cpu`` and ``memory``, as a hint ends; empty if none does."""
    for count in sorted(vertex_catalog().gpu_counts.get(gpu, {})):
        found = _largest(gpu, count)
        if found and (cpu is None or cpu <= found.vcpus) and (memory is None or memory <= found.memory):
            holds = f"{found.machine_type} has {found.vcpus} vCPUs and {_gb(found.memory)}"
            return f", or set accelerators: {count} ({holds})"
    return ""


def step_limits(resources: Resources, base: Path) -> Iterator[Diagnostic]:
    """A pipeline step placed on Vertex AI: CPUs and memory within what Vertex AI Pipelines gives a step,
    a GPU count some machine carries, and CPUs and memory that fit a machine with those GPUs. ``base`` is
    the step's ``resources``."""
    catalog = vertex_catalog()
    cpu = quantity(resources.cpu) if resources.cpu else None
    memory = quantity(resources.memory) if resources.memory else None
    if cpu is not None and cpu > catalog.step_max_cpu:
        yield Diagnostic(
            "E401",
            f"Vertex AI Pipelines runs a step on at most {catalog.step_max_cpu} CPUs, not {resources.cpu} "
            f"(catalog of {catalog.date})",
            path=(*base, "cpu"),
            hint=f"set cpu to {catalog.step_max_cpu} or less, {_ON_GKE}",
        )
        cpu = None
    if memory is not None and memory > catalog.step_max_memory_gib * GIB:
        yield Diagnostic(
            "E401",
            f"Vertex AI Pipelines gives a step at most {catalog.step_max_memory_gib} GB of memory "
            f"({catalog.step_max_memory_gib}Gi), not {resources.memory} (catalog of {catalog.date})",
            path=(*base, "memory"),
            hint=f"set memory to {catalog.step_max_memory_gib}Gi or less, {_ON_GKE}",
        )
        memory = None
    gpu = resources.accelerator_type
    counts = catalog.gpu_counts.get(gpu) if gpu else None
    if gpu is None or counts is None:
        return  # no GPUs, or a type reported as unknown
    count = resources.accelerators or 1
    if count not in counts:
        yield _count_refused(gpu, count, sorted(counts), base, defaulted=not resources.accelerators)
        return
    largest = _largest(gpu, count)
    if largest is None:
        return
    for field, asked, most, written in (
        ("cpu", cpu, Fraction(largest.vcpus), f"{resources.cpu} CPUs"),
        ("memory", memory, largest.memory, f"{resources.memory} of memory"),
    ):
        if asked is not None and asked > most:
            limit = f"{largest.vcpus}" if field == "cpu" else _quantity(largest.memory)
            yield Diagnostic(
                "E402",
                f"no Vertex AI machine with {gpus(count, gpu)} has {written}: the largest, "
                f"{largest.machine_type}, has {largest.vcpus} vCPUs and {_gb(largest.memory)}",
                path=(*base, field),
                hint=f"set {field} to {limit} or less{_roomier(gpu, cpu, memory)}",
            )


def _count_refused(gpu: str, count: int, counts: list[int], base: Path, defaulted: bool) -> Diagnostic:
    """``count`` GPUs of type ``gpu``, which no machine carries; ``defaulted``: the 1 kfp gives a step that
    names the type only."""
    carried = f"a Vertex AI machine carries {one_of(counts)} {gpu} GPU{'' if counts == [1] else 's'}"
    return Diagnostic(
        "E402",
        f"{carried}, not the 1 a step with acceleratorType but no accelerators gets"
        if defaulted
        else f"{carried}, not {count}",
        path=(*base, "acceleratorType" if defaulted else "accelerators"),
        hint=f"set accelerators to {one_of(counts)}" if len(counts) > 1 else f"set accelerators: {counts[0]}",
    )


def attached_gpus(machine_type: str, accelerators: int, gpu: str, base: Path) -> Iterator[Diagnostic]:
    """A model deployed on ``machine_type`` (of a family ``gpu`` attaches to, without GPUs of its own) with
    ``accelerators`` of ``gpu``: a count such a machine carries, on a machine no larger than the largest
    that carries that many. ``base`` is the variant."""
    counts = vertex_catalog().gpu_counts.get(gpu)
    if counts is None or not accelerators:
        return
    if accelerators not in counts:
        yield _count_refused(gpu, accelerators, sorted(counts), base, defaulted=False)
        return
    largest, machine = _largest(gpu, accelerators), shape(machine_type)
    if largest is None or machine is None:
        return
    if machine.vcpus <= largest.vcpus and machine.memory <= largest.memory:
        return
    fitting = [
        c
        for c in sorted(counts)
        if (found := _largest(gpu, c)) and machine.vcpus <= found.vcpus and machine.memory <= found.memory
    ]
    smaller = f"{machine_type.rsplit('-', 1)[0]}-{largest.vcpus}"
    if smaller not in vertex_catalog().machine_types:
        smaller = largest.machine_type
    yield Diagnostic(
        "E402",
        f"machine type {_described(machine)} is larger than any that carries {gpus(accelerators, gpu)}: "
        f"the largest is {_described(largest)}",
        path=(*base, "machineType"),
        hint=(f"set accelerators to {one_of(fitting)}, or " if fitting else "")
        + f"pick a machine type of at most {largest.vcpus} vCPUs, e.g. {smaller}",
    )
