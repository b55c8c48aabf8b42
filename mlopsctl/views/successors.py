"""Immutable resources that a change replaces by a new one under a new name.

A Kubeflow PipelineVersion is immutable and named by its content, so changing a pipeline
creates a version and destroys the old one. Shown apart, the plan would print both in full;
paired, it reads as what changed between them.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlopsctl.graph import JSON
from mlopsctl.plan.diff import CREATE, DELETE, ResourceChange

PIPELINE_VERSION = "kubernetes:pipelines.kubeflow.org/v2beta1:PipelineVersion"


def _lineage(inputs: dict[str, JSON] | None) -> tuple[str, str] | None:
    """What a version succeeds: the pipeline it belongs to, in its namespace."""
    if not inputs:
        return None
    spec, metadata = inputs.get("spec"), inputs.get("metadata")
    if not isinstance(spec, dict) or not isinstance(metadata, dict):
        return None
    pipeline, namespace = spec.get("pipelineName"), metadata.get("namespace")
    return (namespace, pipeline) if isinstance(pipeline, str) and isinstance(namespace, str) else None


def successors(changes: Sequence[ResourceChange]) -> dict[str, ResourceChange]:
    """Created address -> the destroyed resource it succeeds, when exactly one of each shares a lineage."""
    created: dict[tuple[str, str], list[ResourceChange]] = {}
    destroyed: dict[tuple[str, str], list[ResourceChange]] = {}
    for c in changes:
        if c.type != PIPELINE_VERSION:
            continue
        side, inputs = (created, c.after) if c.actions == CREATE else (destroyed, c.before)
        key = _lineage(inputs) if c.actions in (CREATE, DELETE) else None
        if key is not None:
            side.setdefault(key, []).append(c)
    return {
        new[0].address: old[0]
        for key, new in created.items()
        if len(new) == 1 and len(old := destroyed.get(key, [])) == 1
    }
