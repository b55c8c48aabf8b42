"""Provenance: every Kubernetes object and labelled Google Cloud resource names the commit, the
address and the mlops.yaml line that made it; the table of labelled types matches pulumi-gcp."""

from __future__ import annotations

import importlib
import pathlib
import pkgutil
import re
import subprocess
import typing
from typing import Any

import pytest
from conftest import EXAMPLES
from gitrepos import git, git_init_and_commit
from helpers import CLF_API, OWNED_STAGED_DATA, write
from upstream_schemas import UpstreamSchemas

import mlopsctl.compiler
from mlopsctl import api
from mlopsctl.compiler import provenance
from mlopsctl.compiler.provenance import (
    ADDRESS,
    COMMIT,
    COMMIT_LABEL,
    LABELLED,
    NAME_LABEL,
    SOURCE,
    TYPE_LABEL,
    label_value,
    stamped_commit,
)
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.sourcemap import SourceMap
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource

CONFIG = OWNED_STAGED_DATA + CLF_API
"""Buckets, a dataset, a cluster and node pools, and an endpoint's Kubernetes objects."""
DEV = Target("dev", "us-central1")
ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
LABEL_PROPERTIES = frozenset({"labels", "resourceLabels", "userLabels"})
"""The names pulumi-gcp gives a resource's own Google Cloud labels."""
VALID_LABEL = re.compile(r"[a-z0-9_-]{0,63}")


def _graphs(path: pathlib.Path) -> dict[Target, Graph]:
    with api.open_config(path) as validation:
        assert validation.ok, [d.to_text() for d in validation.diagnostics]
        return api.compile_graphs(validation)


@pytest.fixture
def committed(tmp_path: pathlib.Path) -> tuple[pathlib.Path, str]:
    """CONFIG committed in a Git repository, and the commit."""
    path = write(tmp_path / "src", CONFIG)
    git_init_and_commit(path.parent, "config")
    return path, git(path.parent, "rev-parse", "HEAD").strip()


def test_every_kubernetes_object_names_its_address_source_and_commit(
    committed: tuple[pathlib.Path, str],
) -> None:
    path, commit = committed
    graphs = _graphs(path)
    objects = [r for g in graphs.values() for r in g if r.is_kubernetes]
    assert objects
    for r in objects:
        annotations = r.inputs["metadata"]["annotations"]
        assert annotations[ADDRESS] == r.address
        assert annotations[COMMIT] == commit
        assert re.fullmatch(r"mlops\.yaml:[1-9]\d*:[1-9]\d*", annotations[SOURCE]), r.address
    variant_line = next(n for n, line in enumerate(CONFIG.splitlines(), 1) if line.startswith("      main:"))
    isvc = graphs[DEV].resources[f"{DEV}/{ISVC}/api-main"]  # made by variant 'main' of endpoint 'api'
    assert isvc.inputs["metadata"]["annotations"][SOURCE] == f"mlops.yaml:{variant_line}:7"


def test_every_labelled_cloud_resource_names_its_address_and_commit(
    committed: tuple[pathlib.Path, str],
) -> None:
    path, commit = committed
    graphs = _graphs(path)
    labelled = 0
    for graph in graphs.values():
        for r in graph:
            if r.type not in LABELLED:
                assert COMMIT_LABEL not in str(r.inputs), r.address
                continue
            labels = _at(r.inputs, LABELLED[r.type])
            assert labels[TYPE_LABEL] == label_value(r.type)
            assert labels[NAME_LABEL] == label_value(r.name)
            assert labels[COMMIT_LABEL] == commit
            assert labels["mlops-env"] == graph.target.env  # next to the labels it had
            assert all(VALID_LABEL.fullmatch(v) for v in labels.values()), labels
            labelled += 1
    kinds = {r.type for g in graphs.values() for r in g if r.type in LABELLED}
    assert {"gcp:storage/bucket:Bucket", "gcp:container/nodePool:NodePool"} <= kinds and labelled >= 9


@pytest.mark.parametrize("committed_state", ["edited", "untracked", "outside"])
def test_no_commit_is_stamped_where_no_commit_holds_the_lines(
    tmp_path: pathlib.Path, committed_state: str
) -> None:
    path = write(tmp_path / "src", CONFIG)
    if committed_state != "outside":
        subprocess.run(["git", "init", "-q", str(path.parent)], check=True)
    if committed_state == "edited":
        git_init_and_commit(path.parent, "config")
        path.write_text(CONFIG + "# edited\n", encoding="utf-8")
    for graph in _graphs(path).values():
        for r in graph:
            text = str(r.inputs)
            assert COMMIT not in text and COMMIT_LABEL not in text, r.address
            if r.is_kubernetes:
                assert r.inputs["metadata"]["annotations"][ADDRESS] == r.address


@pytest.mark.parametrize(
    ("source_commit", "stamped"),
    [
        (None, None),
        ("0123456789abcdef0123456789abcdef01234567", "0123456789abcdef0123456789abcdef01234567"),
        ("0123456789abcdef0123456789abcdef01234567-dirty", None),
        ("a" * 64, "a" * 64),  # a SHA-256 repository
    ],
)
def test_stamped_commit(source_commit: str | None, stamped: str | None) -> None:
    assert stamped_commit(source_commit) == stamped


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("gcp:storage/bucket:Bucket", "gcp-storage-bucket-bucket"),
        ("mlopsctl:vertex/modelVersion:ModelVersion", "mlopsctl-vertex-modelversion-modelversion"),
        ("clf@v1", "clf-v1"),
        ("logs.fraud_api_requests", "logs-fraud_api_requests"),
        ("-Edge-", "edge"),
        ("x" * 63, "x" * 63),
    ],
)
def test_label_values_follow_google_cloud_rules(text: str, value: str) -> None:
    assert label_value(text) == value


def test_a_long_label_value_is_cut_with_a_hash_of_the_whole() -> None:
    first, second = label_value("a" * 70 + "1"), label_value("a" * 70 + "2")
    assert len(first) == len(second) == 63 and first != second
    assert VALID_LABEL.fullmatch(first) and first.startswith("a" * 54 + "-")


def test_stamped_objects_stay_valid_upstream(
    committed: tuple[pathlib.Path, str], upstream_schemas: UpstreamSchemas
) -> None:
    objects = [r for g in _graphs(committed[0]).values() for r in g if r.is_kubernetes]
    for r in objects:
        assert upstream_schemas.validate(dict(r.inputs)) == [], r.address


def _at(inputs: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        inputs = inputs[key]
    return inputs


# The table of labelled types, checked against the provider classes themselves.


def _emitted_types() -> set[str]:
    """The cloud types of every example, and every type token a compiler module names."""
    found: set[str] = set()
    for example in EXAMPLES:
        validation = api.validate(ConfigSource(example, example.name, None))
        if validation.ok:
            found |= {r.type for g in api.compile_graphs(validation).values() for r in g}
    for module in pkgutil.iter_modules(mlopsctl.compiler.__path__):
        names = vars(importlib.import_module(f"mlopsctl.compiler.{module.name}"))
        found |= {v for v in names.values() if isinstance(v, str) and re.fullmatch(r"[a-z]+:[\w./]+:\w+", v)}
    return {t for t in found | set(LABELLED) if t.startswith(("gcp:", "mlopsctl:vertex/"))}


def _gcp_properties(cls: type) -> dict[str, Any]:
    """Input property (camelCase) → type, of the pulumi-gcp input type ``cls``."""
    from pulumi._types import input_type_py_to_pulumi_names, input_type_types

    names = input_type_py_to_pulumi_names(cls)
    types = input_type_types(cls)
    return {pulumi: types.get(pulumi) for pulumi in names.values()}


def _input_class(hint: Any) -> type | None:
    from pulumi._types import is_input_type, unwrap_type

    hint = unwrap_type(hint)
    candidates = typing.get_args(hint) if typing.get_origin(hint) is typing.Union else (hint,)
    found = [c for c in candidates if isinstance(c, type) and is_input_type(c)]
    return found[0] if found else None


def _inputs(type_token: str) -> dict[str, Any]:
    """Input property (camelCase) → its type, of the class the Pulumi program makes ``type_token`` with."""
    if type_token.startswith("mlopsctl:vertex/"):
        from mlopsctl.pulumi.vertex.resources import RESOURCES

        return {i.name: i.kind for i in RESOURCES[type_token].PROVIDER.INPUTS}
    from mlopsctl.pulumi.types import args_class, resource_class

    found = resource_class(type_token)
    assert found is not None, f"pulumi-gcp has no {type_token}"
    return _gcp_properties(args_class(found))


def _has_input_at(type_token: str, path: tuple[str, ...]) -> bool:
    properties = _inputs(type_token)
    for key in path[:-1]:
        cls = _input_class(properties[key]) if key in properties else None
        if cls is None:
            return False
        properties = _gcp_properties(cls)
    return path[-1] in properties


@pytest.mark.parametrize("type_token", sorted(_emitted_types()))
def test_the_label_table_matches_the_provider_classes(type_token: str) -> None:
    path = LABELLED.get(type_token)
    if path is not None:
        assert _has_input_at(type_token, path), f"{type_token} has no input {'.'.join(path)}"
    else:
        found = sorted(LABEL_PROPERTIES & _inputs(type_token).keys())
        assert not found, f"{type_token} takes {found}: add it to provenance.LABELLED"


def test_the_table_covers_the_types_that_already_carry_mlopsctl_labels(
    committed: tuple[pathlib.Path, str],
) -> None:
    """A type the compiler labels with ``gcp_labels`` (``managed-by``) is in the table."""
    for graph in _graphs(committed[0]).values():
        for r in graph:
            if not r.is_kubernetes and "'managed-by': 'mlopsctl'" in str(r.inputs):
                assert r.type in provenance.LABELLED, r.type


def test_unlabelled_accounts_and_scheduler_jobs_end_their_description_in_their_address(
    committed: tuple[pathlib.Path, str],
) -> None:
    path, commit = committed
    described = [r for g in _graphs(path).values() for r in g if r.type in provenance.DESCRIBED]
    assert any(r.type == "gcp:serviceaccount/account:Account" for r in described)
    for r in described:
        description = r.inputs["description"]
        assert description.endswith(f"[mlopsctl: {r.address}]"), description
        assert commit not in description  # a new commit changes no description
        assert len(description.encode()) <= provenance.DESCRIBED[r.type]


def test_a_long_description_is_cut_before_the_address_and_stamping_twice_changes_nothing() -> None:
    account = "gcp:serviceaccount/account:Account"
    for text in ("x" * 300, "é" * 200):  # IAM counts bytes of UTF-8
        graph = Graph(DEV, "p")
        graph.add(Resource(DEV, account, "a", {"description": text}))
        origin = provenance.Origin("mlops.yaml", "mlops.yaml", SourceMap(), None)
        provenance.stamp(graph, origin)
        once = graph.resources[f"{DEV}/{account}/a"].inputs["description"]
        provenance.stamp(graph, origin)
        assert graph.resources[f"{DEV}/{account}/a"].inputs["description"] == once
        assert 250 < len(once.encode()) <= 256 and once.endswith(f"... [mlopsctl: {DEV}/{account}/a]")
