"""Type tokens to SDK classes, and planned inputs to the SDK's ``*Args`` and back without loss."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest
from conftest import EXAMPLES
from mocked import Recorder, run
from pulumi._types import input_type_to_dict, is_input_type

from mlopsctl import api
from mlopsctl.config.source import ConfigSource
from mlopsctl.graph import is_deferred
from mlopsctl.pulumi.types import InputError, args_class, resource_class, to_args
from mlopsctl.views.plan_json import render_json


def _planned_changes() -> list[dict[str, Any]]:
    """Every change of the plan of every example against empty state, as the JSON plan has it."""
    changes = []
    for path in EXAMPLES:
        validation = api.validate(ConfigSource(path, path.name, None))
        plan, _ = api.make_plan(validation, api.compile_graphs(validation), {})
        rendered = json.loads(render_json(plan))
        changes += [{**c, "project": rendered["project"]} for c in rendered["resource_changes"]]
    return changes


PLANNED = [c for c in _planned_changes() if c["type"].startswith("gcp:")]


def _unresolve(value: Any) -> Any:
    """A deferred value passes as written (resolving them is tested with the program)."""
    return value


KNOWN_AFTER_APPLY = "(known after apply)"


def _placeholder(_: Any) -> str:
    """A deferred value as the string most of them become (for the SDK's type checks)."""
    return KNOWN_AFTER_APPLY


def _placeholders(value: Any) -> Any:
    if is_deferred(value):
        return KNOWN_AFTER_APPLY
    if isinstance(value, dict):
        return {k: _placeholders(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholders(v) for v in value]
    return value


def _back(value: Any) -> Any:
    """The provider-named JSON an ``*Args`` value stands for (what the SDK sends)."""
    if is_input_type(type(value)):
        return {k: _back(v) for k, v in input_type_to_dict(value).items() if v is not None}
    if isinstance(value, dict):
        return {k: _back(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_back(v) for v in value]
    return value


def test_the_examples_plan_google_cloud_resources() -> None:
    assert {"gcp:storage/bucket:Bucket", "gcp:serviceaccount/iAMMember:IAMMember"} <= {
        c["type"] for c in PLANNED
    }


@pytest.mark.parametrize("change", PLANNED, ids=[f"{c['project']}/{c['address']}" for c in PLANNED])
def test_planned_inputs_become_args_and_back_unchanged(change: dict[str, Any]) -> None:
    cls = resource_class(change["type"])
    assert cls is not None
    after = change["change"]["after"]
    assert _back(to_args(args_class(cls), after, change["address"], _unresolve)) == after


def test_the_real_classes_send_every_planned_input() -> None:
    def program() -> dict[str, Any]:
        created = {}
        for change in PLANNED:
            cls = resource_class(change["type"])
            assert cls is not None
            args = to_args(args_class(cls), change["change"]["after"], change["address"], _placeholder)
            created[_name(change)] = cls(_name(change), args)
        return created

    recorder = Recorder()
    run(program, recorder)
    got = {r.name: r.inputs for r in recorder.resources if not r.type.startswith("pulumi:providers:")}
    assert got == {_name(c): _placeholders(c["change"]["after"]) for c in PLANNED}


def _name(change: dict[str, Any]) -> str:
    return f"{change['project']}-{change['address']}".replace("/", "-")


@pytest.mark.parametrize(
    ("token", "module", "name"),
    [
        ("gcp:serviceaccount/iAMMember:IAMMember", "pulumi_gcp.serviceaccount", "IAMMember"),
        ("gcp:projects/iAMMember:IAMMember", "pulumi_gcp.projects", "IAMMember"),
        ("gcp:container/cluster:Cluster", "pulumi_gcp.container", "Cluster"),
        ("gcp:container/nodePool:NodePool", "pulumi_gcp.container", "NodePool"),
        ("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "pulumi_gcp.kms", "CryptoKeyIAMMember"),
        ("gcp:bigquery/datasetIamMember:DatasetIamMember", "pulumi_gcp.bigquery", "DatasetIamMember"),
        ("gcp:storage/bucketIAMMember:BucketIAMMember", "pulumi_gcp.storage", "BucketIAMMember"),
        ("gcp:monitoring/alertPolicy:AlertPolicy", "pulumi_gcp.monitoring", "AlertPolicy"),
        (
            "gcp:monitoring/notificationChannel:NotificationChannel",
            "pulumi_gcp.monitoring",
            "NotificationChannel",
        ),
        ("gcp:artifactregistry/repository:Repository", "pulumi_gcp.artifactregistry", "Repository"),
        ("kubernetes:core/v1:ServiceAccount", "pulumi_kubernetes.core.v1", "ServiceAccount"),
        ("kubernetes:batch/v1:CronJob", "pulumi_kubernetes.batch.v1", "CronJob"),
        (
            "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
            "pulumi_kubernetes.apiextensions.v1",
            "CustomResourceDefinition",
        ),
    ],
)
def test_type_tokens_find_their_registered_class(token: str, module: str, name: str) -> None:
    cls = resource_class(token)
    assert cls is getattr(importlib.import_module(module), name)
    assert is_input_type(args_class(cls))


@pytest.mark.parametrize(
    "token",
    [
        "kubernetes:serving.kserve.io/v1beta1:InferenceService",
        "kubernetes:networking.istio.io/v1:VirtualService",
        "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
    ],
)
def test_custom_resource_kinds_have_no_class(token: str) -> None:
    assert resource_class(token) is None


@pytest.mark.parametrize("token", ["gcp:storage", "aws:s3/bucket:Bucket"])
def test_unusable_tokens_are_refused(token: str) -> None:
    with pytest.raises(InputError):
        resource_class(token)
