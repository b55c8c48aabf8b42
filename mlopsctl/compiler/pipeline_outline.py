"""Pipelines as an outline, for ``check`` on an install without kfp (the core install).

Policies read the graph's resources, not the specs kfp compiles, so ``check`` still enforces them
when kfp is missing: each pipeline then compiles to an outline of its steps, and the check says so.
Nothing else accepts an outline: plan, render and apply need kfp and say which extra installs it.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from contextvars import ContextVar

from mlopsctl.compiler.kfp_internals import CompiledPipeline
from mlopsctl.config.models.pipelines import Pipeline

_OUTLINED: ContextVar[bool] = ContextVar("outlined", default=False)
SDK_VERSION = "outline (kfp is not installed)"


@contextlib.contextmanager
def outlined_without_kfp() -> Iterator[bool]:
    """Within the block, pipelines compile to outlines if kfp is not installed; yields whether it is not."""
    try:
        missing = importlib.util.find_spec("kfp") is None
    except ModuleNotFoundError:
        missing = True
    token = _OUTLINED.set(missing)
    try:
        yield missing
    finally:
        _OUTLINED.reset(token)


def outline(name: str, pipeline: Pipeline, pipeline_root: str) -> CompiledPipeline | None:
    """The outline of ``pipeline`` (its name, root and steps) when outlines are on, else None."""
    if not _OUTLINED.get():
        return None
    tasks = {step: {"taskInfo": {"name": step}} for step in sorted(pipeline.steps)}
    spec = {
        "defaultPipelineRoot": pipeline_root,
        "pipelineInfo": {"name": name},
        "root": {"dag": {"tasks": tasks}},
        "sdkVersion": SDK_VERSION,
    }
    return CompiledPipeline(spec, None, pipeline.description or None)
