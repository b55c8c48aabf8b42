"""The platform each cluster runs for its workloads: which implementation of each shared service."""

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from mlopsctl.config.models.types import Spec

AddOnName = Literal[
    "cert-manager",
    "istio-base",
    "istiod",
    "istio-ingressgateway",
    "kserve-crd",
    "kserve",
    "kserve-runtimes",
    "keda",
    "flagger",
    "kube-prometheus-stack",
    "kubeflow-roles",
    "kubeflow-istio-resources",
    "kubeflow-pipelines-cluster",
    "kubeflow-pipelines",
    "profile-controller",
    "katib",
    "training-operator",
    "jobset",
    "external-secrets",
]


AddOnVersion = Annotated[str, StringConstraints(pattern=r"^v?[0-9]+(\.[0-9]+){1,3}$")]


class Platform(Spec):
    metrics: Literal["managed", "in-cluster"] = Field(
        default="managed",
        description=(
            "managed: Google Managed Prometheus collects (PodMonitoring), evaluates the alert rules (Rules) "
            "and answers queries through its frontend; in-cluster: kube-prometheus-stack (Prometheus "
            "Operator: PodMonitor, PrometheusRule)."
        ),
    )
    mesh: Literal["in-cluster", "managed"] = Field(
        default="in-cluster",
        description="in-cluster: Istio installed from its Helm charts; managed: Cloud Service Mesh (fleet).",
    )
    secrets: Literal["external-secrets", "gke-addon"] = Field(
        default="external-secrets",
        description=(
            "How Secret Manager secrets reach pods as Kubernetes Secrets: External Secrets Operator keeps "
            "them in sync; gke-addon: GKE's Secret Manager add-on syncs them (SecretSync; GKE 1.34+)."
        ),
    )
    versions: dict[AddOnName, AddOnVersion] = Field(
        default={},
        description=(
            "Another exact version for an add-on than the one this mlopsctl release is tested with "
            "(see `mlopsctl platform`); a check refuses a version that lacks what the workloads use."
        ),
    )
