"""The whole mlops.yaml document."""

from typing import Any, Literal

from pydantic import Field

from mlopsctl import __version__
from mlopsctl.config.models.cluster import Cluster
from mlopsctl.config.models.compute import NodePool
from mlopsctl.config.models.data import Data
from mlopsctl.config.models.features import Features
from mlopsctl.config.models.monitoring import AlertChannel, Monitor
from mlopsctl.config.models.pipelines import Pipeline
from mlopsctl.config.models.placement import Placement
from mlopsctl.config.models.platform import Platform
from mlopsctl.config.models.policies import Policies
from mlopsctl.config.models.registry import RegisteredModel
from mlopsctl.config.models.security import Security
from mlopsctl.config.models.serving import BatchJob, Endpoint
from mlopsctl.config.models.tracking import Tracking
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
    name: Name = Field(
        description="Project name: part of generated resource names, and the default Kubernetes namespace."
    )
    description: str = Field(default="", description="Free text describing the project.")
    owner: str = Field(
        default="",
        description=(
            "Owner's email; required once the project publishes pipelines (owner of its Kubeflow Profile)."
        ),
    )
    namespace: Name | None = Field(
        default=None, description="Kubernetes namespace of every workload; default: the project name."
    )
    labels: Labels = Field(
        default={},
        description=(
            "Labels on every Google Cloud resource of the project; environment and resource labels win."
        ),
    )
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

    project: dict[str, Any] | None = Field(
        default=None, description="Merged over the top-level `project` section for this target."
    )
    data: dict[str, Any] | None = Field(
        default=None, description="Merged over the top-level `data` section for this target."
    )
    accelerators: dict[str, Any] | None = Field(
        default=None, description="Merged over the top-level `accelerators` section for this target."
    )
    pipelines: dict[str, Any] | None = Field(
        default=None, description="Merged over the top-level `pipelines` section for this target."
    )
    models: dict[str, Any] | None = Field(
        default=None, description="Merged over the top-level `models` section for this target."
    )
    endpoints: dict[str, Any] | None = Field(
        default=None, description="Merged over the top-level `endpoints` section for this target."
    )
    batch_jobs: dict[str, Any] | None = Field(
        default=None, description="Merged over the top-level `batchJobs` section for this target."
    )
    monitors: dict[str, Any] | None = Field(
        default=None, description="Merged over the top-level `monitors` section for this target."
    )
    alert_channels: dict[str, Any] | None = Field(
        default=None, description="Merged over the top-level `alertChannels` section for this target."
    )
    security: dict[str, Any] | None = Field(
        default=None, description="Merged over the top-level `security` section for this target."
    )
    cluster: dict[str, Any] | None = Field(
        default=None, description="Merged over the top-level `cluster` section for this target."
    )
    platform: dict[str, Any] | None = Field(
        default=None, description="Merged over the top-level `platform` section for this target."
    )
    policies: dict[str, Any] | None = Field(
        default=None, description="Merged over the top-level `policies` section for this target."
    )
    placement: dict[str, Any] | None = Field(
        default=None, description="Merged over the top-level `placement` section for this target."
    )
    features: dict[str, Any] | None = Field(
        default=None, description="Merged over the top-level `features` section for this target."
    )
    tracking: dict[str, Any] | None = Field(
        default=None, description="Merged over the top-level `tracking` section for this target."
    )


class Environment(Spec):
    gcp_project: GcpProjectId = Field(description="ID of the GCP project this environment deploys into.")
    regions: list[RegionName] = Field(
        min_length=1, description="Regions to deploy to, in the order a release rolls through them."
    )
    labels: Labels = Field(
        default={},
        description="Labels on every Google Cloud resource of this environment, over project.labels.",
    )
    promotion: Promotion = Field(
        default=Promotion(),
        description="Where this environment's releases come from and how they roll through its regions.",
    )
    overrides: Overlay = Field(
        default=Overlay(),
        description="Partial spec merged over the base document for every region of this environment.",
    )
    region_overrides: dict[RegionName, Overlay] = Field(
        default={},
        description="Region name to a partial spec merged over the environment's, after `overrides`.",
    )


class MLOpsConfig(Spec):
    """An MLOps project: its data, pipelines, models, endpoints and monitors, per environment and region."""

    api_version: Literal["mlopsctl.dev/v1alpha1"] = Field(
        description="Version of the mlops.yaml format: mlopsctl.dev/v1alpha1."
    )
    kind: Literal["MLOpsProject"] = Field(description="Kind of document: MLOpsProject.")
    project: ProjectMeta = Field(description="The project's name, owner, labels, namespace and stage image.")
    environments: dict[EnvName, Environment] = Field(
        min_length=1,
        description=(
            "Environment name (e.g. dev, prod) to its GCP project, regions and overrides; at least one."
        ),
    )
    data: Data = Field(default=Data(), description="GCS buckets, BigQuery datasets and external sources.")
    accelerators: dict[Name, NodePool] = Field(
        default={},
        description="GKE node pools (GPU, TPU or CPU) by name, created in each environment's clusters.",
    )
    pipelines: dict[Name, Pipeline] = Field(
        default={}, description="Kubeflow pipelines by name: their steps, parameters, schedule and triggers."
    )
    models: dict[Name, RegisteredModel] = Field(
        default={}, description="Registered models by name, with their versions' artifacts."
    )
    endpoints: dict[Name, Endpoint] = Field(
        default={}, description="Online endpoints by name, served by KServe InferenceServices."
    )
    batch_jobs: dict[Name, BatchJob] = Field(
        default={},
        description="Batch prediction jobs by name: rows sent to an endpoint that serves the model version.",
    )
    monitors: dict[Name, Monitor] = Field(default={}, description="Drift, skew and SLO monitors by name.")
    alert_channels: dict[Name, AlertChannel] = Field(
        default={}, description="Email, Slack and PagerDuty channels by name, that monitors notify."
    )
    security: Security = Field(
        default=Security(), description="Service accounts, KMS keys, cluster network and mesh mTLS."
    )
    cluster: Cluster = Field(
        default=Cluster(), description="GKE release channel and maintenance window of every cluster."
    )
    platform: Platform = Field(
        default=Platform(), description="Which implementation runs each shared service, and add-on versions."
    )
    policies: Policies = Field(
        default=Policies(), description="The gates `mlopsctl check` enforces, their settings and waivers."
    )
    placement: Placement = Field(
        default=Placement(),
        description="Where pipelines, endpoints and monitors run: gke (the project's clusters) or vertex.",
    )
    features: Features = Field(
        default=Features(), description="Vertex AI Feature Store: feature groups, online stores and views."
    )
    tracking: Tracking = Field(
        default=Tracking(), description="Vertex AI experiments and TensorBoard for the project's pipelines."
    )

    @property
    def needs_cluster(self) -> bool:
        """Whether anything runs in a GKE cluster: a declared section placed on GKE, or a batch job (they
        run on Kubeflow Pipelines). A project that declares none of them keeps its cluster while a
        section is placed on GKE."""
        declared = (
            (self.placement.pipelines, self.pipelines),
            (self.placement.endpoints, self.endpoints),
            (self.placement.monitors, self.monitors),
        )
        if self.batch_jobs:
            return True
        if not any(section for _, section in declared):
            return self.placement.needs_cluster
        return any(where == "gke" and section for where, section in declared)
