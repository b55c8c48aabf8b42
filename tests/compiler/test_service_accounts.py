"""No unused service accounts: every Google service account in a graph acts for something that runs."""

from __future__ import annotations

import base64
import functools
import json
import pathlib
import re
from collections.abc import Iterator

import pytest
from conftest import EXAMPLES
from helpers import CLF_API, OWNED_STAGED, STAGED, compile_text

from mlopsctl.api import Validation, compile_graphs, validate
from mlopsctl.compiler.cluster import CLUSTER, NODE_POOL
from mlopsctl.compiler.identity import GSA, GSA_IAM_MEMBER
from mlopsctl.compiler.vertex_models import DEPLOYMENT
from mlopsctl.compiler.vertex_pipelines import SCHEDULER_JOB
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import JSON, Graph

DEV = Target("dev", "us-central1")
_WORKLOAD_IDENTITY = re.compile(r"^serviceAccount:[^\[]+\.svc\.id\.goog\[(?P<ns>[^/]+)/(?P<ksa>[^\]]+)\]$")


def objects_in(value: JSON) -> Iterator[dict[str, JSON]]:
    """Every mapping inside ``value``, JSON documents held in strings (a stage's config) included."""
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from objects_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from objects_in(item)
    elif isinstance(value, str) and value[:1] in "{[":
        try:
            parsed = json.loads(value)
        except ValueError:
            return
        yield from objects_in(parsed)


def _acting_accounts(graph: Graph) -> set[tuple[str, str]]:
    """(namespace, name) of each Kubernetes service account something runs as: a Pod
    (``serviceAccountName`` in its object's namespace), a KFP run a run starter or monitor
    starts (``serviceAccount`` beside its ``namespace``), or a controller that authenticates as
    it (an External Secrets store's ``serviceAccountRef``)."""
    found: set[tuple[str, str]] = set()
    for resource in graph:
        namespace = (resource.inputs.get("metadata") or {}).get("namespace")
        for obj in objects_in(dict(resource.inputs)):
            if isinstance(obj.get("serviceAccountName"), str) and namespace:
                found.add((namespace, obj["serviceAccountName"]))
            if isinstance(obj.get("serviceAccount"), str) and isinstance(obj.get("namespace"), str):
                found.add((obj["namespace"], obj["serviceAccount"]))
            reference = obj.get("serviceAccountRef")
            if isinstance(reference, dict) and namespace:
                found.add((str(reference.get("namespace") or namespace), str(reference["name"])))
    return found


def _vertex_accounts(graph: Graph) -> set[str]:
    """The emails of the Google service accounts Vertex AI runs as: PipelineJobs' of a ``start-run``
    config or a monitor's ``retrain`` entry with ``backend: vertex`` (docs/stages.md), and of the
    PipelineJobs a Cloud Scheduler job posts (its body, base64-encoded JSON); deployed models'."""
    found: set[str] = set()
    for resource in graph:
        jobs = [obj for obj in objects_in(dict(resource.inputs)) if obj.get("backend") == "vertex"]
        target = resource.inputs["httpTarget"] if resource.type == SCHEDULER_JOB else {}
        if str(target.get("uri")).endswith("/pipelineJobs"):
            jobs.append(json.loads(base64.b64decode(target["body"])))
        found |= {job["serviceAccount"] for job in jobs if isinstance(job.get("serviceAccount"), str)}
        if resource.type == DEPLOYMENT:  # models deployed to a Vertex AI endpoint run as the endpoint's
            found |= {str(m["serviceAccount"]) for m in resource.inputs["deployedModels"]}
    return found


def unused_accounts(graph: Graph) -> list[str]:
    """The graph names of the Google service accounts that nothing runs as (a pod, through Workload
    Identity, a node pool, or Vertex AI)."""
    nodes = {r.inputs["nodeConfig"]["serviceAccount"] for r in graph if r.type in (CLUSTER, NODE_POOL)}
    bound: dict[str, set[tuple[str, str]]] = {}
    for member in graph:
        found = _WORKLOAD_IDENTITY.match(str(member.inputs.get("member", "")))
        if member.type == GSA_IAM_MEMBER and found:
            assert member.inputs["role"] == "roles/iam.workloadIdentityUser"
            email = str(member.inputs["serviceAccountId"]).rsplit("/", 1)[-1]
            bound.setdefault(email, set()).add((found["ns"], found["ksa"]))
    acting = _acting_accounts(graph)
    vertex = _vertex_accounts(graph)
    unused = []
    for account in (r for r in graph if r.type == GSA):
        email = f"{account.inputs['accountId']}@{account.inputs['project']}.iam.gserviceaccount.com"
        if email not in nodes | vertex and not bound.get(email, set()) & acting:
            unused.append(account.name)
    return unused


@functools.cache
def validated(path: pathlib.Path) -> Validation:
    validation = validate(ConfigSource(path, "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return validation


@functools.cache
def graphs_of(path: pathlib.Path) -> dict[Target, Graph]:
    """The graphs of an example, compiled once for the tests that read them."""
    return compile_graphs(validated(path))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_every_google_service_account_of_the_examples_is_used(path: pathlib.Path) -> None:
    for target, graph in graphs_of(path).items():
        assert [r for r in graph if r.type == GSA], target
        assert unused_accounts(graph) == [], target


MONITORS = (
    """\
data:
  datasets:
    serving: {tables: {baseline: {schema: [{name: x, type: FLOAT64}]}}}
"""
    + CLF_API
    + """\
    logging: {dataset: serving}
monitors:
  api-drift:
    type: drift
    endpoint: api
    baseline: {dataset: serving, table: baseline}
    features: {x: {kind: numeric}}
    schedule: {cron: "0 * * * *"}
  api-latency:
    type: latency
    endpoint: api
    objective: 250
"""
)


def test_slo_monitors_get_no_account_and_drift_monitors_run_as_theirs(tmp_path: pathlib.Path) -> None:
    graph = compile_text(tmp_path, STAGED + MONITORS)[DEV]
    accounts = sorted(r.name for r in graph if r.type == GSA)
    assert "monitor-api-latency" not in accounts
    assert "monitor-api-drift" in accounts
    assert unused_accounts(graph) == []


def test_an_account_nothing_runs_as_is_found(tmp_path: pathlib.Path) -> None:
    """The check itself: a declared account no workload names is bound, but nothing runs as it."""
    text = STAGED + MONITORS + "security:\n  serviceAccounts:\n    spare: {}\n"
    assert unused_accounts(compile_text(tmp_path, text)[DEV]) == ["account-spare"]


VERTEX_PIPELINE = """\
placement: {pipelines: vertex}
pipelines:
  train:
    steps: {fit: {image: "trainer:1", command: [fit]}}
"""


def test_an_account_vertex_ai_runs_a_scheduled_pipeline_as_is_used(tmp_path: pathlib.Path) -> None:
    """No pod runs as the account of a pipeline on Vertex AI: the PipelineJob that its Cloud Scheduler
    job posts does."""
    schedule = '    schedule: {cron: "0 3 * * *"}\n'
    graph = compile_text(tmp_path, OWNED_STAGED + VERTEX_PIPELINE + schedule)[DEV]
    assert "pipeline-train" in {r.name for r in graph if r.type == GSA}
    assert unused_accounts(graph) == []
    # The schedule is what runs as it here: without one, only `mlopsctl run` starts the pipeline.
    unscheduled = compile_text(tmp_path / "unscheduled", OWNED_STAGED + VERTEX_PIPELINE)[DEV]
    assert unused_accounts(unscheduled) == ["pipeline-train"]
