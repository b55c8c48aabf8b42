"""The ``--config`` of a ``push`` step: where endpoints are on Vertex AI it also names the registered
model the stage adds the pushed folder to, and the pipeline's account may upload to it."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from helpers import OWNED_STAGED_DATA, compile_text

from mlopsctl.compiler.vertex_pipelines import BUCKET_OBJECT
from mlopsctl.compiler.vertex_tracking import AIPLATFORM_USER
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph

DEV = Target("dev", "us-central1")
EU = Target("prod", "europe-west4")
PIPELINE_VERSION = "kubernetes:pipelines.kubeflow.org/v2beta1:PipelineVersion"
PROJECT_IAM_MEMBER = "gcp:projects/iAMMember:IAMMember"
MODELS = """\
models:
  clf:
    framework: sklearn
    versions:
      v1: {artifactUri: "gs://models-bucket/clf/v1"}
  det:
    framework: onnx
    versions:
      v1: {artifactUri: "gs://models-bucket/det/v1"}
endpoints:
  api:
    variants:
      main: {model: clf, version: v1}
"""
PIPELINE = """\
pipelines:
  train:
    steps:
      ingest:
        kind: ingest
        source: {bigquery: {dataset: features, table: rows}}
        outputs: {examples: dataset}
      fit: {kind: train, image: t:1, command: [fit], inputs: {data: ingest.examples}, outputs: {model: model}}
      check:
        kind: evaluate
        inputs: {model: fit.model, examples: ingest.examples}
        thresholds: {auc_roc: {min: 0.9}}
      push: {kind: push, model: MODEL, inputs: {model: fit.model}, dependsOn: [check]}
"""
LABELS = {"managed-by": "mlopsctl", "mlops-project": "demo", "mlops-model": "clf", "mlops-pipeline": "train"}


def _graphs(tmp_path: pathlib.Path, placement: str, model: str = "clf") -> dict[Target, Graph]:
    text = OWNED_STAGED_DATA + MODELS + PIPELINE.replace("MODEL", model)
    return compile_text(tmp_path, text + (f"placement: {placement}\n" if placement else ""))


def _push_config(graph: Graph) -> dict[str, Any]:
    """The ``--config`` of the push step, from the PipelineVersion (GKE) or the template (Vertex AI)."""
    specs = [r.inputs["spec"]["pipelineSpec"] for r in graph if r.type == PIPELINE_VERSION]
    specs += [json.loads(r.inputs["content"]) for r in graph if r.type == BUCKET_OBJECT]
    [spec] = specs
    args = spec["deploymentSpec"]["executors"]["exec-push"]["container"]["args"]
    return dict(json.loads(args[args.index("--config") + 1]))


def _grants(graph: Graph) -> dict[str, Any]:
    return {
        r.name: (r.inputs["member"], r.source)
        for r in graph
        if r.type == PROJECT_IAM_MEMBER and r.inputs["role"] == AIPLATFORM_USER
    }


@pytest.mark.parametrize("placement", ["{endpoints: vertex}", "{endpoints: vertex, pipelines: vertex}"])
def test_on_vertex_endpoints_push_registers_in_the_model_registry(
    tmp_path: pathlib.Path, placement: str
) -> None:
    graphs = _graphs(tmp_path, placement)
    config = _push_config(graphs[DEV])
    assert config == {
        "model": "clf",
        "framework": "sklearn",
        "registry": "gs://models-bucket/clf/",
        "vertex": {
            "project": "acme-demo-dev",
            "location": "us-central1",
            "modelId": "demo-clf",
            "displayName": "clf",
            "container": {
                "imageUri": "us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-6:latest",
                "ports": [8080],
            },
            "labels": {**LABELS, "mlops-env": "dev", "mlops-region": "us-central1"},
        },
    }
    eu = _push_config(graphs[EU])["vertex"]
    assert (eu["project"], eu["location"]) == ("acme-demo-prod", "europe-west4")
    assert eu["container"]["imageUri"].startswith("europe-docker.pkg.dev/vertex-ai/prediction/")
    account = "pl-train-dev-usc1@acme-demo-dev.iam.gserviceaccount.com"
    assert _grants(graphs[DEV]) == {
        "pipeline-train-aiplatform-user": (
            f"serviceAccount:{account}",
            ("pipelines", "train", "steps", "push"),
        )
    }


@pytest.mark.parametrize(
    ("placement", "model", "grants"),
    [
        ("", "clf", set()),
        ("{pipelines: vertex}", "clf", {("pipelines", "train")}),  # to run on Vertex AI Pipelines
        ("{endpoints: vertex}", "det", set()),
    ],
    ids=["all-on-gke", "pipelines-on-vertex", "no-prebuilt-container"],
)
def test_elsewhere_push_only_copies(
    tmp_path: pathlib.Path, placement: str, model: str, grants: set[tuple[str, ...]]
) -> None:
    graph = _graphs(tmp_path, placement, model)[DEV]
    config = _push_config(graph)
    assert set(config) == {"model", "framework", "registry"} and config["model"] == model
    assert {source for _, source in _grants(graph).values()} == grants


def test_the_grant_goes_to_the_account_the_pipeline_runs_as(tmp_path: pathlib.Path) -> None:
    shared = "security:\n  serviceAccounts:\n    shared: {}\n"
    text = (
        OWNED_STAGED_DATA
        + MODELS
        + PIPELINE.replace("MODEL", "clf").replace(
            "  train:\n    steps:", "  train:\n    serviceAccount: shared\n    steps:"
        )
    )
    graph = compile_text(tmp_path, text + shared + "placement: {endpoints: vertex}\n")[DEV]
    [(member, _)] = _grants(graph).values()
    assert member == "serviceAccount:sa-shared-dev-usc1@acme-demo-dev.iam.gserviceaccount.com"


def test_with_the_default_key_pushed_versions_are_encrypted_as_declared_ones_are(
    tmp_path: pathlib.Path,
) -> None:
    text = OWNED_STAGED_DATA + MODELS + PIPELINE.replace("MODEL", "clf")
    text += "placement: {endpoints: vertex}\nsecurity:\n  kms:\n    data: {}\n  defaultKmsKey: data\n"
    graph = compile_text(tmp_path, text)[DEV]
    key = "projects/acme-demo-dev/locations/us-central1/keyRings/demo-dev/cryptoKeys/data"
    assert _push_config(graph)["vertex"]["kmsKeyName"] == key
    [version] = [r for r in graph if r.type == "mlopsctl:vertex/modelVersion:ModelVersion"]
    assert version.inputs["kmsKeyName"] == key


def test_a_model_served_on_gpus_is_pushed_with_the_gpu_container(tmp_path: pathlib.Path) -> None:
    """The versions push registers serve as the model's declared ones do: on GPUs, from the GPU build."""
    text = OWNED_STAGED_DATA + MODELS.replace("framework: sklearn", "framework: pytorch").replace(
        "main: {model: clf, version: v1}",
        "main: {model: clf, version: v1, machineType: g2-standard-4, accelerators: 1,"
        " acceleratorType: NVIDIA_L4}",
    )
    graphs = compile_text(
        tmp_path, text + PIPELINE.replace("MODEL", "clf") + "placement: {endpoints: vertex}\n"
    )
    image = _push_config(graphs[DEV])["vertex"]["container"]["imageUri"]
    assert image == "us-docker.pkg.dev/vertex-ai/prediction/pytorch-gpu.2-4:latest"
