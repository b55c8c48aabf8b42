"""Secret Manager secrets reach the Secrets pods read: External Secrets Operator or GKE's secret sync.

ESO's kinds, the Secrets Store CSI driver's SecretProviderClass and GKE's SecretSync have no schema in
the upstream schemas folder: ``KINDS`` below states the fields mlopsctl relies on, as read from
external-secrets v1.1.0 (``config/crds/bases``: external-secrets.io/v1 served and stored; the gcpsm
provider's ``projectID`` and ``auth.workloadIdentity.{clusterProjectID, clusterLocation, clusterName,
serviceAccountRef.name}``; ExternalSecret ``data[].{secretKey, remoteRef.{key, version}}``,
``target.{name, creationPolicy}``), the secrets-store CSI driver's v1 CRD (``provider``,
``parameters`` of strings) and GKE's ``secret-sync.gke.io/v1`` SecretSync (``serviceAccountName``,
``secretProviderClassName``, ``secretObject.{type, data[].{sourcePath, targetKey}}``). Every object
is checked against it with unknown fields refused.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from conftest import ROOT
from helpers import OWNED, compile_text
from jsonschema import Draft7Validator  # type: ignore[import-untyped]
from upstream_schemas import UpstreamSchemas

from mlopsctl.api import compile_graphs, validate
from mlopsctl.compiler.cluster import CLUSTER
from mlopsctl.compiler.iam import SECRET_IAM_MEMBER
from mlopsctl.compiler.identity import GSA, GSA_IAM_MEMBER
from mlopsctl.compiler.kfp_dag import secret_object_name
from mlopsctl.compiler.provenance import PROVENANCE, without
from mlopsctl.compiler.secrets import EXTERNAL_SECRET, PROVIDER_CLASS, SECRET_STORE, SECRET_SYNC
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource, address_of
from mlopsctl_stage.cli import STAGES

DEV = Target("dev", "us-central1")
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
PIPELINES = """\
accelerators:
  gpu: {type: gpu, accelerator: nvidia-l4, count: 1}
pipelines:
  train:
    steps:
      fetch:
        image: fetcher:1
        command: [fetch]
        secrets: {TOKEN: api-token, OTHER: projects/shared-secrets/secrets/key/versions/3}
      fit:
        kind: train
        image: trainer:1
        command: [fit]
        secrets: {TOKEN: projects/acme-demo-dev/secrets/api-token, HF: projects/shared-secrets/secrets/hf}
        distributed: {framework: pytorch, workers: 2}
        resources: {nodePool: gpu, accelerators: 1}
        dependsOn: [fetch]
  plain:
    steps:
      only: {image: worker:1, command: [work], secrets: {TOKEN: api-token}}
"""
GKE_ADDON = "platform:\n  secrets: gke-addon\n"
REFERENCED = {
    ("acme-demo-dev", "api-token"),
    ("shared-secrets", "key"),
    ("shared-secrets", "hf"),
}

_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_METADATA = {
    "type": "object",
    "required": ["name", "namespace"],
    "properties": {
        "name": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,  # provenance (docs/provenance.md)
    },
    "additionalProperties": False,
}


def _closed(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required or sorted(properties),
        "additionalProperties": False,
    }


def _kind(api_version: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return _closed(
        {"apiVersion": {"const": api_version}, "kind": {"const": kind}, "metadata": _METADATA, "spec": spec}
    )


_NAME = {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 253}
KINDS: dict[str, dict[str, Any]] = {
    SECRET_STORE: _kind(
        "external-secrets.io/v1",
        "SecretStore",
        _closed(
            {
                "provider": _closed(
                    {
                        "gcpsm": _closed(
                            {
                                "projectID": {"type": "string"},
                                "auth": _closed(
                                    {
                                        "workloadIdentity": _closed(
                                            {
                                                "clusterProjectID": {"type": "string"},
                                                "clusterLocation": {"type": "string"},
                                                "clusterName": {"type": "string"},
                                                "serviceAccountRef": _closed({"name": _NAME}),
                                            }
                                        )
                                    }
                                ),
                            }
                        )
                    }
                )
            }
        ),
    ),
    EXTERNAL_SECRET: _kind(
        "external-secrets.io/v1",
        "ExternalSecret",
        _closed(
            {
                "refreshInterval": {"type": "string", "pattern": "^([0-9]+(ns|us|µs|ms|s|m|h))+$"},
                "secretStoreRef": _closed({"kind": {"enum": ["SecretStore"]}, "name": _NAME}),
                "target": _closed({"name": _NAME, "creationPolicy": {"const": "Owner"}}),
                "data": {
                    "type": "array",
                    "minItems": 1,
                    "items": _closed(
                        {
                            "secretKey": {"type": "string", "pattern": "^[-._a-zA-Z0-9]+$"},
                            "remoteRef": _closed({"key": {"type": "string"}, "version": {"type": "string"}}),
                        }
                    ),
                },
            }
        ),
    ),
    PROVIDER_CLASS: _kind(
        "secrets-store.csi.x-k8s.io/v1",
        "SecretProviderClass",
        _closed({"provider": {"const": "gke"}, "parameters": _STRING_MAP}),
    ),
    SECRET_SYNC: _kind(
        "secret-sync.gke.io/v1",
        "SecretSync",
        _closed(
            {
                "serviceAccountName": _NAME,
                "secretProviderClassName": _NAME,
                "secretObject": _closed(
                    {
                        "type": {"const": "Opaque"},
                        "data": {
                            "type": "array",
                            "items": _closed(
                                {"sourcePath": {"type": "string"}, "targetKey": {"type": "string"}}
                            ),
                        },
                    }
                ),
            }
        ),
    ),
}


def _graph(tmp_path: pathlib.Path, extra: str = "") -> Graph:
    return compile_text(tmp_path, OWNED + PIPELINES + extra)[DEV]


def _of(graph: Graph, type_: str) -> list[Resource]:
    return [r for r in graph if r.type == type_]


def _named(graph: Graph, type_: str, name: str) -> Resource:
    return graph.resources[address_of(DEV, type_, name)]


def _walk(value: Any) -> Iterator[dict[str, Any]]:
    """Every mapping in ``value``, also inside strings that hold JSON (a launcher's ``--config``)."""
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)
    elif isinstance(value, str) and value.startswith('{"'):
        yield from _walk(json.loads(value))


def pod_references(graph: Graph) -> dict[str, set[tuple[str, str]]]:
    """The (Secret, key) pairs pods read, by where: kfp's ``secretAsEnv``, or a ``secretKeyRef``."""
    found: dict[str, set[tuple[str, str]]] = {"kfp": set(), "secretKeyRef": set()}
    for resource in graph:
        for mapping in _walk(resource.inputs):
            for entry in mapping.get("secretAsEnv", []):
                found["kfp"] |= {(entry["secretName"], k["secretKey"]) for k in entry["keyToEnv"]}
            ref = mapping.get("secretKeyRef")
            if ref is not None:
                found["secretKeyRef"].add((ref["name"], ref["key"]))
    return found


def delivered(graph: Graph) -> set[tuple[str, str]]:
    """The (Secret, key) pairs that ExternalSecrets or SecretSyncs keep."""
    pairs = set()
    for es in _of(graph, EXTERNAL_SECRET):
        assert es.inputs["metadata"]["name"] == es.inputs["spec"]["target"]["name"]
        pairs |= {(es.inputs["spec"]["target"]["name"], d["secretKey"]) for d in es.inputs["spec"]["data"]}
    for sync in _of(graph, SECRET_SYNC):
        data = sync.inputs["spec"]["secretObject"]["data"]
        pairs |= {(sync.inputs["metadata"]["name"], d["targetKey"]) for d in data}
    return pairs


@pytest.mark.parametrize("extra", ["", GKE_ADDON], ids=["external-secrets", "gke-addon"])
def test_each_secret_pods_read_is_kept_under_its_name_and_key(tmp_path: pathlib.Path, extra: str) -> None:
    graph = _graph(tmp_path, extra)
    read = pod_references(graph)
    assert read["kfp"] and read["secretKeyRef"], "steps and the distributed job's pods both read secrets"
    assert delivered(graph) == read["kfp"] | read["secretKeyRef"]
    assert len(delivered(graph)) == 4  # api-token named two ways, key/versions/3, hf


def test_the_example_step_reads_the_secret_eso_keeps() -> None:
    path = ROOT / "examples" / "projects" / "digits" / "mlops.yaml"
    graph = compile_graphs(validate(ConfigSource(path, "mlops.yaml", None)))[DEV]
    read = pod_references(graph)
    assert delivered(graph) == read["kfp"] | read["secretKeyRef"] != set()


@pytest.mark.parametrize(
    ("reference", "project", "secret", "version"),
    [
        ("api-token", "acme-demo-dev", "api-token", "latest"),
        ("projects/acme-demo-dev/secrets/api-token", "acme-demo-dev", "api-token", "latest"),
        ("projects/shared-secrets/secrets/key/versions/3", "shared-secrets", "key", "3"),
        ("projects/shared-secrets/secrets/hf", "shared-secrets", "hf", "latest"),
    ],
)
def test_each_secret_reads_the_referenced_version_from_its_project(
    tmp_path: pathlib.Path, reference: str, project: str, secret: str, version: str
) -> None:
    name = secret_object_name(reference)
    graph = _graph(tmp_path / "eso")
    es = _named(graph, EXTERNAL_SECRET, name)
    assert es.inputs["spec"]["data"][0]["remoteRef"] == {"key": secret, "version": version}
    store = _named(graph, SECRET_STORE, es.inputs["spec"]["secretStoreRef"]["name"])
    assert store.inputs["spec"]["provider"]["gcpsm"]["projectID"] == project
    assert store.address in es.depends_on

    gke = _graph(tmp_path / "gke", GKE_ADDON)
    provider = _named(gke, PROVIDER_CLASS, name)
    [listed] = yaml.safe_load(provider.inputs["spec"]["parameters"]["secrets"])
    sync = _named(gke, SECRET_SYNC, name)
    assert sync.inputs["spec"]["secretProviderClassName"] == provider.inputs["metadata"]["name"]
    assert listed == {
        "resourceName": f"projects/{project}/secrets/{secret}/versions/{version}",
        "path": sync.inputs["spec"]["secretObject"]["data"][0]["sourcePath"],
    }


def _reader_grants(graph: Graph) -> list[Resource]:
    return [g for g in _of(graph, SECRET_IAM_MEMBER) if g.name.startswith("secret-reader-")]


def test_the_reader_may_access_exactly_the_referenced_secrets(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path)
    gsa = _named(graph, GSA, "secret-reader")
    email = f"{gsa.inputs['accountId']}@{gsa.inputs['project']}.iam.gserviceaccount.com"
    grants = _reader_grants(graph)
    assert {(g.inputs["project"], g.inputs["secretId"]) for g in grants} == REFERENCED
    assert len(grants) == len(REFERENCED)
    assert {(g.inputs["role"], g.inputs["member"]) for g in grants} == {
        ("roles/secretmanager.secretAccessor", f"serviceAccount:{email}")
    }
    # Nothing else is granted to the reader: no project role, no other resource.
    members = [r for r in graph if r.type.lower().endswith("iammember") and email in str(r.inputs)]
    assert sorted(r.address for r in members) == sorted(
        [g.address for g in grants] + [address_of(DEV, GSA_IAM_MEMBER, "secret-reader-workload-identity")]
    )


def test_the_store_authenticates_as_the_account_workload_identity_binds(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path)
    [cluster] = _of(graph, CLUSTER)
    gsa = _named(graph, GSA, "secret-reader")
    email = f"{gsa.inputs['accountId']}@{gsa.inputs['project']}.iam.gserviceaccount.com"
    binding = _named(graph, GSA_IAM_MEMBER, "secret-reader-workload-identity")
    pool = cluster.inputs["workloadIdentityConfig"]["workloadPool"]
    stores = _of(graph, SECRET_STORE)
    assert {s.inputs["spec"]["provider"]["gcpsm"]["projectID"] for s in stores} == {
        "acme-demo-dev",
        "shared-secrets",
    }
    for store in stores:
        auth = store.inputs["spec"]["provider"]["gcpsm"]["auth"]["workloadIdentity"]
        ksa = _named(graph, SERVICE_ACCOUNT, auth["serviceAccountRef"]["name"])
        namespace = store.inputs["metadata"]["namespace"]
        assert ksa.inputs["metadata"]["namespace"] == namespace
        annotations = without(ksa.type, ksa.inputs, PROVENANCE)["metadata"]["annotations"]
        assert annotations == {"iam.gke.io/gcp-service-account": email}
        assert binding.inputs == {
            "serviceAccountId": f"projects/{gsa.inputs['project']}/serviceAccounts/{email}",
            "role": "roles/iam.workloadIdentityUser",
            "member": f"serviceAccount:{pool}[{namespace}/{ksa.name}]",
        }
        # ESO exchanges the account's token in the pool of the cluster it names.
        assert f"{auth['clusterProjectID']}.svc.id.goog" == pool
        assert (auth["clusterName"], auth["clusterLocation"], auth["clusterProjectID"]) == (
            cluster.inputs["name"],
            cluster.inputs["location"],
            cluster.inputs["project"],
        )
        assert {ksa.address, binding.address} <= set(store.depends_on)


def test_the_gke_sync_reads_as_the_account_that_holds_the_grants(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path, GKE_ADDON)
    assert not _of(graph, SECRET_STORE) and not _of(graph, EXTERNAL_SECRET)
    assert "secret-reader" not in {r.name for r in _of(graph, GSA)}
    [cluster] = _of(graph, CLUSTER)
    accounts = {s.inputs["spec"]["serviceAccountName"] for s in _of(graph, SECRET_SYNC)}
    [ksa] = [r for r in _of(graph, SERVICE_ACCOUNT) if r.name in accounts]
    namespace = ksa.inputs["metadata"]["namespace"]
    assert {s.inputs["metadata"]["namespace"] for s in _of(graph, SECRET_SYNC)} == {namespace}
    grants = _reader_grants(graph)
    assert {(g.inputs["project"], g.inputs["secretId"]) for g in grants} == REFERENCED
    pool = cluster.inputs["workloadIdentityConfig"]["workloadPool"]
    for grant in grants:
        prefix, number, rest = grant.inputs["member"]["fn::join"][1]
        assert (prefix, number["fn::invoke"]["return"]) == (
            "principal://iam.googleapis.com/projects/",
            "number",
        )
        assert number["fn::invoke"]["arguments"] == {"projectId": cluster.inputs["project"]}
        assert rest == f"/locations/global/workloadIdentityPools/{pool}/subject/ns/{namespace}/sa/{ksa.name}"
        assert grant.inputs["role"] == "roles/secretmanager.secretAccessor"


@pytest.mark.parametrize("extra", ["", GKE_ADDON], ids=["external-secrets", "gke-addon"])
def test_objects_have_only_the_verified_fields(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas, extra: str
) -> None:
    graph = _graph(tmp_path, extra)
    checked = [r for r in graph if r.type in KINDS]
    assert {r.type for r in checked} == (
        {SECRET_STORE, EXTERNAL_SECRET} if not extra else {PROVIDER_CLASS, SECRET_SYNC}
    )
    for resource in checked:
        errors = [e.message for e in Draft7Validator(KINDS[resource.type]).iter_errors(resource.inputs)]
        assert errors == [], resource.address
    for ksa in _of(graph, SERVICE_ACCOUNT):
        assert upstream_schemas.validate(dict(ksa.inputs)) == [], ksa.address


def test_without_secrets_nothing_is_synced(tmp_path: pathlib.Path) -> None:
    graph = compile_text(
        tmp_path, OWNED + "pipelines:\n  p:\n    steps:\n      s: {image: w:1, command: [w]}\n"
    )
    assert not [r for r in graph[DEV] if r.type in KINDS or "secret-reader" in r.name]


def test_no_sync_job_remains() -> None:
    path = ROOT / "examples" / "projects" / "digits" / "mlops.yaml"
    for graph in compile_graphs(validate(ConfigSource(path, "mlops.yaml", None))).values():
        assert not [
            r.address for r in graph if "secret-sync" in r.name or "sync-secrets" in json.dumps(r.inputs)
        ]
    assert "sync-secrets" not in STAGES
