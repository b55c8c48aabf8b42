"""What ``mlopsctl run NAME --env E`` (without ``--local``) does: one run of a published pipeline, on the
target where the environment places its pipelines (``placement.pipelines``).

- ``vertex``: a PipelineJob on Vertex AI Pipelines (:mod:`mlopsctl.run.submit_vertex`);
- ``gke``: a run of the published PipelineVersion on Kubeflow Pipelines (:mod:`mlopsctl.run.submit_kfp`).

What the run starts and how comes from the compiled graph, through the compiler's own accessors (the
template, run config and labels schedules use on Vertex AI; the PipelineVersion and accounts on GKE),
so a submitted run is the run a schedule would start. Names and parameters are checked before any
client is built.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from mlopsctl.compiler.context import BuildContext
from mlopsctl.config.diagnostics import did_you_mean
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.graph import JSON, Graph
from mlopsctl.run.compiled import parameter_arguments
from mlopsctl.run.errors import RunError

RunTarget = Literal["gke", "vertex"]
KFP_HOST_ENV = "MLOPSCTL_KFP_HOST"
KFP_TOKEN_ENV = "MLOPSCTL_KFP_TOKEN"


@dataclass(frozen=True)
class KfpApi:
    """Where the Kubeflow Pipelines API is reached from this machine, and the bearer token to send."""

    host: str | None = None
    """The KFP UI or API server URL (``http://localhost:8080`` through a port-forward); default:
    ``$MLOPSCTL_KFP_HOST``."""
    token: str | None = None
    """Default: ``$MLOPSCTL_KFP_TOKEN``, if set (multi-user KFP takes a token for the audience
    ``pipelines.kubeflow.org``)."""

    def resolved(self) -> KfpApi:
        """With what the environment variables give for what is not set."""
        return KfpApi(self.host or os.environ.get(KFP_HOST_ENV), self.token or os.environ.get(KFP_TOKEN_ENV))


@dataclass(frozen=True)
class SubmittedRun:
    """A run submitted to the environment's pipelines target: where it runs and its page there."""

    pipeline: str
    target: RunTarget
    env: str
    region: str
    run_id: str
    link: str
    display_name: str
    parameters: dict[str, JSON]
    """What the run was given: the pipeline's ``parameters`` overlaid with ``--param``, typed."""
    source: str
    """What it runs: the template object (``gs://…``, Vertex AI) or the PipelineVersion (GKE)."""

    def to_json(self) -> dict[str, JSON]:
        return {
            "pipeline": self.pipeline,
            "target": self.target,
            "env": self.env,
            "region": self.region,
            "runId": self.run_id,
            "displayName": self.display_name,
            "link": self.link,
            "parameters": self.parameters,
            "source": self.source,
        }

    def summary(self) -> str:
        where = "Vertex AI Pipelines" if self.target == "vertex" else "Kubeflow Pipelines"
        return (
            f"Submitted run {self.run_id} of pipeline {self.pipeline} ({self.source}) "
            f"to {where} in {self.env}/{self.region}."
        )


def compiled_context(config: MLOpsConfig, graph: Graph, base_dir: pathlib.Path) -> BuildContext:
    """The build context of an already compiled ``graph``: what the compiler's accessors read."""
    ctx = BuildContext(config, graph.target, base_dir)
    ctx.graph = graph
    return ctx


def submit(
    config: MLOpsConfig,
    graph: Graph,
    base_dir: pathlib.Path,
    name: str,
    params: Mapping[str, str],
    kfp: KfpApi,
) -> SubmittedRun:
    """Submit one run of the pipeline ``name`` of ``graph``'s target, with ``--param`` values ``params``."""
    _check_pipeline(config, name)
    ctx = compiled_context(config, graph, base_dir)
    if config.placement.pipelines == "vertex":
        from mlopsctl.run.submit_vertex import submit_vertex

        return submit_vertex(ctx, name, params)
    from mlopsctl.run.submit_kfp import submit_kfp

    return submit_kfp(ctx, name, params, kfp)


def run_parameters(
    config: MLOpsConfig, pipeline: str, spec: Mapping[str, JSON], given: Mapping[str, str]
) -> dict[str, JSON]:
    """The pipeline's ``parameters`` overlaid with ``given``, checked and typed against its compiled spec."""
    return {**config.pipelines[pipeline].parameters, **parameter_arguments(spec, given)}


def _check_pipeline(config: MLOpsConfig, name: str) -> None:
    if name in config.pipelines:
        return
    if name in config.batch_jobs:
        raise RunError(
            f"batch job {name}: mlopsctl run submits pipelines only; a batch job runs on its schedule "
            "(add --local to run it on this machine)"
        )
    if name in config.monitors:
        raise RunError(
            f"monitor {name}: mlopsctl run submits pipelines only; a monitor runs on its schedule "
            "(add --local to run it on this machine)"
        )
    hint = did_you_mean(name, config.pipelines) or f"declared: {', '.join(config.pipelines) or 'none'}"
    raise RunError(f"{name}: no pipeline of that name ({hint})")
