"""Where each section runs: on the project's GKE clusters, or on Vertex AI's managed services."""

from typing import Literal

from pydantic import Field

from mlopsctl.config.models.types import Spec

Runtime = Literal["gke", "vertex"]


class Placement(Spec):
    """Each section on its own; an environment's `overrides.placement` switches it (dev on Vertex AI,
    prod on GKE, or the reverse)."""

    pipelines: Runtime = Field(
        default="gke",
        description=(
            "gke: Kubeflow Pipelines in the cluster; vertex: Vertex AI Pipelines (the same compiled "
            "PipelineSpec, run as the pipeline's service account)."
        ),
    )
    endpoints: Runtime = Field(
        default="gke",
        description=(
            "gke: KServe InferenceServices behind Istio; vertex: Vertex AI endpoints with deployed "
            "models from the Model Registry and a traffic split."
        ),
    )
    monitors: Runtime = Field(
        default="gke",
        description=(
            "gke: drift/skew CronJobs and Prometheus rules; vertex: Vertex AI Model Monitoring and "
            "alert policies on Vertex AI's endpoint metrics."
        ),
    )

    @property
    def uses_vertex(self) -> bool:
        return "vertex" in (self.pipelines, self.endpoints, self.monitors)

    @property
    def needs_cluster(self) -> bool:
        """Whether a section is placed on GKE (``MLOpsConfig.needs_cluster`` says whether one there is
        declared)."""
        return "gke" in (self.pipelines, self.endpoints, self.monitors)
