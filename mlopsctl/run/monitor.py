"""A drift or skew monitor run once on this machine, as its compiled CronJob would run it.

The CronJob's container (command and args, with the monitor's compiled ``--config``) runs as a
local process with ``--dry-run --summary FILE``: it reports each feature's distance against its
threshold and the actions a breach takes, and takes none. With ``act``, a breach starts each
pipeline the monitor retrains, locally and with the retraining parameters the compiled config
passes, through the same path as ``mlopsctl run PIPELINE --local``: a PipelineVersion of Kubeflow
Pipelines, or the template a ``backend: vertex`` entry names (a run on Vertex AI Pipelines in the
cloud). Notifications are only reported (what would be sent, to which channels).
"""

from __future__ import annotations

import json
from typing import Any

from mlopsctl.compiler.kfp_dag import STAGE_PROGRAM
from mlopsctl.graph import JSON, Graph
from mlopsctl.run.compiled import monitor_container, stage_config, template_spec, version_spec
from mlopsctl.run.errors import RunError
from mlopsctl.run.handler import Session
from mlopsctl.run.local import Workspace, run_pipeline
from mlopsctl.run.result import FeatureResult, MonitorResult, PipelineResult


def run_monitor(workspace: Workspace, graph: Graph, name: str, *, act: bool) -> MonitorResult:
    container = monitor_container(graph, name)
    full = [str(part) for part in [*container.get("command", []), *container.get("args", [])]]
    if full[:1] != [STAGE_PROGRAM]:
        raise RunError(f"monitor {name}: its compiled container does not run {STAGE_PROGRAM}")
    config = stage_config(full, f"monitor {name}")
    summary = workspace.out / f"{name}.summary.json"
    summary.unlink(missing_ok=True)
    env = {str(e["name"]): str(e["value"]) for e in container.get("env", []) if "value" in e}
    session = Session(workspace.settings, workspace.code, workspace.out)
    command = [*full, "--dry-run", "--summary", str(summary)]
    if not session.execute(str(container.get("image", "")), command, env, step=name):
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
    runs: dict[str, PipelineResult] = {}
    if act and breached:
        runs = _retrain(workspace, graph, config)
        actions = [
            {**a, "done": True} if a.get("type") == "retrain" and a.get("pipeline") in runs else a
            for a in actions
        ]
    return MonitorResult(name, breached, features, actions, runs)


def _retrain(workspace: Workspace, graph: Graph, config: dict[str, Any]) -> dict[str, PipelineResult]:
    """Run each pipeline the monitor retrains, with the parameters its config passes: a ``start-run``
    config of either backend (docs/stages.md), named as the monitor's summary names its action."""
    runs = {}
    for entry in config.get("retrain") or []:
        if entry.get("backend") == "vertex":
            pipeline = str(entry["displayName"])
            spec = template_spec(graph, str(entry["pipelineSpecUri"]))
        else:
            pipeline = str(entry["pipeline"])
            spec = version_spec(graph, str(entry["pipelineVersion"]))
        runs[pipeline] = run_pipeline(workspace, spec, entry.get("parameters") or {}, pipeline)
    return runs
