"""The whole mlops.yaml document."""

from typing import Any, Literal

from pydantic import Field

from mlopsctl import __version__
from mlopsctl.config.models.cluster import Cluster
from mlopsctl.config.models.compute import NodePool
from mlopsctl.config.models.data import Data
from mlopsctl.config.models.monitoring import AlertChannel, Monitor
from mlopsctl.config.models.pipelines import Pipeline
from mlopsctl.config.models.platform import Platform
from mlopsctl.config.models.policies import Policies
from mlopsctl.config.models.registry import RegisteredModel
from mlopsctl.config.models.security import Security
from mlopsctl.config.models.serving import BatchJob, Endpoint
from mlopsctl.config.models.types import (
    Duration,
    EnvName,
    GcpProjectId,
    Image,
    Labels,
    Name,
    RegionName,
    Spec,
)

API_VERSION = "mlopsctl.dev/v1alpha1"
KIND = "MLOpsProject"


DEFAULT_STAGE_IMAGE = f"ghcr.io/mlopsctl/mlopsctl-stage:{__version__}"
"""The stage runtime image released with this version of mlopsctl (``stage/``)."""


class ProjectMeta(Spec):
    name: Name
    description: str = ""
    owner: str = ""
    namespace: Name | None = Field(
        default=None, description="Kubernetes namespace of every workload; default: the project name."
    )
    labels: Labels = {}
    stage_image: Image = Field(
        default=DEFAULT_STAGE_IMAGE,
        description=(
            "Image of the stage runtime (mlopsctl-stage): what built-in steps, launchers, request "
            "loggers, monitors and run starters run. Default: the release image of this mlopsctl "
            "version; mirror it into your Artifact Registry and name it here for private clusters."
        ),
    )
    templates: str | None = Field(
        default=None,
        description=(
            "Folder, relative to mlops.yaml, whose templates replace the built-in ones of the same name."
        ),
    )


class Promotion(Spec):
    from_env: EnvName | None = Field(
        default=None, alias="from", description="The environment releases are promoted from."
    )
    soak: Duration = Field(
        default="0s",
        description="How long each region runs a release before the next region (or environment) gets it.",
    )
    approval: bool = Field(
        default=False, description="Require a reviewed commit to promote into this environment."
    )


class Overlay(Spec):
    """A partial spec merged over the base: maps merge deeply, lists replace, null removes."""

    project: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    accelerators: dict[str, Any] | None = None
    pipelines: dict[str, Any] | None = None
    models: dict[str, Any] | None = None
    endpoints: dict[str, Any] | None = None
    batch_jobs: dict[str, Any] | None = None
    monitors: dict[str, Any] | None = None
    alert_channels: dict[str, Any] | None = None
    security: dict[str, Any] | None = None
    cluster: dict[str, Any] | None = None
    platform: dict[str, Any] | None = None
    policies: dict[str, Any] | None = None


class Environment(Spec):
    gcp_project: GcpProjectId
    regions: list[RegionName] = Field(
        min_length=1, description="Regions to deploy to, in the order a release rolls through them."
    )
    labels: Labels = {}
    promotion: Promotion = Promotion()
    overrides: Overlay = Overlay()
    region_overrides: dict[RegionName, Overlay] = {}


class MLOpsConfig(Spec):
    """An MLOps project: its data, pipelines, models, endpoints and monitors, per environment and region."""

    api_version: Literal["mlopsctl.dev/v1alpha1"]
    kind: Literal["MLOpsProject"]
    project: ProjectMeta
    environments: dict[EnvName, Environment] = Field(min_length=1)
    data: Data = Data()
    accelerators: dict[Name, NodePool] = {}
    pipelines: dict[Name, Pipeline] = {}
    models: dict[Name, RegisteredModel] = {}
    endpoints: dict[Name, Endpoint] = {}
    batch_jobs: dict[Name, BatchJob] = {}
    monitors: dict[Name, Monitor] = {}
    alert_channels: dict[Name, AlertChannel] = {}
    security: Security = Security()
    cluster: Cluster = Cluster()
    platform: Platform = Platform()
    policies: Policies = Policies()
