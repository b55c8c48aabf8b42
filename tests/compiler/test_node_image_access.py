"""The GKE nodes may pull every Artifact Registry image the cluster runs, in whatever project."""

from __future__ import annotations

import pathlib

import pytest
from conftest import EXAMPLES
from helpers import OWNED_STAGED, compile_text
from test_service_accounts import graphs_of, objects_in

from mlopsctl.compiler.cluster import CLUSTER
from mlopsctl.compiler.registry import REPOSITORY, REPOSITORY_IAM_MEMBER, RepositoryRef, repository_of
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph

DEV = Target("dev", "us-central1")
READER = "roles/artifactregistry.reader"


def _images(graph: Graph) -> set[str]:
    """Every image a Pod, pipeline step or launched job of the graph runs."""
    return {
        str(obj["image"])
        for resource in graph
        for obj in objects_in(dict(resource.inputs))
        if isinstance(obj.get("image"), str)
    }


def _node_readers(graph: Graph) -> list[RepositoryRef]:
    """The repositories the nodes' account reads, one entry per grant."""
    [cluster] = [r for r in graph if r.type == CLUSTER]
    member = f"serviceAccount:{cluster.inputs['nodeConfig']['serviceAccount']}"
    return [
        RepositoryRef(r.inputs["project"], r.inputs["location"], r.inputs["repository"])
        for r in graph
        if r.type == REPOSITORY_IAM_MEMBER and r.inputs["member"] == member and r.inputs["role"] == READER
    ]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_nodes_read_each_repository_of_the_images_the_graph_runs_once(path: pathlib.Path) -> None:
    for target, graph in graphs_of(path).items():
        readers = _node_readers(graph)
        assert len(readers) == len(set(readers)), target
        pulled = {repo for repo in map(repository_of, _images(graph)) if repo is not None}
        assert pulled, target  # the examples run images from their teams' repositories
        assert pulled <= set(readers), target
        [own] = [r for r in graph if r.type == REPOSITORY]
        mine = RepositoryRef(graph.gcp_project, own.inputs["location"], own.inputs["repositoryId"])
        assert set(readers) == pulled | {mine}, target


def test_the_digits_nodes_read_the_vision_teams_repository() -> None:
    [path] = [p for p in EXAMPLES if p.parent.name == "digits"]
    graph = graphs_of(path)[DEV]
    assert sorted(_node_readers(graph), key=str) == [
        RepositoryRef("acme-digits-dev", "us-central1", "digits"),
        RepositoryRef("acme-vision", "us", "digits"),
    ]
    grant = graph.resources[f"dev/us-central1/{REPOSITORY_IAM_MEMBER}/gke-nodes-reader-acme-vision-us-digits"]
    assert grant.source == ("project", "stageImage")


IMAGES = """\
pipelines:
  train:
    steps:
      fit:
        kind: container
        image: europe-docker.pkg.dev/ml-images/trainers/fit:2
        command: [fit]
      again:
        kind: container
        image: europe-docker.pkg.dev/ml-images/trainers/fit@sha256:0123
        command: [fit]
      scoped:
        kind: container
        image: us-docker.pkg.dev/example.com/tools/base/probe:1
        command: [probe]
      hub:
        kind: container
        image: docker.io/library/python:3.12
        command: [python]
      own:
        kind: container
        image: us-central1-docker.pkg.dev/acme-demo-dev/demo/step:1
        command: [step]
"""


def test_one_grant_per_repository_in_its_own_project(tmp_path: pathlib.Path) -> None:
    graph = compile_text(tmp_path, OWNED_STAGED + IMAGES)[DEV]
    grants = {
        r.name: (r.inputs["project"], r.inputs["location"], r.inputs["repository"], r.source)
        for r in graph
        if r.type == REPOSITORY_IAM_MEMBER
    }
    assert grants == {
        # The project's own repository, also named by the step 'own'.
        "gke-nodes-reader": ("acme-demo-dev", "us-central1", "demo", ("cluster",)),
        "gke-nodes-reader-ml-images-europe-trainers": (
            "ml-images",
            "europe",
            "trainers",
            ("pipelines", "train", "steps", "fit", "image"),
        ),
        # A domain-scoped project is written with a slash in the image, a colon in IAM.
        "gke-nodes-reader-example.com-tools-us-base": (
            "example.com:tools",
            "us",
            "base",
            ("pipelines", "train", "steps", "scoped", "image"),
        ),
    }


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        ("us-docker.pkg.dev/p/r/i:1", RepositoryRef("p", "us", "r")),
        ("asia-south1-docker.pkg.dev/p/r/a/b/c@sha256:00", RepositoryRef("p", "asia-south1", "r")),
        ("us-docker.pkg.dev/example.com/p/r/i", RepositoryRef("example.com:p", "us", "r")),
        ("us-docker.pkg.dev/p/r", None),
        ("us-docker.pkg.dev/example.com/p/r", None),
        ("gcr.io/p/i:1", None),
        ("nvcr.io/nvidia/tritonserver:25.01-py3", None),
        ("us-python.pkg.dev/p/r/i", None),
    ],
)
def test_repository_of(image: str, repository: RepositoryRef | None) -> None:
    assert repository_of(image) == repository
