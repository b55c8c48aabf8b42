"""What the pods mlopsctl defines share: where they run, what they run as, how they are locked down.

A pipeline step on Kubeflow Pipelines, a tuning trial, a distributed training
replica and an endpoint's predictor land on the same nodes with the same
accelerators: :func:`placement` decides it once for all of them.

Kubernetes API tokens: no pod mlopsctl defines calls the Kubernetes API, so every pod template
it writes says ``automountServiceAccountToken: false`` (:data:`NO_API_TOKEN`; the GKE hardening
guide, CIS GKE 5.1.6). What these pods do need comes otherwise: Google APIs through Workload
Identity (GKE's metadata server, not the pod's token); the KFP API through a projected token of
its own audience (:data:`KFP_CLIENT_VOLUME`, mounted whatever the field says); Istio's sidecar
through its own projected ``istio-token``. Nor does anything injected into them call it: Katib's
metrics collector (it reports to Katib's DB manager over gRPC), the training operator's
``init-pytorch`` (a DNS lookup), KServe's storage initializer and logger agent, GKE's Cloud
Storage FUSE sidecar. KServe gives an InferenceGraph's router no token itself (its CRD has no
field for it). The pods that do call the API are Kubeflow Pipelines' step pods (KFP and Argo
make them, and the ``tune-job`` and ``train-job`` launchers create their Experiment or job from
there): none of them is defined here.

The field is set on each pod and not on the ServiceAccounts of endpoints and monitors: the pod's
field overrides the account's, so the account's would change nothing for these pods; and an
account named under ``security.serviceAccounts`` may be shared with pipelines, whose step pods
KFP makes without the field and which need the token, and with the user's own workloads.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlopsctl.config import catalog
from mlopsctl.config.models.compute import CpuPool, GpuPool, TpuPool
from mlopsctl.config.models.pipelines import Resources
from mlopsctl.graph import JSON

NodePool = GpuPool | TpuPool | CpuPool
NODE_POOL_LABEL = "cloud.google.com/gke-nodepool"
ACCELERATOR_RESOURCES = {"gpu": "nvidia.com/gpu", "tpu": "google.com/tpu"}
"""The extended resource a pool's accelerators are requested as; also the taint key of such pools."""
TPU_ACCELERATOR_LABEL = "cloud.google.com/gke-tpu-accelerator"
TPU_TOPOLOGY_LABEL = "cloud.google.com/gke-tpu-topology"
"""Node labels GKE requires in the node selector of every pod that asks for TPU chips."""
SIDECAR_INJECTION = {"sidecar.istio.io/inject": "false"}
"""On pods that run to completion: an Istio sidecar would keep them from ever finishing."""

RESTRICTED_POD: dict[str, JSON] = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
RESTRICTED_CONTAINER: dict[str, JSON] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
"""The ``restricted`` Pod Security Standard, for the pod and for each of its containers."""
NO_API_TOKEN: dict[str, JSON] = {"automountServiceAccountToken": False}
"""In every pod spec: its containers never call the Kubernetes API (see the module docstring)."""
HEALTH_PROBES: dict[str, JSON] = {
    "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
    "livenessProbe": {
        "httpGet": {"path": "/healthz", "port": "http"},
        "periodSeconds": 10,
        "failureThreshold": 6,
    },
}
"""The probes of a stage runtime server (request-logger, retrain-receiver): ``GET /healthz`` on its
``http`` port answers 200 while it serves."""


@dataclass(frozen=True)
class Toleration:
    key: str
    operator: str
    effect: str
    value: str | None = None

    def to_json(self) -> dict[str, JSON]:
        found: dict[str, JSON] = {"key": self.key, "operator": self.operator, "effect": self.effect}
        if self.value is not None:
            found["value"] = self.value
        return found


@dataclass(frozen=True)
class Placement:
    """Node selection for a pool, and the accelerators a pod asks for there."""

    node_selector: dict[str, str]
    tolerations: tuple[Toleration, ...]
    accelerator: str | None
    """The extended resource (``nvidia.com/gpu``, ``google.com/tpu``) when ``count`` is asked for."""
    count: int


def placement(pool_name: str | None, pool: NodePool | None, accelerators: int) -> Placement:
    """Where a pod that asks for ``accelerators`` of pool ``pool_name`` runs (anywhere without a pool).

    On a TPU pool the selector also names the slice's accelerator and topology: GKE requires
    them of every pod that asks for TPU chips, and the pool's nodes carry them, so they hold
    for any pod placed there.
    """
    if pool is None or pool_name is None:
        return Placement({}, (), None, 0)
    selector = {NODE_POOL_LABEL: pool_name, **tpu_node_selector(pool)}
    tolerations: list[Toleration] = []
    resource = ACCELERATOR_RESOURCES.get(pool.type)
    if resource is not None:
        tolerations.append(Toleration(resource, "Exists", "NoSchedule"))
    if pool.spot:
        tolerations.append(Toleration("cloud.google.com/gke-spot", "Equal", "NoSchedule", "true"))
    asked = resource if resource is not None and accelerators else None
    return Placement(selector, tuple(tolerations), asked, accelerators if asked else 0)


def tpu_node_selector(pool: NodePool) -> dict[str, str]:
    """The TPU accelerator and topology labels of ``pool``'s nodes; nothing for other pools."""
    if not isinstance(pool, TpuPool):
        return {}
    accelerator = catalog.tpu_gke_accelerator(pool.version)
    assert accelerator is not None, "every TPU version the config accepts is in the catalog"
    return {TPU_ACCELERATOR_LABEL: accelerator, TPU_TOPOLOGY_LABEL: pool.topology}


def pod_placement(where: Placement) -> dict[str, JSON]:
    """The ``nodeSelector`` and ``tolerations`` of a pod spec (nothing without a pool)."""
    found: dict[str, JSON] = {}
    if where.node_selector:
        found["nodeSelector"] = dict(where.node_selector)
    if where.tolerations:
        found["tolerations"] = [t.to_json() for t in where.tolerations]
    return found


def container_resources(resources: Resources, where: Placement) -> dict[str, JSON]:
    """Requests and limits of a container: CPU and memory as asked (request = limit), accelerators."""
    amounts: dict[str, JSON] = {}
    if resources.cpu:
        amounts["cpu"] = resources.cpu
    if resources.memory:
        amounts["memory"] = resources.memory
    limits: dict[str, JSON] = dict(amounts)
    if where.accelerator is not None:
        limits[where.accelerator] = str(where.count)
    found: dict[str, JSON] = {}
    if amounts:
        found["requests"] = amounts
    if limits:
        found["limits"] = limits
    return found


KFP_TOKEN_DIR = "/var/run/secrets/kubeflow/pipelines"
KFP_CLIENT_VOLUME: dict[str, JSON] = {
    "name": "kfp-token",
    "projected": {
        "sources": [
            {
                "serviceAccountToken": {
                    "audience": "pipelines.kubeflow.org",
                    "expirationSeconds": 3600,
                    "path": "token",
                }
            }
        ]
    },
}
"""A token for the KFP API (multi-user mode accepts only its own audience)."""


def run_to_completion_pod(
    labels: dict[str, str],
    service_account: str,
    container: dict[str, JSON],
    restart_policy: str,
    where: Placement | None = None,
    *,
    kfp_client: bool = False,
    security: dict[str, JSON] = RESTRICTED_POD,
) -> dict[str, JSON]:
    """A pod template for batch work: one restricted container as ``service_account``, in a pod of
    ``security`` (restricted too).

    It runs outside the mesh, unless it calls the KFP API (``kfp_client``): that needs the
    mesh's mTLS to reach the API server, as a native sidecar that lets the Job finish, and a
    token for the KFP audience.
    """
    container = {**container, "securityContext": RESTRICTED_CONTAINER}
    if kfp_client:
        container["env"] = [{"name": "KF_PIPELINES_SA_TOKEN_PATH", "value": f"{KFP_TOKEN_DIR}/token"}]
        container["volumeMounts"] = [{"name": "kfp-token", "mountPath": KFP_TOKEN_DIR, "readOnly": True}]
    spec: dict[str, JSON] = {
        "serviceAccountName": service_account,
        **NO_API_TOKEN,
        "restartPolicy": restart_policy,
        "securityContext": security,
        "containers": [container],
        **(pod_placement(where) if where is not None else {}),
    }
    if not kfp_client:
        return {"metadata": {"labels": {**labels, **SIDECAR_INJECTION}}, "spec": spec}
    spec["volumes"] = [KFP_CLIENT_VOLUME]
    metadata: dict[str, JSON] = {"labels": labels, "annotations": {"sidecar.istio.io/nativeSidecar": "true"}}
    return {"metadata": metadata, "spec": spec}
