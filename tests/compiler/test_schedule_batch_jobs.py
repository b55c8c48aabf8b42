"""Batch jobs: one-step pipelines on their node pool, published, scheduled or not."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from schedule_cases import BATCH, DEV, PROD_EU, _config, _cronjobs, _example, _graphs, _validation, _version

from mlopsctl.graph import Graph


def test_batch_job_is_a_one_step_pipeline_on_its_node_pool() -> None:
    spec = _version(_example("sensor-anomaly")[PROD_EU], "batch-daily-scores").inputs["spec"]
    parsed = json_format.ParseDict(spec["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    json_format.ParseDict(spec["platformSpec"], pipeline_spec_pb2.PlatformSpec())
    assert parsed.pipeline_info.name == "batch-daily-scores"
    [task] = spec["pipelineSpec"]["root"]["dag"]["tasks"].values()
    assert task["cachingOptions"] == {}
    [executor] = spec["pipelineSpec"]["deploymentSpec"]["executors"].values()
    assert executor["container"]["image"] == "europe-docker.pkg.dev/acme-plant/sensors/stages:2.3.0"
    assert executor["container"]["command"] == ["mlopsctl-stage", "batch-predict"]
    assert executor["container"]["args"][0] == "--config"
    [k8s] = spec["platformSpec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"].values()
    assert k8s["nodeSelector"] == {"labels": {"cloud.google.com/gke-nodepool": "highmem"}}
    assert k8s["tolerations"] == [
        {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ]
    # It calls the endpoint through the mesh (STRICT mTLS), so it runs with a sidecar that lets it finish.
    assert k8s["podMetadata"] == {
        "labels": {"sidecar.istio.io/inject": "true"},
        "annotations": {"sidecar.istio.io/nativeSidecar": "true"},
    }


def _batch_executor(graph: Graph) -> dict[str, Any]:
    spec = _version(graph, "batch-nightly").inputs["spec"]
    [executor] = spec["pipelineSpec"]["deploymentSpec"]["executors"].values()
    return dict(executor["container"])


def test_batch_job_without_schedule_is_published_and_not_scheduled(tmp_path: pathlib.Path) -> None:
    graph = _graphs(tmp_path, _config(BATCH))[DEV]
    assert _cronjobs(graph) == {}
    container = _batch_executor(graph)
    assert container["command"] == ["mlopsctl-stage", "batch-predict"]
    [flag, config] = container["args"]
    assert flag == "--config"
    assert json.loads(config) == {
        "model": {"name": "scorer", "version": "v1", "uri": "gs://models/scorer/v1", "framework": "sklearn"},
        "endpoint": {
            "url": "http://api-main-predictor.demo.svc.cluster.local",
            "protocol": "v1",
            "modelName": "api-main",
        },
        "input": {"gcs": "gs://demo-dev-us-central1-raw/incoming/"},
        "output": {"bigquery": {"table": "acme-demo-dev.features_dev_us_central1.scores"}},
        "batchSize": 64,
        "concurrency": 4,
        "retries": 3,
    }
    assert "accelerator" not in container.get("resources", {})


@pytest.mark.parametrize(
    ("endpoints", "protocol", "url"),
    [
        # The first variant serving the version over HTTP; Triton speaks v2.
        (
            "endpoints:\n"
            "  grpc-only: {protocols: [grpc], variants: {main: {model: scorer, version: v1}}}\n"
            "  api:\n"
            "    rollout: {strategy: canary, baseline: old, candidate: new, steps: [10, 100]}\n"
            "    variants:\n"
            "      old: {model: scorer, version: v0}\n"
            "      new: {model: scorer, version: v1}\n",
            "v2",
            "http://api-new-predictor.demo.svc.cluster.local",
        ),
        # A step of an inference graph serves it too.
        (
            "endpoints:\n  chain:\n    graph:\n      steps:\n"
            "        first: {model: scorer, version: v0}\n        second: {model: scorer, version: v1}\n",
            "v2",
            "http://chain-second-predictor.demo.svc.cluster.local",
        ),
    ],
)
def test_batch_job_calls_an_endpoint_serving_its_version(
    tmp_path: pathlib.Path, endpoints: str, protocol: str, url: str
) -> None:
    batch = BATCH.replace(
        '      v1: {artifactUri: "gs://models/scorer/v1"}\n',
        '      v0: {artifactUri: "gs://models/scorer/v0"}\n      v1: {artifactUri: "gs://models/scorer/v1"}\n',
    ).replace("sklearn", "onnx")
    batch = batch.replace("endpoints:\n  api: {variants: {main: {model: scorer, version: v1}}}\n", endpoints)
    config = json.loads(_batch_executor(_graphs(tmp_path, _config(batch))[DEV])["args"][1])
    assert (config["endpoint"]["url"], config["endpoint"]["protocol"]) == (url, protocol)


def test_batch_pipeline_name_must_be_free(tmp_path: pathlib.Path) -> None:
    pipeline = "pipelines:\n  batch-nightly:\n    steps: {s: {image: 'x:1', command: [run]}}\n"
    validation = _validation(tmp_path, _config(BATCH, pipeline))
    [diagnostic] = [d for d in validation.diagnostics if d.code == "E310"]
    assert diagnostic.to_dict()["path"] == "pipelines.batch-nightly"
    assert "batch job 'nightly'" in diagnostic.message
