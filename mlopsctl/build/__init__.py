"""Compile one validated target into its resource graph: a fixed list of named steps."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

from mlopsctl.build import bigquery, identity, kms, pipelines, storage
from mlopsctl.build.context import BuildContext
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.graph import Graph, Target

Step = Callable[[BuildContext], None]
STEPS: tuple[tuple[str, Step], ...] = (
    ("kms", kms.build),
    ("storage", storage.build),
    ("bigquery", bigquery.build),
    ("identity", identity.build),
    ("pipelines", pipelines.build),
)


def build_graph(config: MLOpsConfig, target: Target, base_dir: pathlib.Path) -> Graph:
    ctx = BuildContext(config, target, base_dir)
    for _, step in STEPS:
        step(ctx)
    ctx.graph.validate_references()
    return ctx.graph
