"""Names that resources get in Google Cloud and Kubernetes, derived from what the user wrote.

Names the user sees and may want to find (buckets, datasets, namespaces) are
never shortened: a name that is too long is a validation error. Names that
are an implementation detail (service account ids) are shortened with a
short hash so they stay unique and stable.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.models.data import Bucket, Dataset
from mlopsctl.config.models.monitoring import DataMonitor
from mlopsctl.config.models.security import SHARED_NETWORK
from mlopsctl.config.sourcemap import Path
from mlopsctl.config.target import Target

Workload = Literal["pipeline", "endpoint", "monitor", "batch", "account"]
"""What a service account is for; ``account`` is one declared under security.serviceAccounts."""
_WORKLOAD_PREFIX: dict[Workload, str] = {
    "pipeline": "pl",
    "endpoint": "ep",
    "monitor": "mon",
    "batch": "bj",
    "account": "sa",
}

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
BUCKET_NAME = re.compile(r"^[a-z0-9][-_.a-z0-9]*[a-z0-9]$")
DATASET_ID = re.compile(r"^[A-Za-z0-9_]+$")
GSA_ACCOUNT_ID = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")


def shorten(name: str, limit: int) -> str:
    """``name`` if it fits in ``limit``; otherwise a prefix plus a 6-character hash of the whole."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[: limit - 7].rstrip('-')}-{digest}"


_DIRECTIONS = {
    "central": "c",
    "east": "e",
    "west": "w",
    "north": "n",
    "south": "s",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
}


def region_short(region: str) -> str:
    """``us-central1`` → ``usc1``, ``asia-southeast1`` → ``asse1``: distinct for distinct regions."""
    area, _, rest = region.partition("-")
    direction = rest.rstrip("0123456789")
    number = rest[len(direction) :]
    return f"{area[:2]}{_DIRECTIONS.get(direction, direction)}{number}"


def namespace(config: MLOpsConfig) -> str:
    return config.project.namespace or config.project.name


def bucket_name(config: MLOpsConfig, target: Target, key: str, bucket: Bucket) -> str:
    return bucket.name or f"{config.project.name}-{target.env}-{target.region}-{key}"


PIPELINE_ROOT = "pipeline-root"
"""The key of the bucket that pipeline runs write their artifacts to (implied unless declared)."""


def bucket_of(config: MLOpsConfig, target: Target, key: str) -> str:
    """The name of bucket ``key``: one under data.buckets, or the implied pipeline root."""
    return bucket_name(config, target, key, config.data.buckets.get(key) or Bucket())


def has_pipeline_root(config: MLOpsConfig) -> bool:
    """Whether anything runs as a pipeline (pipelines and batch jobs), and so needs the root bucket."""
    return bool(config.pipelines or config.batch_jobs)


def pipeline_root(config: MLOpsConfig, target: Target) -> str:
    """The ``defaultPipelineRoot`` of every compiled pipeline of a target."""
    return f"gs://{bucket_of(config, target, PIPELINE_ROOT)}/root"


def registry_folder(uris: Iterable[str]) -> str | None:
    """The folder all of a model's versions live in: the common parent of their artifact URIs."""
    common = posixpath.commonpath(posixpath.dirname(uri.removeprefix("gs://").rstrip("/")) for uri in uris)
    return f"gs://{common}/" if common else None


def dataset_id(target: Target, key: str, dataset: Dataset) -> str:
    """Dataset ids are unique per GCP project, which an environment's regions share."""
    return dataset.dataset_id or f"{key}_{target.env}_{target.region}".replace("-", "_")


def batch_pipeline(job: str) -> str:
    """The Kubeflow pipeline a batch prediction job runs as."""
    return f"batch-{job}"


def workload_account(kind: Workload, name: str, target: Target) -> str:
    """The Kubernetes service account of a workload, e.g. ``endpoint-fraud-prod-usc1``.

    Clusters in one GCP project share its Workload Identity pool, where a Kubernetes
    account is known only by namespace and name: the target in the name keeps each
    region's workload from acting as another region's (or environment's) Google account.
    """
    return shorten(f"{kind}-{name}-{target.env}-{region_short(target.region)}", 63)


def gsa_account_id(kind: Workload, name: str, target: Target) -> str:
    """The Google service account id of a workload: unique per environment and region in a project."""
    return shorten(f"{_WORKLOAD_PREFIX[kind]}-{name}-{target.env}-{region_short(target.region)}", 30)


def gsa_email(kind: Workload, name: str, target: Target, gcp_project: str) -> str:
    return f"{gsa_account_id(kind, name, target)}@{gcp_project}.iam.gserviceaccount.com"


CLUSTER_NAME_LIMIT = 40
"""GKE cluster names have at most 40 characters."""


def cluster_name(config: MLOpsConfig, target: Target) -> str:
    """The GKE cluster of a target; a name over the limit is a validation error, never shortened
    (it is what ``gcloud container clusters get-credentials`` and consoles show)."""
    return project_cluster_name(config.project.name, target)


def project_cluster_name(project: str, target: Target) -> str:
    """:func:`cluster_name` from the project's name, for what no longer has the config (apply targets)."""
    return f"{project}-{target.env}-{region_short(target.region)}"


def node_account_id(target: Target) -> str:
    """The Google service account every node of a target's cluster runs as."""
    return shorten(f"gke-nodes-{target.env}-{region_short(target.region)}", 30)


def repository_id(config: MLOpsConfig) -> str:
    """The Artifact Registry repository of a project (one per region of each GCP project)."""
    return config.project.name


MODEL_ID_LIMIT = 63
"""A registry model id is ``[a-z_][a-z0-9_-]{0,62}``."""


def model_id(config: MLOpsConfig, model: str) -> str:
    """The Vertex AI Model Registry id of a model: ``<project>-<model>`` (shortened with a hash past 63
    characters); one per GCP project and region."""
    return shorten(f"{config.project.name}-{model}", MODEL_ID_LIMIT)


def inference_service(endpoint: str, variant: str) -> str:
    """The KServe InferenceService of one endpoint variant.

    KServe derives ``<name>-predictor`` (the Deployment and Service of a raw deployment)
    from it, so it is kept short enough for those to stay DNS labels.
    """
    return shorten(f"{endpoint}-{variant}", 45)


def predictor_services(config: MLOpsConfig, endpoint: str) -> list[str]:
    """The Kubernetes Services that answer an endpoint's requests: one per variant
    (KServe's ``<isvc>-predictor``), or the InferenceGraph's own for a graph endpoint."""
    spec = config.endpoints[endpoint]
    if spec.graph is not None:
        return [endpoint]
    return [predictor_service(endpoint, variant) for variant in spec.variants]


def predictor_service(endpoint: str, variant: str) -> str:
    """The Service (and Deployment) KServe names for a variant's predictor in raw deployment mode."""
    return f"{inference_service(endpoint, variant)}-predictor"


def request_log_table(endpoint: str, table: str | None) -> str:
    """The BigQuery table an endpoint's requests and responses are logged to."""
    return table or f"{endpoint}_requests".replace("-", "_")


def monitor_table(monitor: str, kind: Literal["statistics", "alerts"]) -> str:
    """A table a drift/skew monitor writes (in its baseline's dataset): feature statistics
    of each run, or the features that crossed their thresholds."""
    return f"{monitor}_{kind}".replace("-", "_")


def endpoint_host(config: MLOpsConfig, endpoint: str) -> str:
    """The public host name of an endpoint on the Istio ingress gateway."""
    return config.endpoints[endpoint].host or f"{endpoint}.{namespace(config)}.example.internal"


def service_host(service: str, ns: str) -> str:
    """The in-cluster DNS name of a Kubernetes Service."""
    return f"{service}.{ns}.svc.cluster.local"


def tls_secret(config: MLOpsConfig, endpoint: str) -> str:
    """The TLS Secret (``tls.crt``/``tls.key``) the ingress gateway serves an endpoint's host with.

    It lives in the ingress gateway's namespace, shared by every project, hence the namespace prefix.
    """
    return f"{namespace(config)}-{endpoint}-tls"


@dataclass(frozen=True)
class PredictorPort:
    """A port of a predictor Service: its name (Istio picks the protocol by the prefix), the
    Service port, and the container port behind it."""

    name: str
    number: int
    container: int


def master_cidr(config: MLOpsConfig, target: Target) -> str:
    """The control plane range of the target's private cluster.

    Every private cluster in a VPC network needs a /28 of its own, and a network may be shared
    by projects (a Shared VPC, or several mlopsctl projects in one GCP project). By default one
    of the 4096 blocks of 172.16.0.0/16 is picked by a hash of what makes the cluster unique
    there: its GCP project, the project's name, the environment and the region. Targets of one
    config that collide anyway are found by the uniqueness check; ``masterCidr`` sets it.
    """
    if config.security.network.master_cidr:
        return config.security.network.master_cidr
    gcp_project = config.environments[target.env].gcp_project
    key = f"{gcp_project}/{config.project.name}/{target.env}/{target.region}"
    block = int(hashlib.sha256(key.encode()).hexdigest(), 16) % 4096
    return f"172.16.{block // 16}.{(block % 16) * 16}/28"


def network_project(config: MLOpsConfig, target: Target) -> str:
    """The GCP project of the cluster's VPC network: a Shared VPC host, or the target's own."""
    found = re.fullmatch(SHARED_NETWORK, config.security.network.network)
    return found[1] if found else config.environments[target.env].gcp_project


def vpc_subnetwork(config: MLOpsConfig, target: Target) -> str:
    """The cluster's subnetwork in the target's region: as given, or the one named like the
    network (what auto-mode networks have in every region); a path where the network is one."""
    network = config.security.network
    found = re.fullmatch(SHARED_NETWORK, network.network)
    name = network.subnetwork or (found[2] if found else network.network)
    if found is None or "/" in name:
        return name
    return f"projects/{found[1]}/regions/{target.region}/subnetworks/{name}"


def workloads(cfg: MLOpsConfig) -> Iterator[tuple[Workload, str, Path]]:
    """Every identity the config implies: (kind, name, source path)."""
    for name in cfg.security.service_accounts:
        yield "account", name, ("security", "serviceAccounts", name)
    for name, pipeline in cfg.pipelines.items():
        if pipeline.service_account is None:
            yield "pipeline", name, ("pipelines", name)
    for name, endpoint in cfg.endpoints.items():
        if endpoint.service_account is None:
            yield "endpoint", name, ("endpoints", name)
    for name in cfg.batch_jobs:
        yield "batch", name, ("batchJobs", name)
    # Drift and skew monitors run as CronJobs; an SLO monitor is an alerting rule, run by nobody.
    for name, monitor in cfg.monitors.items():
        if isinstance(monitor, DataMonitor):
            yield "monitor", name, ("monitors", name)


def key_ring_name(config: MLOpsConfig, target: Target) -> str:
    """The key ring of an environment's keys that mlopsctl creates."""
    return f"{config.project.name}-{target.env}"
