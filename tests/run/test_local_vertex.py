"""Local runs of an environment that places its pipelines on Vertex AI, and of tracked steps.

A Vertex AI pipeline has no PipelineVersion: a local run takes the PipelineSpec its published
template object holds, and a drift monitor's ``backend: vertex`` retrain entry names that
template. Steps compiled to log to Vertex AI (``tracking``) run without the tracking variables.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any, Unpack

import pytest
from api_helpers import LocalOptions, run_locally
from helpers import compile_text
from run_projects import HEAD, LOGGED_SCORER, drift_tables, project

from mlopsctl.compiler.pipelines import PIPELINE_VERSION
from mlopsctl.compiler.vertex_pipelines import BUCKET_OBJECT
from mlopsctl.graph import Graph
from mlopsctl.run.compiled import pipeline_spec, template_spec
from mlopsctl.run.errors import RunError
from mlopsctl.run.handler import process_env
from mlopsctl.run.result import MonitorResult, PipelineResult

TENSORBOARD = "projects/acme-demo-dev/locations/us-central1/tensorboards/demo-dev-us-central1"
VERTEX = (
    HEAD
    + """\
placement:
  pipelines: vertex
tracking:
  experiments: true
  tensorboard: true
"""
    + LOGGED_SCORER
    + """\
pipelines:
  retrain:
    parameters:
      reason: scheduled
    steps:
      fit:
        kind: train
        image: reg/demo:1
        code: code
        command: [python, fit.py]
        inputs:
          reason: params.reason
        outputs:
          model: model
monitors:
  amount-drift:
    type: drift
    endpoint: scorer
    baseline:
      dataset: serving
      table: baseline
    features:
      amount: {kind: numeric, threshold: 0.1}
    schedule:
      cron: "0 * * * *"
    actions:
      retrain: retrain
      retrainParameters:
        reason: drift
"""
)
FIT = {
    "fit.py": """\
        import argparse, json, os, pathlib
        p = argparse.ArgumentParser()
        p.add_argument("--reason")
        p.add_argument("--model")
        a = p.parse_args()
        model = pathlib.Path(a.model)
        model.mkdir(parents=True)
        tracking = {k: v for k, v in os.environ.items() if k.startswith(("MLOPSCTL_EXP", "MLOPSCTL_TENS"))}
        (model / "seen.json").write_text(json.dumps({"reason": a.reason, "tracking": tracking}))
    """
}
"""A train step that writes what it was given: its parameter, and the tracking variables it sees."""


def _graph(folder: pathlib.Path) -> Graph:
    project(folder, VERTEX, FIT)
    graphs = compile_text(folder, VERTEX)
    return next(graph for target, graph in graphs.items() if target.region == "us-central1")


def _run(folder: pathlib.Path, name: str, **options: Unpack[LocalOptions]) -> PipelineResult | MonitorResult:
    return run_locally(project(folder, VERTEX, FIT), name, folder / "out", **options)


def _seen(result: PipelineResult | MonitorResult) -> dict[str, Any]:
    assert isinstance(result, PipelineResult)
    model = result.steps["fit"].outputs["model"]
    assert isinstance(model, str)
    seen: dict[str, Any] = json.loads((pathlib.Path(model) / "seen.json").read_text())
    return seen


def test_the_spec_is_the_templates_when_pipelines_are_on_vertex(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path)
    assert not [r for r in graph if r.type == PIPELINE_VERSION]
    (template,) = [r for r in graph if r.type == BUCKET_OBJECT]
    spec = pipeline_spec(graph, "retrain")
    assert spec == json.loads(template.inputs["content"])
    assert template_spec(graph, f"gs://{template.inputs['bucket']}/{template.inputs['name']}") == spec
    # What a local run must not pass on: the compiled step logs to Vertex AI.
    (executor,) = spec["deploymentSpec"]["executors"].values()
    assert {"name": "MLOPSCTL_TENSORBOARD", "value": TENSORBOARD} in executor["container"]["env"]


def test_an_unknown_template_is_an_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(RunError, match=r"no pipeline template gs://elsewhere/x.json in dev/us-central1"):
        template_spec(_graph(tmp_path), "gs://elsewhere/x.json")


def test_a_vertex_pipeline_runs_locally_without_tracking(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Set where mlopsctl runs, too: a local step gets neither the compiled variables nor these.
    monkeypatch.setenv("MLOPSCTL_EXPERIMENT", "projects/p/locations/l/metadataStores/default/contexts/e")
    result = _run(tmp_path, "retrain", params={"reason": "manual"})
    assert isinstance(result, PipelineResult) and result.ok
    assert result.steps["fit"].status == "succeeded"
    assert _seen(result) == {"reason": "manual", "tracking": {}}
    note = (
        f"[fit] tracking is off in local runs: not logging to Vertex AI (MLOPSCTL_TENSORBOARD={TENSORBOARD})"
    )
    assert note in capsys.readouterr().err


def test_a_monitor_retrains_a_vertex_pipeline_from_its_template(tmp_path: pathlib.Path) -> None:
    drift_tables(tmp_path, serving_mean=30)
    result = _run(tmp_path, "amount-drift", act=True)
    assert isinstance(result, MonitorResult) and result.ok
    graph = _graph(tmp_path)
    (template,) = [r for r in graph if r.type == BUCKET_OBJECT]
    assert result.actions == [
        {"type": "notify", "event": "drift-breach", "channels": [], "done": False},
        {
            "type": "retrain",
            "pipeline": "retrain",
            "pipelineVersion": f"gs://{template.inputs['bucket']}/{template.inputs['name']}",
            "done": True,
        },
    ]
    assert list(result.runs) == ["retrain"]
    assert _seen(result.runs["retrain"]) == {"reason": "drift", "tracking": {}}


@pytest.mark.parametrize(
    ("outside", "step", "expected"),
    [
        ({}, {"A": "1"}, {"A": "1"}),
        ({}, {"A": "1", "MLOPSCTL_EXPERIMENT": "x", "MLOPSCTL_TENSORBOARD": "y"}, {"A": "1"}),
        ({"MLOPSCTL_EXPERIMENT": "x", "B": "2"}, {"A": "1"}, {"A": "1", "B": "2"}),
        ({"MLOPSCTL_TENSORBOARD": "y", "A": "0"}, {"A": "1"}, {"A": "1"}),
    ],
)
def test_process_env_withholds_the_tracking_variables(
    monkeypatch: pytest.MonkeyPatch, outside: dict[str, str], step: dict[str, str], expected: dict[str, str]
) -> None:
    for key in ("A", "B", "MLOPSCTL_EXPERIMENT", "MLOPSCTL_TENSORBOARD"):
        monkeypatch.delenv(key, raising=False)
    for key, value in outside.items():
        monkeypatch.setenv(key, value)
    found = process_env(step)
    assert {
        k: v for k, v in found.items() if k in {"A", "B", "MLOPSCTL_EXPERIMENT", "MLOPSCTL_TENSORBOARD"}
    } == (expected)
