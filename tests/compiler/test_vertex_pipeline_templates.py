"""Pipelines placed on Vertex AI: versioned templates, the accounts that run them, no Kubeflow object."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib
import sys
from typing import Any

import pytest
from helpers import OWNED_STAGED_DATA, compile_text
from vertex_pipeline_cases import (
    ACCOUNT,
    DEV,
    KUBEFLOW,
    PIPELINE,
    PROD,
    ROOT_BUCKET,
    SCHEDULE,
    TRIGGERS,
    VERTEX,
    _address,
    _graphs,
    _one,
    _spec,
)

from mlopsctl.compiler.iam import PROJECT_IAM_MEMBER
from mlopsctl.compiler.provenance import VOLATILE, without
from mlopsctl.compiler.vertex_pipelines import BUCKET_OBJECT, RUN_JOB, RUN_JOB_IAM_MEMBER, SCHEDULER_JOB
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource
from mlopsctl.pulumi.program import create

sys.path.append(str(pathlib.Path(__file__).resolve().parents[1] / "pulumi"))  # the shared Pulumi mocks
from mocked import Recorder, run


def test_a_pipeline_on_vertex_is_a_template_object_and_no_kubeflow_object(tmp_path: pathlib.Path) -> None:
    graph = compile_text(tmp_path, OWNED_STAGED_DATA + VERTEX + PIPELINE)[DEV]
    template = _one(graph, BUCKET_OBJECT, "pipeline-train")
    content = template.inputs["content"]
    digest = hashlib.sha256(content.encode()).hexdigest()[:16]
    assert dict(template.inputs) == {
        "bucket": ROOT_BUCKET,
        "name": f"pipelines/train/{digest}.json",
        "content": content,
        "contentType": "application/json",
    }
    assert content == json.dumps(json.loads(content), sort_keys=True, separators=(",", ":"))
    assert template.depends_on == (_address("gcp:storage/bucket:Bucket", "pipeline-root"),)
    spec = _spec(graph)
    assert spec["pipelineInfo"]["name"] == "train"
    assert spec["defaultPipelineRoot"] == f"gs://{ROOT_BUCKET}/root"
    assert spec["root"]["inputDefinitions"]["parameters"]["epochs"]["defaultValue"] == 3
    assert not [r.address for r in graph if any(kind in r.type for kind in KUBEFLOW)]
    assert not [r for r in graph if r.type in (SCHEDULER_JOB, RUN_JOB)]


def test_the_run_account_may_create_pipeline_jobs_and_read_the_template(tmp_path: pathlib.Path) -> None:
    graph = compile_text(tmp_path, OWNED_STAGED_DATA + VERTEX + PIPELINE)[DEV]
    grant = _one(graph, PROJECT_IAM_MEMBER, "pipeline-train-aiplatform-user")
    assert dict(grant.inputs) == {
        "project": "acme-demo-dev",
        "role": "roles/aiplatform.user",
        "member": f"serviceAccount:{ACCOUNT}",
    }
    assert grant.depends_on == (_address("gcp:serviceaccount/account:Account", "pipeline-train"),)
    # The template is in the pipeline root, whose objects the account reads and writes (the iam step).
    root = _one(
        graph, "gcp:storage/bucketIAMMember:BucketIAMMember", "pipeline-train-object-user-pipeline-root"
    )
    assert root.inputs["bucket"] == ROOT_BUCKET and root.inputs["member"] == f"serviceAccount:{ACCOUNT}"
    # Nothing starts runs with the account's own token: it need not act as itself.
    assert not [r for r in graph if r.name.endswith("-act-as-self")]


def test_step_resources_reach_the_spec(tmp_path: pathlib.Path) -> None:
    spec = _spec(compile_text(tmp_path, OWNED_STAGED_DATA + VERTEX + PIPELINE)[DEV])
    resources = spec["deploymentSpec"]["executors"]["exec-fit"]["container"]["resources"]
    assert (resources["resourceCpuLimit"], resources["resourceMemoryLimit"]) == ("2", "8Gi")


@pytest.mark.parametrize(
    ("edit", "renamed"),
    [
        (("image: trainer:1", "image: trainer:2"), True),
        (("{lr: 0.1, epochs: 3}", "{lr: 0.2, epochs: 3}"), True),
        (("    raw: {}\n", "    raw: {}\n    extra: {}\n"), False),
    ],
)
def test_the_template_is_a_new_object_exactly_when_the_spec_changes(
    tmp_path: pathlib.Path, edit: tuple[str, str], renamed: bool
) -> None:
    text = OWNED_STAGED_DATA + VERTEX + PIPELINE
    before = _one(compile_text(tmp_path / "a", text)[DEV], BUCKET_OBJECT, "pipeline-train")
    after = _one(compile_text(tmp_path / "b", text.replace(*edit, 1))[DEV], BUCKET_OBJECT, "pipeline-train")
    assert (before.inputs["name"] != after.inputs["name"]) is renamed
    assert (before.inputs["content"] != after.inputs["content"]) is renamed


def test_dev_on_vertex_and_prod_on_gke_compile_side_by_side(tmp_path: pathlib.Path) -> None:
    text = OWNED_STAGED_DATA + PIPELINE
    mixed = text.replace(
        "    regions: [us-central1]\n",
        "    regions: [us-central1]\n    overrides:\n      placement: {pipelines: vertex}\n",
        1,
    )
    graphs = compile_text(tmp_path / "mixed", mixed)
    dev, prod = graphs[DEV], graphs[PROD]
    assert [r.type for r in dev if r.type.endswith((":PipelineVersion", ":Pipeline", ":Profile"))] == []
    assert _spec(dev)["pipelineInfo"]["name"] == "train"
    assert [r.name for r in prod if r.type.endswith(":PipelineVersion")] != []
    assert [r for r in prod if r.type == BUCKET_OBJECT or r.name.endswith("-aiplatform-user")] == []
    # GKE targets compile exactly as they did without Vertex AI anywhere (but for the mlops.yaml line
    # each object names: the override moved them).
    alone = compile_text(tmp_path / "gke", text)
    for target in (PROD, Target("prod", "europe-west4")):
        assert _steady(graphs[target]) == _steady(alone[target])


def _steady(graph: Graph) -> dict[str, Resource]:
    """The resources of ``graph`` without the provenance that changes with each edit or commit."""
    return {
        a: dataclasses.replace(r, inputs=without(r.type, r.inputs, VOLATILE))
        for a, r in graph.resources.items()
    }


def test_pipelines_sharing_an_account_share_its_grants(tmp_path: pathlib.Path) -> None:
    text = (
        OWNED_STAGED_DATA
        + VERTEX
        + PIPELINE.replace("    parameters:", "    serviceAccount: runner\n    parameters:")
    )
    text += SCHEDULE + PIPELINE.replace("pipelines:\n  train:", "  retrain:").replace(
        "    parameters:", "    serviceAccount: runner\n    parameters:"
    )
    text += SCHEDULE + "security:\n  serviceAccounts:\n    runner: {}\n"
    graph = _graphs(tmp_path, text)[DEV]
    grants = sorted(r.name for r in graph if r.name.endswith(("-aiplatform-user", "-act-as-self")))
    assert grants == ["account-runner-act-as-self", "account-runner-aiplatform-user"]
    assert len([r for r in graph if r.type == SCHEDULER_JOB]) == 2


def test_the_pulumi_program_registers_templates_schedules_and_triggers(tmp_path: pathlib.Path) -> None:
    graph = _graphs(tmp_path, OWNED_STAGED_DATA + VERTEX + PIPELINE + SCHEDULE + TRIGGERS)[DEV]
    recorder = Recorder()
    run(lambda: create(graph), recorder, stack="dev-us-central1")
    registered = {(r.type, r.name): r for r in recorder.resources}
    ours = [r for r in graph if r.type in (BUCKET_OBJECT, SCHEDULER_JOB, RUN_JOB, RUN_JOB_IAM_MEMBER)]
    assert len(ours) == 1 + 1 + 3 + 3 + 3
    for resource in ours:
        got = registered[resource.type, resource.name]
        assert {k: got.inputs[k] for k in resource.inputs} == _as_sent(resource.inputs), resource.address
    content = registered[BUCKET_OBJECT, "pipeline-train"].inputs["content"]  # pulumi-gcp's secret
    assert json.loads(content) == _spec(graph)


def _as_sent(value: Any) -> Any:
    """What the engine receives: numbers as floats."""
    if isinstance(value, dict):
        return {k: _as_sent(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_sent(v) for v in value]
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value
