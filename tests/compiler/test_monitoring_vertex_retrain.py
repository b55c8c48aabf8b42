"""A drift or skew monitor on GKE retrains pipelines placed on Vertex AI: its job starts PipelineJobs
of their templates as their own accounts, and its Google account may do that and no more."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from helpers import compile_text
from upstream_schemas import UpstreamSchemas

from mlopsctl.compiler.iam import BUCKET_IAM_MEMBER, PROJECT_IAM_MEMBER
from mlopsctl.compiler.identity import GSA_IAM_MEMBER
from mlopsctl.compiler.vertex_pipelines import BUCKET_OBJECT
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource
from mlopsctl_stage.vertex import VertexTarget

DEV = Target("dev", "us-central1")
CRONJOB = "kubernetes:batch/v1:CronJob"
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
security:
  serviceAccounts:
    trainer: {}
pipelines:
  retrain:
    parameters: {epochs: 10, full: false}
    serviceAccount: trainer
    steps: {fit: {image: "fit:1", command: [fit], inputs: {epochs: params.epochs}}}
  refresh:
    parameters: {epochs: 3}
    steps: {fit: {image: "fit:1", command: [fit]}}
    triggers: [{monitor: watch}]
  other:
    steps: {fit: {image: "fit:1", command: [fit]}}
monitors:
  watch:
    type: drift
    endpoint: api
    baseline: {dataset: features, table: base}
    features: {x: {kind: numeric}}
    schedule: {cron: "0 3 * * *"}
    actions: {retrain: retrain, retrainParameters: {epochs: 30}}
placement: {pipelines: vertex}
"""
MONITOR = "mon-watch-dev-usc1@acme-demo-dev.iam.gserviceaccount.com"
RUNS_AS = {
    "refresh": "pl-refresh-dev-usc1@acme-demo-dev.iam.gserviceaccount.com",
    "retrain": "sa-trainer-dev-usc1@acme-demo-dev.iam.gserviceaccount.com",
}
ROOT = "demo-dev-us-central1-pipeline-root"


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    graphs: dict[Target, Graph] = compile_text(tmp_path_factory.mktemp("retrain"), CONFIG)
    return graphs[DEV]


def _cronjob(graph: Graph) -> Resource:
    return graph.resources[f"{DEV}/{CRONJOB}/watch"]


def _retrain(graph: Graph) -> list[dict[str, Any]]:
    [container] = _cronjob(graph).inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    entries: list[dict[str, Any]] = json.loads(container["args"][1])["retrain"]
    return entries


def _template(graph: Graph, pipeline: str) -> Resource:
    return graph.resources[f"{DEV}/{BUCKET_OBJECT}/pipeline-{pipeline}"]


def test_each_retrain_is_a_pipeline_job_of_the_template_as_the_pipelines_account(graph: Graph) -> None:
    entries = _retrain(graph)
    assert [e["displayName"] for e in entries] == ["refresh", "retrain"]
    for entry in entries:
        pipeline = entry["displayName"]
        template = _template(graph, pipeline).inputs
        assert entry["backend"] == "vertex"
        assert (entry["project"], entry["location"]) == ("acme-demo-dev", "us-central1")
        assert entry["pipelineSpecUri"] == f"gs://{template['bucket']}/{template['name']}"
        assert entry["pipelineRoot"].startswith(f"gs://{ROOT}/")
        assert entry["serviceAccount"] == RUNS_AS[pipeline]
        assert entry["labels"]["mlops-pipeline"] == pipeline
        target = VertexTarget.from_config(entry, "retrain")  # what the drift stage reads
        assert (target.service_account, target.labels) == (RUNS_AS[pipeline], entry["labels"])
    assert [e["parameters"] for e in entries] == [{"epochs": 30}, {"epochs": 30, "full": False}]


def test_the_job_needs_no_kubeflow_pipelines(graph: Graph, upstream_schemas: UpstreamSchemas) -> None:
    cronjob = _cronjob(graph)
    assert upstream_schemas.validate(dict(cronjob.inputs)) == []
    pod = cronjob.inputs["spec"]["jobTemplate"]["spec"]["template"]
    assert pod["metadata"]["labels"]["sidecar.istio.io/inject"] == "false"
    assert "volumes" not in pod["spec"] and "env" not in pod["spec"]["containers"][0]
    assert not [r for r in graph if r.name.startswith("monitor-watch-runs")]  # no KFP API role
    assert not [r for r in graph if r.type.endswith(":PipelineVersion")]


def _grants_of(graph: Graph, email: str) -> list[Resource]:
    """Every grant to ``email`` but BigQuery's (what reading the request log takes)."""
    member = f"serviceAccount:{email}"
    types = (PROJECT_IAM_MEMBER, GSA_IAM_MEMBER, BUCKET_IAM_MEMBER)
    return [
        r
        for r in graph
        if r.type in types and r.inputs.get("member") == member and "bigquery" not in r.inputs["role"]
    ]


def test_the_monitor_may_start_runs_and_act_as_those_accounts_only(graph: Graph) -> None:
    grants = _grants_of(graph, MONITOR)
    [project] = [g.inputs for g in grants if g.type == PROJECT_IAM_MEMBER]
    assert (project["project"], project["role"]) == ("acme-demo-dev", "roles/aiplatform.user")
    acts_as = {(g.inputs["serviceAccountId"], g.inputs["role"]) for g in grants if g.type == GSA_IAM_MEMBER}
    assert acts_as == {
        (f"projects/acme-demo-dev/serviceAccounts/{email}", "roles/iam.serviceAccountUser")
        for email in RUNS_AS.values()
    }
    reads = {g.inputs["condition"]["title"]: g.inputs for g in grants if g.type == BUCKET_IAM_MEMBER}
    assert len(grants) == 5 and sorted(reads) == ["templates of refresh", "templates of retrain"]
    for pipeline in ("refresh", "retrain"):
        read = reads[f"templates of {pipeline}"]
        assert (read["bucket"], read["role"]) == (ROOT, "roles/storage.objectViewer")
        prefix = f"pipelines/{pipeline}/"
        assert read["condition"]["expression"] == (
            f'resource.name.startsWith("projects/_/buckets/{ROOT}/objects/{prefix}")'
        )
        assert _template(graph, pipeline).inputs["name"].startswith(prefix)


def test_the_job_waits_for_its_grants_and_templates(graph: Graph) -> None:
    depends = set(_cronjob(graph).depends_on)
    grants = {g.address for g in _grants_of(graph, MONITOR)}
    assert len(grants) == 5 and grants <= depends
    assert {_template(graph, p).address for p in ("refresh", "retrain")} <= depends
    assert _template(graph, "other").address not in depends


def test_without_retraining_the_monitor_gets_no_vertex_grants(tmp_path: pathlib.Path) -> None:
    text = CONFIG.replace("    actions: {retrain: retrain, retrainParameters: {epochs: 30}}\n", "")
    graph = compile_text(tmp_path, text.replace("    triggers: [{monitor: watch}]\n", ""))[DEV]
    assert _grants_of(graph, MONITOR) == []
    assert _retrain(graph) == []


def test_pipelines_that_share_an_account_are_acted_as_once(tmp_path: pathlib.Path) -> None:
    """Two retrained pipelines running as one account need one act-as grant (it was added twice)."""
    shared = CONFIG.replace(
        "    parameters: {epochs: 3}\n", "    parameters: {epochs: 3}\n    serviceAccount: trainer\n", 1
    )
    graph = compile_text(tmp_path, shared)[DEV]
    email = {
        r.name: f"{r.inputs['accountId']}@acme-demo-dev.iam.gserviceaccount.com"
        for r in graph
        if r.type == "gcp:serviceaccount/account:Account"
    }
    acts = [
        r.inputs["serviceAccountId"]
        for r in graph
        if r.type == GSA_IAM_MEMBER and r.inputs["member"] == f"serviceAccount:{email['monitor-watch']}"
    ]
    assert acts == [f"projects/acme-demo-dev/serviceAccounts/{email['account-trainer']}"]
