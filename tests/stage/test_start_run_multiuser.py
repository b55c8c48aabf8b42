"""The KFP clients of each example's compiled graph, run against a fake multi-user KFP API.

Each client pod is played as the cluster would run it: its projected service account token is
written where its pod spec mounts it (for the audience and account the spec names), its
environment as the spec sets it, its ``--config`` as compiled. The fake answers like KFP 2.17 in
multi-user mode: Istio admits requests without a ``kubeflow-userid`` header, a token is accepted
only for the ``pipelines.kubeflow.org`` audience, and each call is authorized by the RBAC the
graph grants the token's account (the SubjectAccessReview KFP asks: resource and verb on
``pipelines.kubeflow.org`` in the namespace). Cutting any of these wires fails a run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from pathlib import Path
from typing import Any

import fake_kfp_api
import pytest
from conftest import EXAMPLES
from fake_kfp_api import PREFIX, FakeKfp
from kfp_multiuser import calls_kfp, example_graphs, kfp_grants, pod_templates, retrain_entries

from mlopsctl.graph import Graph
from mlopsctl_stage import runs
from mlopsctl_stage.cli import main
from mlopsctl_stage.kfp_api import Pipelines, RunTarget

AUDIENCE = "pipelines.kubeflow.org"
KFP_API = "http://ml-pipeline.kubeflow.svc.cluster.local:8888"


class MultiUserKfp(FakeKfp):
    """The fake KFP API behind Istio's and KFP's multi-user checks."""

    grants: dict[str, set[tuple[str, str]]]
    """User → (resource, verb) the RBAC allows it in the namespace."""
    reviews: list[tuple[str, str, str, str]]
    """(user, namespace, resource, verb) of every SubjectAccessReview asked."""

    def request(
        self, method: str, path: str, query: dict[str, str], headers: Message, data: bytes
    ) -> tuple[int, Any]:
        if headers.get("kubeflow-userid") is not None:
            return 403, {"code": 7, "message": "RBAC: access denied"}  # Istio's ml-pipeline policy
        user = _token_review(headers.get("Authorization"))
        if user is None:
            return 401, {"code": 16, "message": "Unauthenticated: the token review failed"}
        review = self._attributes(method, path, query, json.loads(data) if data else None)
        if review is not None:
            namespace, resource, verb = review
            self.reviews.append((user, namespace, resource, verb))
            if (resource, verb) not in self.grants.get(f"{namespace}/{user}", set()):
                return 403, {"code": 7, "message": f"{user} may not {verb} {resource} in {namespace}"}
        return super().request(method, path, query, headers, data)

    def _attributes(
        self, method: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[str, str, str] | None:
        """(namespace, resource, verb) KFP 2.17 authorizes a v2beta1 call by."""
        parts = path.removeprefix(PREFIX).strip("/").split("/")
        experiments = {e["experiment_id"]: e["namespace"] for e in self.experiments}
        if parts[:2] == ["pipelines", "names"]:
            return query.get("namespace", ""), "pipelines", "get"
        if parts[0] == "pipelines" and parts[2:] == ["versions"]:
            namespaces = {p["pipeline_id"]: p["namespace"] for p in self.pipelines.values()}
            return namespaces.get(parts[1], ""), "pipelines", "list"
        if parts == ["experiments"]:
            if method == "GET":
                return query.get("namespace", ""), "experiments", "list"
            return body.get("namespace", ""), "experiments", "create"
        if parts == ["runs"]:
            if method == "GET":
                return experiments.get(query.get("experiment_id", ""), ""), "runs", "list"
            return experiments.get(body.get("experiment_id", ""), ""), "runs", "create"
        return None


def _token_review(authorization: str | None) -> str | None:
    """The user of a bearer token, if it was issued for KFP's audience."""
    if not authorization or not authorization.startswith("Bearer "):
        return None
    token = json.loads(authorization.removeprefix("Bearer "))
    return str(token["sub"]) if AUDIENCE in token["aud"] else None


def _graphs() -> list[Any]:
    """The targets whose pipelines are published to Kubeflow Pipelines (not placed on Vertex AI)."""
    return [
        pytest.param(graph, id=f"{path.parent.name}-{target}")
        for path in EXAMPLES
        for target, graph in example_graphs(path).items()
        if any(r.type.endswith(":PipelineVersion") for r in graph)
    ]


@contextmanager
def _kfp(grants: dict[str, set[tuple[str, str]]]) -> Iterator[MultiUserKfp]:
    """A fresh fake KFP API that knows no experiment or run yet."""
    fake = MultiUserKfp()
    fake.grants, fake.reviews = grants, []
    with fake_kfp_api.serve_json(fake.request) as address:
        fake.url = address
        yield fake


def _run_pod(
    pod: dict[str, Any],
    container: dict[str, Any],
    namespace: str,
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Run ``container`` as the kubelet would: its projected tokens written under ``root`` (its ``/``)."""
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    mounts = [m["mountPath"] for m in container.get("volumeMounts") or []]
    for mount in container.get("volumeMounts") or []:
        for source in volumes[mount["name"]].get("projected", {}).get("sources", []):
            token = source.get("serviceAccountToken")
            if token is not None:
                subject = f"system:serviceaccount:{namespace}:{pod['serviceAccountName']}"
                path = root / mount["mountPath"].lstrip("/") / token["path"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps({"aud": [token["audience"]], "sub": subject}))
    for env in container.get("env") or []:
        value = str(env["value"])
        inside = any(value.startswith(f"{m}/") for m in mounts)
        monkeypatch.setenv(env["name"], str(root / value.lstrip("/")) if inside else value)
    config = json.loads(container["args"][1])
    stage = container["command"][1]
    if stage == "start-run":
        main(["start-run", *container["args"]])
    elif stage == "retrain-receiver":  # on each monitor's alert: a run, unless one is not over
        for entry in retrain_entries(stage, config):
            target = runs.from_config(entry, subject="retrain")
            assert target.active_run() is None
            target.start()
    else:  # a drift or skew monitor's breach
        for entry in retrain_entries(stage, config):
            Pipelines(entry["endpoint"]).start(RunTarget.from_config(entry))


@pytest.mark.parametrize("graph", _graphs())
def test_each_kfp_client_starts_its_runs_with_exactly_the_access_it_is_granted(
    graph: Graph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [namespace] = [r.name for r in graph if r.type == "kubernetes:core/v1:Namespace"]
    granted = {f"{namespace}/system:serviceaccount:{namespace}:{k}": v for k, v in kfp_grants(graph).items()}
    used: dict[str, set[tuple[str, str]]] = {}
    clients = [(r, pod, c) for r, pod in pod_templates(graph) for c in pod["containers"] if calls_kfp(c)]
    assert clients, "the example has no KFP client"
    for index, (resource, pod, container) in enumerate(clients):
        config = json.loads(container["args"][1])
        targets = retrain_entries(container["command"][1], config) or [config]
        with _kfp(granted) as kfp, monkeypatch.context() as scoped:
            settings = tmp_path / f"pod-{index}.json"
            settings.write_text(json.dumps({"root": "data", "endpoints": {KFP_API: f"http://{kfp.url}"}}))
            scoped.setenv("MLOPSCTL_STAGE_LOCAL", str(settings))
            for target in targets:
                kfp.add_pipeline(target["pipeline"], target["namespace"], [target["pipelineVersion"]])
            _run_pod(pod, container, namespace, tmp_path / f"pod-{index}", scoped)
        versions = {v["pipeline_version_id"]: v["name"] for vs in kfp.versions.values() for v in vs}
        runs = [
            (versions[r["pipeline_version_reference"]["pipeline_version_id"]], r["service_account"])
            for r in kfp.created_runs()
        ]
        assert runs == [(t["pipelineVersion"], t["serviceAccount"]) for t in targets], resource.address
        user = f"system:serviceaccount:{namespace}:{pod['serviceAccountName']}"
        assert {u for u, *_ in kfp.reviews} == {user}, resource.address
        for _, ns, what, verb in kfp.reviews:
            used.setdefault(f"{ns}/{user}", set()).add((what, verb))
    assert used == granted  # nothing granted that no client uses
