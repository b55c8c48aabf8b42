"""A release's pins: which config values make up a release, and applying them in compilation.

A release is the model version each endpoint variant, inference-graph step and batch
job serves, the image of each pipeline step that names one, and ``project.stageImage``.
Pins are read from the document after overlays and before ``${...}`` expansion, so
the lock records what is written (``image@sha256:...`` stays as given).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlopsctl.config.diagnostics import Diagnostic, Severity
from mlopsctl.config.lock import LockEntry, Pin
from mlopsctl.config.sourcemap import SourceMap


def release_pins(data: dict[str, Any]) -> dict[str, str]:
    """The pins of the document ``data`` (overlays merged, variables not expanded): path → value."""
    return {".".join(path): value for path, value, _ in sorted(_slots(data))}


def _slots(data: dict[str, Any]) -> Iterator[tuple[tuple[str, ...], str, str | None]]:
    """Every pinnable value: its path, its value and, for a model version, the model it belongs to."""
    project = _dict(data.get("project"))
    if isinstance(project.get("stageImage"), str):
        yield ("project", "stageImage"), project["stageImage"], None
    for name, pipeline in _dict(data.get("pipelines")).items():
        for step_name, step in _dict(_dict(pipeline).get("steps")).items():
            if isinstance(_dict(step).get("image"), str):
                yield ("pipelines", name, "steps", step_name, "image"), step["image"], None
    for name, endpoint in _dict(data.get("endpoints")).items():
        endpoint = _dict(endpoint)
        for variant, spec in _dict(endpoint.get("variants")).items():
            yield from _version(("endpoints", name, "variants", variant), spec)
        for step_name, spec in _dict(_dict(endpoint.get("graph")).get("steps")).items():
            yield from _version(("endpoints", name, "graph", "steps", step_name), spec)
    for name, job in _dict(data.get("batchJobs")).items():
        yield from _version(("batchJobs", name), job)


def _version(path: tuple[str, ...], spec: Any) -> Iterator[tuple[tuple[str, ...], str, str | None]]:
    spec = _dict(spec)
    if isinstance(spec.get("version"), str) and isinstance(spec.get("model"), str):
        yield (*path, "version"), spec["version"], spec["model"]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def apply_pins(data: dict[str, Any], sources: SourceMap, entry: LockEntry) -> list[Diagnostic]:
    """Set each pinned value in ``data`` (positions point at the lock), refusing stale pins.

    A pin whose place is gone from the config (a removed variant or step) is ignored
    with a warning; a pinned model version the config no longer declares is an error
    (E313, which stands for the reference checks' finding about the same value).
    """
    slots = {".".join(path): model for path, _, model in _slots(data)}
    models = _dict(data.get("models"))
    found: list[Diagnostic] = []
    for dotted, pin in sorted(entry.pins.items()):
        if dotted not in slots:
            found.append(_stale("W302", f"the pin {dotted} has no place in the config: ignored", pin, dotted))
            continue
        model = slots[dotted]
        if model is not None and pin.value not in _dict(_dict(models.get(model)).get("versions")):
            message = f"{dotted} is pinned to version '{pin.value}' of model '{model}', which is not declared"
            found.append(_stale("E313", message, pin, dotted))
        parts = tuple(dotted.split("."))
        _set(data, parts, pin.value)
        if pin.position is not None:
            sources.values[parts] = pin.position
    return found


def _stale(code: str, message: str, pin: Pin, dotted: str) -> Diagnostic:
    return Diagnostic(
        code,
        message,
        tuple(dotted.split(".")),
        hint="promote a release that fits the config (mlopsctl promote), or restore what the pin names",
        severity=Severity.WARNING if code.startswith("W") else Severity.ERROR,
        position=pin.position,
    )


def _set(data: dict[str, Any], path: tuple[str, ...], value: str) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value
