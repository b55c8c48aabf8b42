"""The roles and helpers the IAM tests share: compile an example, list the grants of its workloads."""

from __future__ import annotations

from conftest import EXAMPLES

from mlopsctl.api import Validation, compile_graphs, validate
from mlopsctl.compiler.iam import (
    BUCKET_IAM_MEMBER,
    DATASET_IAM_MEMBER,
    PROJECT_IAM_MEMBER,
    SECRET_IAM_MEMBER,
    TABLE_IAM_MEMBER,
)
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource

DEV = Target("dev", "us-central1")
GRANTS = (BUCKET_IAM_MEMBER, DATASET_IAM_MEMBER, TABLE_IAM_MEMBER, SECRET_IAM_MEMBER, PROJECT_IAM_MEMBER)
ON = {
    BUCKET_IAM_MEMBER: "bucket",
    DATASET_IAM_MEMBER: "datasetId",
    TABLE_IAM_MEMBER: "tableId",
    SECRET_IAM_MEMBER: "secretId",
}
VIEW, USE = "roles/storage.objectViewer", "roles/storage.objectUser"
READ, EDIT = "roles/bigquery.dataViewer", "roles/bigquery.dataEditor"
JOBS, SESSIONS = "roles/bigquery.jobUser", "roles/bigquery.readSessionUser"
VERTEX_USER = "roles/aiplatform.user"


def _validated(name: str) -> Validation:
    [path] = [p for p in EXAMPLES if p.parent.name == name]
    return validate(ConfigSource(path, "mlops.yaml", None))


def _example(name: str) -> dict[Target, Graph]:
    return compile_graphs(_validated(name))


WORKLOADS = ("pipeline-", "endpoint-", "batch-", "monitor-", "account-")
"""The graph names of the workloads' accounts begin with their kind (the GKE nodes', the secret
reader's and the platform's own accounts are tested with them)."""


def _workload_grants(graph: Graph) -> list[Resource]:
    """The grants of workloads."""
    return [r for r in graph if r.type in GRANTS and r.name.startswith(WORKLOADS)]


def _grants(graph: Graph) -> set[tuple[str, str, str, str]]:
    """(type, name, role, what it is granted on: bucket, dataset id, secret or project)."""
    return {
        (r.type, r.name, r.inputs["role"], r.inputs[ON.get(r.type, "project")])
        for r in _workload_grants(graph)
    }


def _member(graph: Graph, name: str) -> Resource:
    [found] = [r for r in graph if r.type in GRANTS and r.name == name]
    return found
