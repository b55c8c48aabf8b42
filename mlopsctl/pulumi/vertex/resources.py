"""The dynamic resources of the graph's ``mlopsctl:vertex/`` types, registered by the Pulumi program.

Pulumi routes a dynamic resource by its own type token, ``pulumi-python:dynamic/vertex:NAME``
(``PULUMI_TYPES``); its inputs are the graph's, deferred values resolved to Outputs. Outputs a
later resource reads through ``fn::output`` (a model version's ``name``) are properties the
program's resolver finds as it finds those of the provider SDKs' classes.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi.dynamic

from mlopsctl.pulumi.types import InputError, Resolve, convert
from mlopsctl.pulumi.vertex.base import VertexProvider
from mlopsctl.pulumi.vertex.deployment import DeploymentProvider
from mlopsctl.pulumi.vertex.model import ModelVersionProvider
from mlopsctl.pulumi.vertex.monitor import ModelMonitorProvider


def _output(pulumi_name: str) -> Any:
    """A property reading output ``pulumi_name``, marked as the SDKs mark theirs."""

    @pulumi.getter(name=pulumi_name)
    def get(self: pulumi.Resource) -> Any:
        return pulumi.get(self, pulumi_name)

    return property(get)


class _Vertex(pulumi.dynamic.Resource):
    PROVIDER: type[VertexProvider]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
        outputs = dict.fromkeys(self.PROVIDER.OUTPUTS)
        super().__init__(self.PROVIDER(), name, {**props, **outputs}, opts)


class ModelVersion(_Vertex, module="vertex", name="ModelVersion"):
    PROVIDER = ModelVersionProvider
    name = _output("name")
    version_id = _output("versionId")


class Deployment(_Vertex, module="vertex", name="Deployment"):
    PROVIDER = DeploymentProvider
    endpoint_name = _output("endpointName")
    deployed_model_ids = _output("deployedModelIds")


class ModelMonitor(_Vertex, module="vertex", name="ModelMonitor"):
    PROVIDER = ModelMonitorProvider
    name = _output("name")
    schedule_names = _output("scheduleNames")


RESOURCES: Mapping[str, type[_Vertex]] = {
    "mlopsctl:vertex/modelVersion:ModelVersion": ModelVersion,
    "mlopsctl:vertex/deployment:Deployment": Deployment,
    "mlopsctl:vertex/modelMonitor:ModelMonitor": ModelMonitor,
}
"""Graph type token → dynamic resource class."""

PULUMI_TYPES = {token: f"pulumi-python:{cls._resource_type_name}" for token, cls in RESOURCES.items()}
"""Graph type token → the type token Pulumi records (part of the URN)."""


def create_resource(
    type_token: str, name: str, inputs: Mapping[str, Any], resolve: Resolve, opts: pulumi.ResourceOptions
) -> pulumi.Resource:
    """The dynamic resource for a graph resource; a key the provider does not take is refused here."""
    where = f"{type_token}/{name}"
    cls = RESOURCES.get(type_token)
    if cls is None:
        raise InputError(f"{where}: no such Vertex AI resource type (known: {', '.join(RESOURCES)})")
    if importlib.util.find_spec("google.cloud.aiplatform_v1") is None:  # the providers' client library
        raise ModuleNotFoundError("No module named 'google.cloud.aiplatform'", name="google.cloud.aiplatform")
    takes = {field.name for field in cls.PROVIDER.INPUTS}
    for key in inputs:
        if key not in takes:
            hint = f"it takes {', '.join(sorted(takes))}"
            raise InputError(f"{where}: {cls.__name__} has no input {key!r} ({hint})")
    props = {key: convert(None, value, f"{where}.{key}", resolve) for key, value in inputs.items()}
    return cls(name, props, opts)
