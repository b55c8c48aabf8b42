"""End to end: what the compiler gives a drift monitor on GKE that retrains pipelines placed on Vertex
AI, run by the stage runtime against a fake Cloud Storage (the published templates) and a fake Vertex AI
API: one PipelineJob per pipeline, of its published template, as its own account, with its pipeline
root, run labels and the retraining parameters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import fake_gcs_api
import pytest
import vertex_stage_fake
from fake_gcs_api import FakeGcs
from helpers import compile_text
from vertex_stage_fake import FakeVertex

from mlopsctl.config.target import Target
from mlopsctl.graph import Graph
from mlopsctl_stage import runs
from mlopsctl_stage.errors import StageError

CONFIG = """\
apiVersion: mlopsctl.dev/v1alpha1
kind: MLOpsProject
project: {name: demo, owner: ml-team@acme.example, stageImage: "stages:1"}
environments:
  dev: {gcpProject: acme-demo-dev, regions: [us-central1]}
data:
  datasets:
    logs: {}
    features: {tables: {base: {}}}
models:
  m: {framework: sklearn, versions: {v1: {artifactUri: "gs://acme-models/m/1"}}}
endpoints:
  api:
    variants: {main: {model: m, version: v1}}
    logging: {dataset: logs}
pipelines:
  train:
    parameters: {epochs: 10, lr: 0.1}
    steps: {fit: {image: "fit:1", command: [fit], inputs: {epochs: params.epochs, lr: params.lr}}}
monitors:
  watch:
    type: drift
    endpoint: api
    baseline: {dataset: features, table: base}
    features: {x: {kind: numeric}}
    schedule: {cron: "0 3 * * *"}
    actions: {retrain: train, retrainParameters: {epochs: 30}}
placement: {pipelines: vertex}
"""
DEV = Target("dev", "us-central1")


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    graphs: dict[Target, Graph] = compile_text(tmp_path_factory.mktemp("retrain"), CONFIG)
    return graphs[DEV]


@pytest.fixture
def clouds(graph: Graph, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeGcs, FakeVertex]]:
    """Cloud Storage holding the graph's template objects, and Vertex AI."""
    monkeypatch.delenv("MLOPSCTL_STAGE_LOCAL", raising=False)
    with fake_gcs_api.serve() as gcs:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.url)
        for r in graph:
            if r.type == "gcp:storage/bucketObject:BucketObject":
                gcs.put(r.inputs["bucket"], r.inputs["name"], r.inputs["content"].encode())
        for vertex in vertex_stage_fake.serve():
            monkeypatch.setenv("MLOPSCTL_VERTEX_ENDPOINT", vertex.url)
            yield gcs, vertex


def _retrain(graph: Graph) -> list[dict[str, Any]]:
    cronjob = graph.resources[f"{DEV}/kubernetes:batch/v1:CronJob/watch"]
    [container] = cronjob.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    entries: list[dict[str, Any]] = json.loads(container["args"][1])["retrain"]
    return entries


def test_the_monitors_retrain_starts_the_published_template_on_vertex_ai(
    graph: Graph, clouds: tuple[FakeGcs, FakeVertex]
) -> None:
    _, vertex = clouds
    [entry] = _retrain(graph)
    target = runs.from_config(entry, "retrain[0]")  # as the drift stage reads it
    started = target.start()
    [call] = vertex.created_jobs()
    assert call.path == "/v1/projects/acme-demo-dev/locations/us-central1/pipelineJobs"
    job = call.body
    template = graph.resources[f"{DEV}/gcp:storage/bucketObject:BucketObject/pipeline-train"]
    assert job["pipelineSpec"] == json.loads(template.inputs["content"])
    assert job["serviceAccount"] == "pl-train-dev-usc1@acme-demo-dev.iam.gserviceaccount.com"
    assert job["runtimeConfig"]["gcsOutputDirectory"].startswith("gs://demo-dev-us-central1-pipeline-root/")
    assert job["runtimeConfig"]["parameterValues"] == {"epochs": 30, "lr": 0.1}
    assert job["labels"]["mlops-pipeline"] == "train" and job["labels"]["mlops-env"] == "dev"
    assert started.link is not None and started.run_id in started.link


def test_a_template_it_cannot_read_starts_no_job(graph: Graph, clouds: tuple[FakeGcs, FakeVertex]) -> None:
    _, vertex = clouds
    [entry] = _retrain(graph)
    entry = {**entry, "pipelineSpecUri": entry["pipelineSpecUri"].replace(".json", "-gone.json")}
    with pytest.raises(StageError, match="pipelineSpecUri"):
        runs.from_config(entry, "retrain[0]").start()
    assert vertex.created_jobs() == []
