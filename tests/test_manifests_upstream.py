"""Every Kubernetes object of every example, environment and region, strictly valid upstream."""

from __future__ import annotations

import pathlib

import pytest
from conftest import EXAMPLES
from upstream_schemas import UpstreamSchemas

from mlopsctl.api import compile_graphs, validate
from mlopsctl.config.source import ConfigSource

NO_UPSTREAM_SCHEMA = {
    ("external-secrets.io/v1", "SecretStore"),
    ("external-secrets.io/v1", "ExternalSecret"),
    ("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass"),
    ("secret-sync.gke.io/v1", "SecretSync"),
}
"""Kinds with no schema in ../shared/schemas-upstream: tests/compiler/test_secrets.py checks their
fields against closed schemas written from the upstream CRDs' field names."""
CLUSTER_SCOPED = {"Namespace", "Profile", "ClusterRole", "ClusterRoleBinding"}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_rendered_objects_are_valid_against_upstream_schemas(
    example: pathlib.Path, upstream_schemas: UpstreamSchemas
) -> None:
    validation = validate(ConfigSource(example, str(example), None))
    graphs = compile_graphs(validation)
    checked = 0
    for graph in graphs.values():
        for resource in graph:
            key = (resource.inputs.get("apiVersion"), resource.inputs.get("kind"))
            if resource.is_kubernetes and key not in NO_UPSTREAM_SCHEMA:
                assert upstream_schemas.validate(dict(resource.inputs)) == [], resource.address
                checked += 1
    assert checked >= len(graphs)


def test_every_object_is_labelled_and_namespaced() -> None:
    validation = validate(ConfigSource(EXAMPLES[0], "mlops.yaml", None))
    for graph in compile_graphs(validation).values():
        for resource in graph:
            if not resource.is_kubernetes:
                continue
            metadata = resource.inputs["metadata"]
            assert metadata["labels"]["app.kubernetes.io/managed-by"] == "mlopsctl"
            assert metadata["labels"]["mlopsctl.dev/env"] == graph.target.env
            assert resource.inputs["kind"] in CLUSTER_SCOPED or metadata["namespace"]
