"""Multi-user Kubeflow Pipelines: the Profile of the pipeline namespace, the KFP token of every pod
that calls the KFP API, and the RBAC the API server checks, on the compiled graphs."""

from __future__ import annotations

import json
import pathlib

import pytest
from conftest import EXAMPLES
from helpers import STAGED, compile_text
from kfp_multiuser import (
    BINDING,
    KFP,
    ROLE,
    calls_kfp,
    example_graphs,
    kfp_grants,
    kfp_token_path,
    of_type,
    pipelines_placement,
    pod_templates,
    retrain_entries,
)
from upstream_schemas import UpstreamSchemas

from mlopsctl.compiler.provenance import PROVENANCE
from mlopsctl.config.models.placement import Runtime
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph

PROFILE = "kubernetes:kubeflow.org/v1:Profile"
NAMESPACE = "kubernetes:core/v1:Namespace"
PIPELINE = "kubernetes:pipelines.kubeflow.org/v2beta1:Pipeline"
PIPELINE_VERSION = "kubernetes:pipelines.kubeflow.org/v2beta1:PipelineVersion"
DEV = Target("dev", "us-central1")
START = {("pipelines", "get"), ("pipelines", "list"), ("experiments", "list"), ("experiments", "create")}
START |= {("runs", "create")}
"""(resource, verb) of every call ``start-run`` makes to start a run, as KFP 2.17 authorizes it."""
POLL = START | {("runs", "list")}
"""And a new-data trigger's: it lists the runs of the experiment."""


TARGETS = [
    (f"{path.parent.name}-{target.env}-{target.region}", graph, pipelines_placement(path, target))
    for path in EXAMPLES
    for target, graph in example_graphs(path).items()
]
GRAPHS = [pytest.param(graph, where, id=name) for name, graph, where in TARGETS]
"""Every target of the examples, with where it runs its pipelines."""
ON_KFP = [pytest.param(graph, id=name) for name, graph, where in TARGETS if where == "gke"]
ON_VERTEX = [pytest.param(graph, id=name) for name, graph, where in TARGETS if where == "vertex"]


def test_the_examples_run_pipelines_on_both() -> None:
    assert ON_KFP and ON_VERTEX


@pytest.mark.parametrize("graph", ON_KFP)
def test_a_profile_serves_the_pipeline_namespace(graph: Graph, upstream_schemas: UpstreamSchemas) -> None:
    [namespace] = of_type(graph, NAMESPACE)
    [profile] = of_type(graph, PROFILE)
    owner = {"digits": "vision-team", "fraud": "risk-ml", "sensors": "plant-analytics"}[namespace.name]
    metadata = profile.inputs["metadata"]
    assert profile.inputs == {
        "apiVersion": "kubeflow.org/v1",
        "kind": "Profile",
        "metadata": {
            "name": namespace.name,
            "labels": metadata["labels"],
            "annotations": metadata["annotations"],
        },
        "spec": {
            "owner": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "User",
                "name": f"{owner}@acme.example",
            }
        },
    }
    assert metadata["labels"]["app.kubernetes.io/managed-by"] == "mlopsctl"
    assert set(metadata["annotations"]) <= PROVENANCE
    assert upstream_schemas.validate(dict(profile.inputs)) == []
    # The Namespace exists before the Profile, so its controller adopts it instead of creating it.
    assert namespace.address in profile.depends_on
    assert all(profile.address in p.depends_on for p in of_type(graph, PIPELINE))


@pytest.mark.parametrize("graph", ON_VERTEX)
def test_pipelines_on_vertex_ai_leave_no_kubeflow_object_in_the_cluster(graph: Graph) -> None:
    """Vertex AI Pipelines keeps the templates and runs: the cluster (still serving endpoints) has no
    Profile, Pipeline or PipelineVersion, and no Role on the KFP API."""
    assert of_type(graph, NAMESPACE)
    assert of_type(graph, PROFILE) == of_type(graph, PIPELINE) == of_type(graph, PIPELINE_VERSION) == []
    assert kfp_grants(graph) == {}


@pytest.mark.parametrize("graph", ON_KFP)
def test_the_profile_adopts_the_namespace_mlopsctl_owns(graph: Graph) -> None:
    """The profile controller adopts an existing namespace only if its ``owner`` annotation names the
    Profile's owner; it then sets no owner reference on it, so the Namespace has one owner."""
    [namespace] = of_type(graph, NAMESPACE)
    [profile] = of_type(graph, PROFILE)
    metadata = namespace.inputs["metadata"]
    assert metadata["annotations"]["owner"] == profile.inputs["spec"]["owner"]["name"]
    assert "ownerReferences" not in metadata


def test_no_pipeline_no_profile(tmp_path: pathlib.Path) -> None:
    text = STAGED.replace("  name: demo\n", "  name: demo\n  owner: ml@acme.example\n")
    graph = compile_text(tmp_path, text)[DEV]
    assert of_type(graph, PROFILE) == []


def test_a_batch_job_alone_publishes_a_pipeline_and_gets_a_profile(tmp_path: pathlib.Path) -> None:
    batch = """\
project:
  name: demo
  owner: ml@acme.example
environments:
  dev: {gcpProject: acme-demo-dev, regions: [us-central1]}
data:
  buckets: {raw: {}}
  datasets: {features: {}}
models:
  scorer: {framework: sklearn, versions: {v1: {artifactUri: "gs://models/scorer/v1"}}}
endpoints:
  api: {variants: {main: {model: scorer, version: v1}}}
batchJobs:
  nightly:
    model: scorer
    version: v1
    input: {gcs: raw/incoming/}
    output: {bigquery: {dataset: features, table: scores}}
"""
    graph = compile_text(tmp_path, "apiVersion: mlopsctl.dev/v1alpha1\nkind: MLOpsProject\n" + batch)[DEV]
    [profile] = of_type(graph, PROFILE)
    assert profile.inputs["spec"]["owner"]["name"] == "ml@acme.example"
    [pipeline] = of_type(graph, PIPELINE)
    assert profile.address in pipeline.depends_on


@pytest.mark.parametrize(("graph", "pipelines"), GRAPHS)
def test_every_kfp_client_authenticates_with_a_token_for_the_kfp_audience(
    graph: Graph, pipelines: Runtime
) -> None:
    clients = 0
    for resource, pod in pod_templates(graph):
        for container in pod["containers"]:
            calls = calls_kfp(container)
            token = kfp_token_path(pod, container)
            if calls is None:
                assert token is None, f"{resource.address} mounts a KFP token it does not use"
                continue
            clients += 1
            assert token == "/var/run/secrets/kubeflow/pipelines/token", resource.address
    # Every example schedules a pipeline or retrains one on drift: on Vertex AI, through Vertex AI.
    assert bool(clients) is (pipelines == "gke")


@pytest.mark.parametrize(("graph", "pipelines"), GRAPHS)
def test_kfp_rbac_is_exactly_what_each_client_calls(graph: Graph, pipelines: Runtime) -> None:
    """The API server's SubjectAccessReviews (pipelines.kubeflow.org resources and verbs, as KFP 2.17
    checks them) are allowed to the accounts of the pods that call it, for the calls they make."""
    needed: dict[str, set[tuple[str, str]]] = {}
    for _, pod in pod_templates(graph):
        for container in pod["containers"]:
            calls = calls_kfp(container)
            if calls is not None:
                account = needed.setdefault(pod["serviceAccountName"], set())
                account |= POLL if calls in ("poll", "receive") else START
    assert bool(needed) is (pipelines == "gke")
    assert kfp_grants(graph) == needed


SHARED = """\
data:
  buckets: {raw: {}}
security:
  serviceAccounts:
    runner: {description: runs both pipelines}
pipelines:
  a:
    serviceAccount: runner
    steps: {s: {image: "x:1", command: [run]}}
    schedule: {cron: "0 1 * * *"}
  b:
    serviceAccount: runner
    steps: {s: {image: "x:1", command: [run]}}
    triggers:
      - newData: {bucket: raw}
  c:
    steps: {s: {image: "x:1", command: [run]}}
"""


RUN_STEPS = [
    {"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"], "verbs": ["create", "patch"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": ["kfp-launcher"]},
]
"""What the pods of a run need from the account they execute as (Argo's executor, KFP's driver)."""


def test_an_account_that_polls_may_list_runs_and_unstarted_pipelines_may_only_run_steps(
    tmp_path: pathlib.Path,
) -> None:
    """Pipeline c has no schedule or trigger, but a run started by hand (``mlopsctl run``, the KFP UI)
    executes as its account too, so its steps must be able to report their outputs."""
    text = STAGED.replace("  name: demo\n", "  name: demo\n  owner: ml@acme.example\n") + SHARED
    graph = compile_text(tmp_path, text)[DEV]
    assert kfp_grants(graph) == {"account-runner-dev-usc1": POLL}
    roles = {r.name: r.inputs["rules"] for r in of_type(graph, ROLE)}
    assert roles == {
        "account-runner-dev-usc1-runs": [
            {"apiGroups": [KFP], "resources": ["pipelines"], "verbs": ["get", "list"]},
            {"apiGroups": [KFP], "resources": ["experiments"], "verbs": ["create", "list"]},
            {"apiGroups": [KFP], "resources": ["runs"], "verbs": ["create", "list"]},
        ],
        "account-runner-dev-usc1-run-steps": RUN_STEPS,
        "pipeline-c-dev-usc1-run-steps": RUN_STEPS,
    }
    bindings = {b.name: b.inputs["subjects"] for b in of_type(graph, BINDING)}
    assert bindings["pipeline-c-dev-usc1-run-steps"] == [
        {"kind": "ServiceAccount", "name": "pipeline-c-dev-usc1", "namespace": "demo"}
    ]


@pytest.mark.parametrize(("graph", "pipelines"), GRAPHS)
def test_runs_execute_as_accounts_that_may_run_their_steps(graph: Graph, pipelines: Runtime) -> None:
    """Every account a run executes as (each pipeline's and batch job's, and any a CronJob or a
    monitor's retrain starts it as) may report its steps' outputs (Argo's executor) and read the KFP
    launcher settings; no other account may (none, where Vertex AI runs the pipelines: no run executes
    in the cluster)."""
    started_as = set()
    for _, pod in pod_templates(graph):
        for container in pod["containers"]:
            if calls_kfp(container) is None:
                continue
            config = json.loads(container["args"][1])
            retrains = retrain_entries(container["command"][1], config)
            started_as |= {t["serviceAccount"] for t in [config, *retrains] if "pipeline" in t}
    roles = {r.name: r.inputs for r in of_type(graph, ROLE)}
    executors = set()
    for binding in of_type(graph, BINDING):
        rules = roles[binding.inputs["roleRef"]["name"]]["rules"]
        if any("workflowtaskresults" in rule["resources"] for rule in rules):
            executors |= {s["name"] for s in binding.inputs["subjects"]}
    assert bool(started_as) is (pipelines == "gke")
    run_as = {  # the accounts of pipelines and batch jobs: a run started by hand executes as them too
        r.name
        for r in of_type(graph, "kubernetes:core/v1:ServiceAccount")
        if r.inputs["metadata"]["labels"].get("app.kubernetes.io/component") in ("pipeline", "batch")
    }
    assert started_as <= executors
    assert executors == (run_as | started_as if pipelines == "gke" else set())
