"""A drift or skew monitor run once on this machine, as its compiled CronJob or ModelMonitor would run it.

On GKE, the CronJob's container (command and args, with the monitor's compiled ``--config``) runs as a
local process with ``--dry-run --summary FILE``: it reports each feature's distance against its
threshold and the actions a breach takes, and takes none. A monitor placed on Vertex AI has no
container: the stage runtime's job stands in for Vertex AI Model Monitoring's own, configured from the
compiled ModelMonitor (:mod:`mlopsctl.run.vertex_monitor`), and runs the same way.

With ``act``, a breach starts each pipeline the monitor retrains, locally and with the retraining
parameters the compiled config passes, through the same path as ``mlopsctl run PIPELINE --local``: a
PipelineVersion of Kubeflow Pipelines, or the template a ``backend: vertex`` entry names (a run on
Vertex AI Pipelines in the cloud), or for a ModelMonitor the PipelineJob its retraining workflow
creates. Notifications are only reported (what would be sent, to which channels).
"""

from __future__ import annotations

import json

from mlopsctl.compiler.kfp_dag import STAGE_PROGRAM
from mlopsctl.graph import JSON, Graph
from mlopsctl.run.compiled import Retrain, monitor_container, stage_config
from mlopsctl.run.errors import RunError
from mlopsctl.run.handler import Session
from mlopsctl.run.local import Workspace, run_pipeline
from mlopsctl.run.result import FeatureResult, MonitorResult, PipelineResult
from mlopsctl.run.vertex_monitor import vertex_monitor


def run_monitor(workspace: Workspace, graph: Graph, name: str, *, act: bool) -> MonitorResult:
    vertex = vertex_monitor(graph, name)
    if vertex is not None:
        image, full, env = "", vertex.command, {}
    else:
        container = monitor_container(graph, name)
        image = str(container.get("image", ""))
        full = [str(part) for part in [*container.get("command", []), *container.get("args", [])]]
        env = {
            str(e["name"]): str(e["value"])
            for e in container.get("env", [])
            if isinstance(e, dict) and "name" in e and "value" in e
        }
        if full[:1] != [STAGE_PROGRAM]:
            raise RunError(f"monitor {name}: its compiled container does not run {STAGE_PROGRAM}")
    config = stage_config(full, f"monitor {name}")
    summary = workspace.out / f"{name}.summary.json"
    summary.unlink(missing_ok=True)
    session = Session(workspace.settings, workspace.code, workspace.out)
    command = [*full, "--dry-run", "--summary", str(summary)]
    if not session.execute(image, command, env, step=name):
        return MonitorResult(name, False, {}, [], failure=session.failure())
    report = json.loads(summary.read_text(encoding="utf-8"))
    features = {
        feature: FeatureResult(
            kind=str(found["kind"]),
            distance=None if found.get("distance") is None else float(found["distance"]),
            threshold=float(found["threshold"]),
            breach=bool(found["breach"]),
        )
        for feature, found in report.get("features", {}).items()
    }
    actions: list[dict[str, JSON]] = list(report.get("actions", []))
    breached = bool(report.get("breached"))
    if vertex is not None and breached:  # the notification channel that starts them
        actions += [_action(r) for r in vertex.retrains]
    runs: dict[str, PipelineResult] = {}
    if act and breached:
        retrains = (
            vertex.retrains if vertex is not None else [Retrain.of(e) for e in config.get("retrain") or []]
        )
        runs = _retrain(workspace, graph, retrains)
        actions = [
            {**a, "done": True} if a.get("type") == "retrain" and a.get("pipeline") in runs else a
            for a in actions
        ]
    return MonitorResult(name, breached, features, actions, runs)


def _action(retrain: Retrain) -> dict[str, JSON]:
    return {
        "type": "retrain",
        "pipeline": retrain.pipeline,
        "pipelineVersion": retrain.version,
        "done": False,
    }


def _retrain(workspace: Workspace, graph: Graph, retrains: list[Retrain]) -> dict[str, PipelineResult]:
    """Run each pipeline the monitor retrains, with the parameters it passes, named as the monitor's
    summary names its action."""
    return {
        r.pipeline: run_pipeline(workspace, r.spec(graph), dict(r.parameters), r.pipeline) for r in retrains
    }
