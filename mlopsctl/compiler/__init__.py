"""Compile one validated target into its resource graph: a fixed list of named steps."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

from mlopsctl.compiler import (
    alerting,
    apis,
    bigquery,
    cluster,
    iam,
    identity,
    kms,
    mesh,
    monitoring,
    pipelines,
    platform,
    provenance,
    registry,
    schedules,
    secrets,
    serving,
    storage,
    training,
    vertex_features,
    vertex_pipelines,
    vertex_retrain,
    vertex_serving,
    vertex_tracking,
)
from mlopsctl.compiler.context import BuildContext
from mlopsctl.config.diagnostics import Diagnostic
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.project import Validation
from mlopsctl.config.target import Target
from mlopsctl.config.templates import TemplateError
from mlopsctl.graph import Graph

Step = Callable[[BuildContext], None]


class LimitError(Exception):
    """Compiled resources exceed a limit of the cloud that only they show (E408): the located
    diagnostics, every one of them, before anything is written or applied."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        super().__init__("\n".join(d.to_text() for d in diagnostics))


def _on_gke(step: Step) -> Step:
    """``step`` only where pipelines are placed on GKE (``vertex_pipelines`` compiles the others)."""

    def build(ctx: BuildContext) -> None:
        if ctx.config.placement.pipelines == "gke":
            step(ctx)

    return build


STEPS: tuple[tuple[str, Step], ...] = (
    ("kms", kms.build),
    ("storage", storage.build),
    ("bigquery", bigquery.build),
    ("registry", registry.build),
    ("cluster", cluster.build),
    ("identity", identity.build),
    ("iam", iam.build),
    ("alerting", alerting.build),
    ("training", training.build),
    ("pipelines", _on_gke(pipelines.build)),
    ("vertex-pipelines", vertex_pipelines.build),
    ("vertex-features", vertex_features.build),
    ("vertex-tracking", vertex_tracking.build),
    ("schedules", schedules.build),
    ("secrets", secrets.build),
    ("serving", serving.build),
    ("vertex-serving", vertex_serving.build),
    ("vertex-retrain", vertex_retrain.build),
    ("mesh", mesh.build),
    ("monitoring", monitoring.build),
    ("platform", platform.build),
    ("apis", apis.build),
    ("workload-identity-grants", identity.await_grants),
)


def build_graph(config: MLOpsConfig, target: Target, base_dir: pathlib.Path) -> Graph:
    ctx = BuildContext(config, target, base_dir)
    for _, step in STEPS:
        step(ctx)
    ctx.graph.validate_references()
    return ctx.graph


def compile_graphs(validation: Validation) -> dict[Target, Graph]:
    """The resource graph of every validated target, in declaration order, each object stamped with
    its provenance (``provenance.stamp``): the commit is the one the API read the config at."""
    if not validation.ok or validation.document is None:
        raise ValueError("cannot compile a configuration with errors")
    document = validation.document
    commit = provenance.stamped_commit(validation.source.commit)
    graphs: dict[Target, Graph] = {}
    over: dict[tuple[object, ...], Diagnostic] = {}  # one per line of mlops.yaml, of the first target
    try:
        for t, tc in validation.targets.items():
            graphs[t] = build_graph(tc.config, t, document.base_dir)
            origin = provenance.Origin(validation.source.path.name, document.file, tc.sources, commit)
            provenance.stamp(graphs[t], origin)
            for d in vertex_retrain.oversize_workflows(graphs[t], tc.config):
                located = d.located(tc.sources, key=True)
                over.setdefault((located.code, located.position), located)
    except TemplateError as exc:
        raise exc.shown_from(document.base_dir, document.file) from None
    if over:
        raise LimitError(sorted(over.values(), key=Diagnostic.sort_key))
    return graphs
