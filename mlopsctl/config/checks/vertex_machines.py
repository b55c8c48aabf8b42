"""The accelerators of a model deployed on Vertex AI (E402): a machine type with N GPUs built in (a2, a3,
g2) takes their type and 1 to N of them, and an accelerator type needs its count.

``data/vertex.json`` records the GPU type and count built into each such machine type
(``builtInAccelerators``). Vertex AI's MachineSpec lets a deployed model on such a machine ask for fewer
GPUs than it has (``acceleratorCount`` from 1 to N); at N/2 or fewer, Vertex AI places several replicas on
one machine and shares its CPUs and memory between them. Its deploy call takes both or neither of
``acceleratorType`` and ``acceleratorCount`` and has no default count (google-cloud-aiplatform refuses one
without the other), so a type without ``accelerators`` would deploy without the GPU.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlopsctl.config.diagnostics import Diagnostic
from mlopsctl.config.sourcemap import Path
from mlopsctl.config.vertex_catalog import vertex_catalog
from mlopsctl.config.wording import with_article


def built_in_gpus() -> dict[str, tuple[str, int]]:
    """Machine type -> the accelerator type and count built into it."""
    return vertex_catalog().built_in_gpus


def gpus(count: int, gpu: str) -> str:
    """``1 NVIDIA_L4 GPU``, ``2 NVIDIA_L4 GPUs``."""
    return f"{count} {gpu} GPU{'' if count == 1 else 's'}"


def machines_for(gpu: str, count: int) -> list[str]:
    """The machine types that carry ``count`` GPUs of type ``gpu``: those with exactly them built in,
    else those of the families the type attaches to (without GPUs of their own)."""
    built_in = [m for m, (g, c) in built_in_gpus().items() if g == gpu and c == count]
    if built_in or any(g == gpu for g, _ in built_in_gpus().values()):
        return built_in
    families = vertex_catalog().accelerator_families.get(gpu, ())
    return [m for m in vertex_catalog().machine_types if m.split("-")[0] in families]


def one_of(machines: list[str]) -> str:
    """``a2-highgpu-1g`` or ``one of g2-standard-4, g2-standard-8``."""
    return machines[0] if len(machines) == 1 else f"one of {', '.join(machines)}"


def _elsewhere(gpu: str, count: int) -> str:
    """Where ``count`` GPUs of type ``gpu`` can be had instead, as a hint ends: ``, or ...``."""
    machines = machines_for(gpu, count)
    if not machines:
        return ""
    if machines[0] in built_in_gpus():
        return f", or for {gpus(count, gpu)} use {one_of(machines)}"
    return f", or put {gpu} on {with_article(machines[0].split('-')[0])} machine type, e.g. {machines[0]}"


def built_in_accelerators(
    machine: str, accelerators: int, accelerator_type: str | None, base: Path
) -> Iterator[Diagnostic]:
    """``machine`` (which has GPUs built in) with what a variant asks for: the same type, and at least one
    and at most as many as are built in."""
    gpu, count = built_in_gpus()[machine]
    if accelerator_type == gpu and 1 <= accelerators <= count:
        return
    has = f"machine type {machine} has {gpus(count, gpu)} built in"
    if count == 1:
        right = f"set accelerators: 1 and acceleratorType: {gpu}"
    elif accelerator_type == gpu:
        right = f"set accelerators from 1 to {count}"
    elif 1 <= accelerators <= count:
        right = f"set acceleratorType: {gpu}"
    else:
        right = f"set acceleratorType: {gpu} and accelerators from 1 to {count}"
    if accelerator_type is None and not accelerators:
        field, what = "machineType", f"{has}, but the variant names no accelerators: Vertex AI needs them"
        hint = f"{right}, or pick a machine type without GPUs, e.g. n1-standard-4"
    elif accelerator_type != gpu:
        field = "acceleratorType" if accelerator_type else "accelerators"
        what = f"{has}, not {accelerator_type}" if accelerator_type else f"{has}: acceleratorType is missing"
        hint = right + (_elsewhere(accelerator_type, accelerators or 1) if accelerator_type else "")
    else:
        field = "accelerators" if accelerators else "acceleratorType"
        what = f"{has}, not {accelerators}" if accelerators else f"{has}: accelerators (the count) is missing"
        hint = right + (_elsewhere(gpu, accelerators) if accelerators else "")
    yield Diagnostic("E402", what, path=(*base, field), hint=hint)


def count_missing(accelerators: int, accelerator_type: str | None, base: Path) -> Iterator[Diagnostic]:
    """An accelerator type without a count: Vertex AI would deploy the model without the GPU."""
    if accelerator_type is not None and not accelerators:
        yield Diagnostic(
            "E402",
            f"acceleratorType {accelerator_type} without accelerators: Vertex AI would deploy no GPU",
            path=(*base, "acceleratorType"),
            hint="set accelerators to the GPUs per replica, e.g. accelerators: 1 (Vertex AI takes the "
            "type and the count together and has no default count), or remove acceleratorType",
        )


def machine_hint(accelerator_type: str, accelerators: int, families: tuple[str, ...]) -> str:
    """How to give ``accelerators`` GPUs of ``accelerator_type`` a machine type of its ``families``."""
    machines = machines_for(accelerator_type, accelerators or 1)
    if machines and machines[0] in built_in_gpus():
        return f"set machineType to {one_of(machines)}, with the GPU built in"
    if machines:
        return f"set machineType to {with_article(families[0])} machine type, e.g. {machines[0]}"
    counts = sorted({c for g, c in built_in_gpus().values() if g == accelerator_type})
    listed = ", ".join(map(str, counts))
    return (
        f"{families[0]} machine types have {listed} of them built in: set machineType and accelerators to one"
    )


def same_family(machine_type: str, known: tuple[str, ...]) -> list[str]:
    """The machine types of ``machine_type``'s family (``n1``, ``ct5lp``): the only ones worth suggesting."""
    family = machine_type.split("-")[0] + "-"
    return [m for m in known if m.startswith(family)]
