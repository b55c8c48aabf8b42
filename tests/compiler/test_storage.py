"""The bucket pipeline runs write to, and who may use it."""

from __future__ import annotations

import json
import pathlib

import pytest
from helpers import MINIMAL, OWNED, OWNED_STAGED, WITH_DATA, compile_text, owned

from mlopsctl.compiler.iam import BUCKET_IAM_MEMBER, DATASET_IAM_MEMBER
from mlopsctl.compiler.storage import BUCKET
from mlopsctl.compiler.vertex_pipelines import BUCKET_OBJECT
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource

DEV = Target("dev", "us-central1")
STAGES = "  name: demo\n  stageImage: stages:1\n"
PIPELINE = """\
pipelines:
  train:
    steps: {fit: {image: trainer:1, command: [fit]}}
"""
MODEL = """\
models:
  clf: {framework: sklearn, versions: {v1: {artifactUri: "gs://models/clf/v1"}}}
endpoints:
  api: {variants: {main: {model: clf, version: v1}}}
batchJobs:
  score: {model: clf, version: v1, input: {gcs: raw/in/}, output: {gcs: raw/out/}}
"""


def _graph(tmp_path: pathlib.Path, text: str) -> Graph:
    return compile_text(tmp_path, text.replace("  name: demo\n", STAGES, 1))[DEV]


def _bucket(graph: Graph, key: str) -> Resource:
    return graph.resources[f"{DEV}/{BUCKET}/{key}"]


def test_pipelines_get_a_private_root_bucket_that_forgets(tmp_path: pathlib.Path) -> None:
    bucket = _bucket(_graph(tmp_path, OWNED + PIPELINE), "pipeline-root")
    assert {k: v for k, v in bucket.inputs.items() if k != "labels"} == {
        "name": "demo-dev-us-central1-pipeline-root",
        "project": "acme-demo-dev",
        "location": "US-CENTRAL1",
        "storageClass": "STANDARD",
        "uniformBucketLevelAccess": True,
        "publicAccessPrevention": "enforced",
        "versioning": {"enabled": False},
        "forceDestroy": False,
        # Only what runs write (under the pipeline root, gs://BUCKET/root) is forgotten.
        "lifecycleRules": [
            {"action": {"type": "Delete"}, "condition": {"age": 30, "matchesPrefixes": ["root/"]}}
        ],
    }
    assert bucket.source == ("pipelines",)


def test_a_declared_pipeline_root_replaces_the_implied_one(tmp_path: pathlib.Path) -> None:
    declared = (
        "data:\n  buckets:\n"
        "    pipeline-root: {name: 'acme-kfp-${env}-${region}', lifecycle: {deleteAfterDays: 7}}\n"
    )
    graph = _graph(tmp_path, OWNED + declared + PIPELINE)
    bucket = _bucket(graph, "pipeline-root")
    assert bucket.inputs["name"] == "acme-kfp-dev-us-central1"
    assert bucket.source == ("data", "buckets", "pipeline-root")
    [version] = [r for r in graph if r.type.endswith(":PipelineVersion")]
    assert (
        version.inputs["spec"]["pipelineSpec"]["defaultPipelineRoot"] == "gs://acme-kfp-dev-us-central1/root"
    )


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("pipeline-root", {"age": 7, "matchesPrefixes": ["root/"]}),
        ("raw", {"age": 7}),  # any other bucket forgets every object
    ],
)
def test_only_the_run_outputs_of_a_pipeline_root_are_deleted_by_age(
    tmp_path: pathlib.Path, key: str, expected: dict[str, object]
) -> None:
    declared = f"data:\n  buckets:\n    {key}: {{lifecycle: {{deleteAfterDays: 7, nearlineAfterDays: 3}}}}\n"
    bucket = _bucket(_graph(tmp_path, OWNED + declared + PIPELINE), key)
    assert bucket.inputs["lifecycleRules"] == [
        {"action": {"type": "SetStorageClass", "storageClass": "NEARLINE"}, "condition": {"age": 3}},
        {"action": {"type": "Delete"}, "condition": expected},
    ]


def test_templates_of_vertex_pipelines_are_outside_what_the_root_forgets(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path, OWNED + "placement: {pipelines: vertex}\n" + PIPELINE)
    [rule] = _bucket(graph, "pipeline-root").inputs["lifecycleRules"]
    [prefix] = rule["condition"]["matchesPrefixes"]
    [template] = [r for r in graph if r.type == BUCKET_OBJECT]
    runs_write_to = json.loads(template.inputs["content"])["defaultPipelineRoot"]
    assert f"{runs_write_to}/".startswith(f"gs://{template.inputs['bucket']}/{prefix}")
    assert not template.inputs["name"].startswith(prefix)


@pytest.mark.parametrize(("text", "expected"), [(MINIMAL, False), (owned(WITH_DATA) + MODEL, True)])
def test_only_what_runs_pipelines_gets_one(tmp_path: pathlib.Path, text: str, expected: bool) -> None:
    graph = _graph(tmp_path, text)
    assert (f"{DEV}/{BUCKET}/pipeline-root" in graph.resources) is expected


def test_pipeline_and_batch_accounts_use_the_root_objects(tmp_path: pathlib.Path) -> None:
    """Storage Object User: runs create, read, list and overwrite their artifacts; nothing sets the
    objects' IAM or ACLs (Storage Object Admin would allow it)."""
    graph = _graph(tmp_path, owned(WITH_DATA) + PIPELINE + MODEL)
    users = {
        r.name: r
        for r in graph
        if r.type == BUCKET_IAM_MEMBER and r.inputs["bucket"] == "demo-dev-us-central1-pipeline-root"
    }
    assert sorted(users) == [
        "batch-score-object-user-pipeline-root",
        "pipeline-train-object-user-pipeline-root",
    ]
    assert {r.inputs["role"] for r in users.values()} == {"roles/storage.objectUser"}
    for grant in users.values():
        assert f"{DEV}/{BUCKET}/pipeline-root" in grant.depends_on


@pytest.mark.parametrize(
    ("trigger", "type_", "name", "role"),
    [
        (
            "{bucket: raw, prefix: drops/}",
            BUCKET_IAM_MEMBER,
            "object-viewer-raw",
            "roles/storage.objectViewer",
        ),
        (
            "{dataset: features, table: events}",
            DATASET_IAM_MEMBER,
            "metadata-viewer-features",
            "roles/bigquery.metadataViewer",
        ),
    ],
)
def test_a_new_data_trigger_may_see_what_it_watches(
    tmp_path: pathlib.Path, trigger: str, type_: str, name: str, role: str
) -> None:
    text = owned(WITH_DATA) + PIPELINE + f"    triggers:\n      - newData: {trigger}\n"
    grant = next(r for r in _graph(tmp_path, text) if r.type == type_ and r.name == f"pipeline-train-{name}")
    assert grant.inputs["role"] == role
    assert grant.inputs["member"].startswith("serviceAccount:pl-train-dev-usc1@")
    assert grant.source[:4] == ("pipelines", "train", "triggers", 0)


def test_staged_minimal_config_has_no_pipeline_root(tmp_path: pathlib.Path) -> None:
    assert not [r for r in compile_text(tmp_path, OWNED_STAGED)[DEV] if r.type == BUCKET]
