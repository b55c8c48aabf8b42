"""Vertex AI pulls a pipeline's step images as the project's Vertex AI service agent, and Cloud Run the
image of its jobs as Cloud Run's: from another project's Artifact Registry repository only with
``roles/artifactregistry.reader`` there."""

from __future__ import annotations

import pathlib

from helpers import OWNED_STAGED_DATA, compile_text
from vertex_pipeline_cases import DEV, PIPELINE, TRIGGERS, VERTEX

from mlopsctl.compiler.registry import REPOSITORY_IAM_MEMBER
from mlopsctl.compiler.vertex_pipelines import RUN_JOB
from mlopsctl.graph import Graph

AGENT = f"{DEV}/gcp:projects/serviceIdentity:ServiceIdentity/aiplatform"
SHARED = "europe-docker.pkg.dev/acme-shared/ml/trainer:1"
OWN = "us-central1-docker.pkg.dev/acme-demo-dev/demo/tool:2"


def _with_images(fit: str, extra: str) -> str:
    steps = PIPELINE.replace("image: trainer:1", f"image: {fit}")
    return (
        steps
        + f"""\
      report:
        image: {extra}
        command: [python, report.py]
        inputs: {{model: fit.model}}
"""
    )


def _readers(graph: Graph) -> dict[str, dict[str, object]]:
    return {r.name: dict(r.inputs) for r in graph if r.type == REPOSITORY_IAM_MEMBER}


def test_the_agent_reads_each_repository_of_another_project_once(tmp_path: pathlib.Path) -> None:
    text = OWNED_STAGED_DATA + VERTEX + _with_images(SHARED, SHARED.replace("trainer:1", "report:1"))
    graph = compile_text(tmp_path, text)[DEV]
    readers = {name: inputs for name, inputs in _readers(graph).items() if name.startswith("vertex-ai")}
    assert readers == {
        "vertex-ai-agent-reader-acme-shared-europe-ml": {
            "project": "acme-shared",
            "location": "europe",
            "repository": "ml",
            "role": "roles/artifactregistry.reader",
            "member": {"fn::output": {"resource": AGENT, "property": "member"}},
        }
    }
    grant = next(r for r in graph if r.name == "vertex-ai-agent-reader-acme-shared-europe-ml")
    assert grant.depends_on == (AGENT,)
    identity = graph.resources[AGENT]
    assert dict(identity.inputs) == {"project": "acme-demo-dev", "service": "aiplatform.googleapis.com"}


def test_images_of_its_own_project_or_other_registries_need_no_grant(tmp_path: pathlib.Path) -> None:
    text = OWNED_STAGED_DATA + VERTEX + _with_images(OWN, "docker.io/library/python:3.12")
    graph = compile_text(tmp_path, text)[DEV]
    assert not [name for name in _readers(graph) if name.startswith("vertex-ai")]


def test_pipelines_on_gke_pull_with_the_nodes_not_the_agent(tmp_path: pathlib.Path) -> None:
    graph = compile_text(tmp_path, OWNED_STAGED_DATA + _with_images(SHARED, OWN))[DEV]
    readers = _readers(graph)
    assert not [name for name in readers if name.startswith("vertex-ai")]
    assert "gke-nodes-reader-acme-shared-europe-ml" in readers


def test_cloud_runs_agent_reads_the_stage_image_of_new_data_jobs(tmp_path: pathlib.Path) -> None:
    """The Cloud Run jobs that start runs on new data run the stage image, which Cloud Run's service
    agent pulls: from another project's repository only with the reader role there, before the jobs."""
    shared = "europe-docker.pkg.dev/acme-shared/ml/stages:1"
    text = (OWNED_STAGED_DATA + VERTEX + PIPELINE + TRIGGERS).replace("registry.example/stages:1", shared)
    graph = compile_text(tmp_path, text)[DEV]
    agent = f"{DEV}/gcp:projects/serviceIdentity:ServiceIdentity/run"
    assert _readers(graph)["cloud-run-agent-reader-acme-shared-europe-ml"] == {
        "project": "acme-shared",
        "location": "europe",
        "repository": "ml",
        "role": "roles/artifactregistry.reader",
        "member": {"fn::output": {"resource": agent, "property": "member"}},
    }
    assert dict(graph.resources[agent].inputs) == {
        "project": "acme-demo-dev",
        "service": "run.googleapis.com",
    }
    grant = f"{DEV}/{REPOSITORY_IAM_MEMBER}/cloud-run-agent-reader-acme-shared-europe-ml"
    jobs = [r for r in graph if r.type == RUN_JOB]
    assert len(jobs) == 3 and all(grant in job.depends_on for job in jobs)

    own = compile_text(tmp_path / "own", OWNED_STAGED_DATA + VERTEX + PIPELINE + TRIGGERS)[DEV]
    assert not [name for name in _readers(own) if name.startswith("cloud-run")]
