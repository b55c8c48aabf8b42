"""What ``mlopsctl run NAME --local`` runs: a pipeline, a batch job or a drift/skew monitor of one target.

Everything it runs comes from the target's compiled graph (:mod:`mlopsctl.run.compiled`); the
config supplies only what never goes to the cluster: where each image's code is, and the keys
the sample data is filed under. Names, parameters and the sample data are checked before
anything is written.
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from mlopsctl.config.diagnostics import did_you_mean
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.models.monitoring import DataMonitor
from mlopsctl.config.naming import batch_pipeline
from mlopsctl.graph import Graph
from mlopsctl.run.compiled import executor_command, parameter_arguments, pipeline_spec, stage_config
from mlopsctl.run.data import sample_folder, stage_data
from mlopsctl.run.errors import RunError
from mlopsctl.run.local import Workspace, run_pipeline
from mlopsctl.run.result import MonitorResult, PipelineResult


@dataclass(frozen=True)
class LocalRequest:
    name: str
    """A pipeline, a batch job or a drift/skew monitor."""
    out: pathlib.Path
    params: Mapping[str, str] = field(default_factory=dict)
    """``--param K=V``, typed as the pipeline declares its parameters."""
    trials: int = 2
    """How many trials a ``tune`` step runs locally."""
    act: bool = False
    """Monitors: run the retraining pipelines on a breach."""
    data: pathlib.Path | None = None
    """The sample data folder; default ``sample-data`` beside the config."""


def run_local(
    config: MLOpsConfig, graph: Graph, base_dir: pathlib.Path, request: LocalRequest
) -> PipelineResult | MonitorResult:
    """Run ``request.name`` of ``graph``'s target on this machine, writing under ``request.out``."""
    if request.trials < 1:
        raise RunError(f"--local-trials {request.trials}: must be at least 1")
    pipeline = _published_pipeline(config, request)
    if pipeline is None:
        from mlopsctl.run.monitor import run_monitor

        return run_monitor(_prepare(config, graph, base_dir, request), graph, request.name, act=request.act)
    spec = pipeline_spec(graph, pipeline)
    arguments = parameter_arguments(spec, request.params)
    workspace = _prepare(config, graph, base_dir, request)
    if request.name not in config.batch_jobs:
        return run_pipeline(workspace, spec, arguments, request.name)
    from mlopsctl.run.server import model_server

    batch = stage_config(executor_command(spec, "batch-predict"), f"batch job {request.name}")
    with model_server(batch, workspace.root) as endpoints:
        workspace.write_settings(endpoints)
        return run_pipeline(workspace, spec, arguments, request.name)


def _published_pipeline(config: MLOpsConfig, request: LocalRequest) -> str | None:
    """The pipeline that ``request.name`` runs as, or None for a drift/skew monitor."""
    name = request.name
    if name in config.pipelines or name in config.batch_jobs:
        if request.act:
            raise RunError("--act is for monitors: it runs the pipelines a breach retrains")
        return batch_pipeline(name) if name in config.batch_jobs else name
    monitor = config.monitors.get(name)
    if monitor is None:
        known = [*config.pipelines, *config.batch_jobs, *config.monitors]
        hint = did_you_mean(name, known) or f"declared: {', '.join(known) or 'none'}"
        raise RunError(f"{name}: no pipeline, batch job or monitor of that name ({hint})")
    if not isinstance(monitor, DataMonitor):
        vertex = config.placement.monitors == "vertex"
        alert = "a Cloud Monitoring alert policy" if vertex else "a Prometheus rule"
        raise RunError(
            f"monitor {name} is an SLO monitor: {alert} on its endpoint's metrics, "
            "with nothing to run locally"
        )
    if request.params:
        raise RunError("--param is for pipelines: a monitor retrains with actions.retrainParameters")
    return None


def _prepare(config: MLOpsConfig, graph: Graph, base_dir: pathlib.Path, request: LocalRequest) -> Workspace:
    """Copy the sample data into the output folder and write the settings of the run's processes."""
    stored = [e for e in config.data.external.values() if not e.uri.startswith("https://")]
    declares_data = bool(config.data.buckets or config.data.datasets or stored)
    folder = sample_folder(base_dir, request.data, declares_data=declares_data)
    declared = {name: tuple(pipeline.steps) for name, pipeline in config.pipelines.items()}
    workspace = Workspace(request.out.resolve(), code_folders(config, base_dir), request.trials, declared)
    if folder is not None:
        stage_data(config, graph.target, graph.gcp_project, folder, workspace.root)
    workspace.root.mkdir(parents=True, exist_ok=True)
    workspace.write_settings()
    return workspace


def code_folders(config: MLOpsConfig, base_dir: pathlib.Path) -> dict[str, pathlib.Path]:
    """Image → the folder it is built from, for every step with ``code``."""
    found: dict[str, pathlib.Path] = {}
    for pipeline_name, pipeline in config.pipelines.items():
        for step_name, step in pipeline.steps.items():
            if step.code is None or step.image is None:
                continue
            folder = (base_dir / step.code).resolve()
            if found.setdefault(step.image, folder) != folder:
                raise RunError(
                    f"pipelines.{pipeline_name}.steps.{step_name}: image {step.image} is built from "
                    f"{found[step.image]} elsewhere, and from {folder} here"
                )
    return found
