"""What the compiled graph says about the clients of the multi-user KFP API: which pods call it,
where they read their KFP token, and what the RBAC lets each service account do there."""

from __future__ import annotations

import functools
import json
import pathlib
from collections.abc import Iterator
from typing import Any

from mlopsctl.api import Validation, compile_graphs, validate
from mlopsctl.config.models.placement import Runtime
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource

KFP = "pipelines.kubeflow.org"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"


@functools.cache
def _validation(path: pathlib.Path) -> Validation:
    return validate(ConfigSource(path, str(path), None))


@functools.cache
def example_graphs(path: pathlib.Path) -> dict[Target, Graph]:
    """The compiled graphs of an example (compiled once per test session)."""
    return compile_graphs(_validation(path))


def pipelines_placement(path: pathlib.Path, target: Target) -> Runtime:
    """Where the example's target runs its pipelines: ``gke`` (Kubeflow Pipelines) or ``vertex``."""
    return _validation(path).targets[target].config.placement.pipelines


def of_type(graph: Graph, token: str) -> list[Resource]:
    return [r for r in graph if r.type == token]


def pod_templates(graph: Graph) -> Iterator[tuple[Resource, dict[str, Any]]]:
    """Every pod template of the graph's Kubernetes CronJobs, Jobs and Deployments."""
    for r in graph:
        if not r.is_kubernetes:
            continue  # a Cloud Run or Cloud Scheduler job
        kind = r.type.rpartition(":")[2]
        spec = r.inputs.get("spec") or {}
        if kind == "CronJob":
            yield r, spec["jobTemplate"]["spec"]["template"]["spec"]
        elif kind in ("Job", "Deployment"):
            yield r, spec["template"]["spec"]


def calls_kfp(container: dict[str, Any]) -> str | None:
    """How a stage container calls the KFP API: ``start`` or ``poll`` (start-run), ``retrain``
    (a drift or skew monitor that retrains), ``receive`` (the retrain receiver, which lists a
    pipeline's runs before it starts one), or None. Runs on Vertex AI (``backend: vertex``,
    docs/stages.md) call Vertex AI instead."""
    command = container.get("command") or []
    args = container.get("args") or []
    if command[:1] != ["mlopsctl-stage"] or args[:1] != ["--config"]:
        return None
    config = json.loads(args[1])
    if command[1] == "start-run":
        if on_vertex(config):
            return None
        return "poll" if "whenNewData" in config else "start"
    retrains = [entry for entry in retrain_entries(command[1], config) if not on_vertex(entry)]
    if not retrains:
        return None
    return "receive" if command[1] == "retrain-receiver" else "retrain"


def retrain_entries(stage: str, config: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``start-run`` entries a stage's config starts on a breach: a drift or skew monitor's list,
    or the retrain receiver's, by monitor and pipeline (for the alerts it pulls from Pub/Sub)."""
    if stage in ("drift", "skew"):
        return list(config.get("retrain", []))
    if stage == "retrain-receiver":
        return [entry for runs in config.get("retrain", {}).values() for entry in runs.values()]
    return []


def on_vertex(run: dict[str, Any]) -> bool:
    """Whether a ``start-run`` config or ``retrain`` entry starts a PipelineJob on Vertex AI."""
    return run.get("backend") == "vertex"


def kfp_token_path(pod: dict[str, Any], container: dict[str, Any]) -> str | None:
    """Where the container reads a token for the KFP audience, as its pod mounts it, if it does."""
    env = {e["name"]: str(e.get("value")) for e in container.get("env") or []}
    path = env.get("KF_PIPELINES_SA_TOKEN_PATH")
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    for mount in container.get("volumeMounts") or []:
        for source in volumes[mount["name"]].get("projected", {}).get("sources", []):
            token = source.get("serviceAccountToken")
            if token and token.get("audience") == KFP and f"{mount['mountPath']}/{token['path']}" == path:
                assert mount.get("readOnly") is True
                return path
    return None


def kfp_grants(graph: Graph) -> dict[str, set[tuple[str, str]]]:
    """(resource, verb) on pipelines.kubeflow.org each service account is granted in the namespace."""
    roles = {r.name: r.inputs for r in of_type(graph, ROLE)}
    found: dict[str, set[tuple[str, str]]] = {}
    for binding in of_type(graph, BINDING):
        role = roles[binding.inputs["roleRef"]["name"]]
        namespace = role["metadata"]["namespace"]
        for subject in binding.inputs["subjects"]:
            assert (subject["kind"], subject["namespace"]) == ("ServiceAccount", namespace)
            grants = found.setdefault(subject["name"], set())
            for rule in role["rules"]:
                assert "*" not in rule["apiGroups"] + rule["resources"] + rule["verbs"]
                if KFP in rule["apiGroups"]:
                    grants |= {(res, verb) for res in rule["resources"] for verb in rule["verbs"]}
    return {k: v for k, v in found.items() if v}
