"""Kubernetes API tokens: a pod mlopsctl defines mounts none unless a container of it calls the API.

Every pod template of every example's graph is walked: CronJobs, Jobs and Deployments, the
predictors of InferenceServices, and the objects the ``tune-job`` and ``train-job`` launchers
create (Katib trials, PyTorchJob, TFJob and JobSet replicas), which are embedded in the steps'
``--config`` in the PipelineVersion. Inline projects add what the examples lack: PyTorchJob and
TFJob replicas and the retrain receiver."""

from __future__ import annotations

import copy
import json
import pathlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import EXAMPLES
from helpers import compile_text, write
from kfp_multiuser import example_graphs, pod_templates
from test_alert_receiver import BASE as RECEIVER_BASE
from training_cases import DEV, _config, _graph
from upstream_schemas import UpstreamSchemas

from mlopsctl.graph import Graph

TOKEN = "automountServiceAccountToken"
CALLS_API = {
    ("mlopsctl-stage", "tune-job"): "creates its Katib Experiment, watches it and reads its trials",
    ("mlopsctl-stage", "train-job"): "creates its PyTorchJob, TFJob or JobSet and watches it",
}
"""The containers that call the Kubernetes API, with why. Both are Kubeflow Pipelines step pods,
which KFP and Argo make (Argo's executor needs the token too): no pod template of mlopsctl runs them."""
NOT_A_POD_SPEC = {
    "InferenceGraph": "KServe's controller sets automountServiceAccountToken: false on the router pod"
    " itself, and the CRD has no field for it",
}
"""Kinds that run pods but whose spec has no pod-level field for the token, with why that is fine."""


@dataclass(frozen=True)
class Pod:
    where: str
    """The graph resource and the path to the pod spec in it."""
    kind: str
    """The kind of object the pod template belongs to."""
    spec: dict[str, Any]
    containers: list[dict[str, Any]]


def _embedded(where: str, obj: dict[str, Any]) -> Iterator[Pod]:
    """The pod templates of an object a launcher creates."""
    kind, spec = obj["kind"], obj["spec"]
    templates: list[tuple[str, dict[str, Any]]] = []
    if kind == "Experiment":
        templates.append(("trialTemplate", spec["trialTemplate"]["trialSpec"]["spec"]["template"]))
    elif kind == "JobSet":
        templates += [(job["name"], job["template"]["spec"]["template"]) for job in spec["replicatedJobs"]]
    else:  # PyTorchJob, TFJob
        [replicas] = [value for key, value in spec.items() if key.endswith("ReplicaSpecs")]
        templates += [(role, replica["template"]) for role, replica in replicas.items()]
    for path, template in templates:
        pod = template["spec"]
        yield Pod(f"{where} {kind} {path}", kind, pod, pod["containers"] + pod.get("initContainers", []))


def _launched(graph: Graph) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Each KFP step: (where, its container, its Kubernetes platform config)."""
    for r in graph:
        if r.type.endswith(":PipelineVersion"):
            spec = r.inputs["spec"]
            platform = spec.get("platformSpec", {}).get("platforms", {}).get("kubernetes", {})
            settings = platform.get("deploymentSpec", {}).get("executors", {})
            for name, executor in spec["pipelineSpec"]["deploymentSpec"]["executors"].items():
                if "container" in executor:
                    yield f"{r.address} {name}", executor["container"], settings.get(name, {})


def pods(graph: Graph) -> Iterator[Pod]:
    """Every pod template of the graph that mlopsctl defines."""
    for r, spec in pod_templates(graph):
        yield Pod(r.address, r.inputs["kind"], spec, spec["containers"] + spec.get("initContainers", []))
    for r in graph:
        if r.is_kubernetes and r.inputs["kind"] == "InferenceService":
            predictor = r.inputs["spec"]["predictor"]
            yield Pod(r.address, "InferenceService", predictor, [predictor["model"]])
    for where, container, _ in _launched(graph):
        args = container.get("args") or []
        if args[:1] == ["--config"]:
            config = json.loads(args[1])
            for key in ("experiment", "job"):
                if isinstance(config, dict) and key in config:
                    yield from _embedded(where, config[key])


def calls_api(pod: Pod) -> str | None:
    """Why a container of the pod calls the Kubernetes API, or None when none does."""
    for container in pod.containers:
        reason = CALLS_API.get(tuple((container.get("command") or [])[:2]))
        if reason is not None:
            return reason
    return None


def as_job(pod: Pod) -> dict[str, Any]:
    """A Job of the pod, to check the pod spec strictly where its own object's schema does not."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "x"},
        "spec": {"template": {"spec": pod.spec}},
    }


def assert_tokens(graph: Graph) -> set[str]:
    """Checks every pod of the graph; returns the kinds of the pods seen."""
    seen: set[str] = set()
    for pod in pods(graph):
        seen.add(pod.kind)
        if calls_api(pod) is None:
            assert pod.spec.get(TOKEN) is False, f"{pod.where}: no container calls the Kubernetes API"
        else:
            assert pod.spec.get(TOKEN) is not False, f"{pod.where}: {calls_api(pod)}"
    return seen


EXAMPLE_GRAPHS = [
    (f"{path.parent.name}-{target.env}-{target.region}", graph)
    for path in EXAMPLES
    for target, graph in example_graphs(path).items()
]
GRAPHS = [pytest.param(graph, id=name) for name, graph in EXAMPLE_GRAPHS]


@pytest.mark.parametrize("graph", GRAPHS)
def test_no_example_pod_mounts_a_token_it_does_not_use(graph: Graph) -> None:
    assert_tokens(graph)


def test_the_examples_have_every_kind_of_pod_and_the_launchers() -> None:
    seen = set().union(*(assert_tokens(graph) for _, graph in EXAMPLE_GRAPHS))
    assert {"CronJob", "Deployment", "InferenceService", "Experiment", "JobSet"} <= seen
    launchers = {
        tuple(container["command"][:2]) for _, graph in EXAMPLE_GRAPHS for _, container, _ in _launched(graph)
    }
    assert set(CALLS_API) <= launchers


@pytest.mark.parametrize("graph", GRAPHS)
def test_the_launchers_that_call_the_api_keep_their_token(graph: Graph) -> None:
    """Their pods are KFP's: nothing in the step's Kubernetes settings takes the token away."""
    for where, container, settings in _launched(graph):
        if tuple(container["command"][:2]) in CALLS_API:
            assert TOKEN not in json.dumps(settings), where


@pytest.mark.parametrize("graph", GRAPHS)
def test_inference_graph_routers_get_no_token_from_kserve(
    graph: Graph, upstream_schemas: UpstreamSchemas
) -> None:
    for r in graph:
        if r.is_kubernetes and r.inputs["kind"] in NOT_A_POD_SPEC:
            with_field = copy.deepcopy(dict(r.inputs))
            with_field["spec"][TOKEN] = False
            assert upstream_schemas.validate(with_field) != [], NOT_A_POD_SPEC[r.inputs["kind"]]


DISTRIBUTED = """\
pipelines:
  p:
    steps:
      train:
        kind: train
        image: trainer:1
        command: [python, -m, train]
        distributed: {{framework: {framework}, workers: 3}}
        resources: {{nodePool: gpu, accelerators: 1, memory: 12Gi}}
"""


@pytest.mark.parametrize(("framework", "kind"), [("pytorch", "PyTorchJob"), ("tensorflow", "TFJob")])
def test_training_replicas_get_no_token(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas, framework: str, kind: str
) -> None:
    graph = _graph(write(tmp_path, _config(DISTRIBUTED.format(framework=framework))))
    assert assert_tokens(graph) >= {kind}
    found = [pod for pod in pods(graph) if pod.kind == kind]
    assert [pod.where.rsplit(" ", 1)[1] for pod in found] == [
        {"pytorch": "Master", "tensorflow": "Chief"}[framework],
        "Worker",
    ]
    for pod in found:  # as the API server would see the replica's pod
        assert upstream_schemas.validate(as_job(pod)) == [], pod.where


def test_the_retrain_receiver_gets_no_token(tmp_path: pathlib.Path) -> None:
    graph = compile_text(tmp_path, RECEIVER_BASE)[DEV]
    receivers = [pod for pod in pods(graph) if pod.containers[0].get("name") == "retrain-receiver"]
    assert [pod.kind for pod in receivers] == ["Deployment"]
    assert assert_tokens(graph) >= {"Deployment", "InferenceService"}


def test_trial_pods_are_valid_jobs_without_a_token(upstream_schemas: UpstreamSchemas) -> None:
    """Katib keeps every field of an Experiment: its trial Job is checked as a Job."""
    checked = 0
    for _, graph in EXAMPLE_GRAPHS:
        for pod in pods(graph):
            if pod.kind == "Experiment":
                assert upstream_schemas.validate(as_job(pod)) == [], pod.where
                assert pod.spec[TOKEN] is False
                checked += 1
    assert checked
