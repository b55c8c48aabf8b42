"""Where a workload's pods run: the node pool's selector, the taints they tolerate, and
the accelerators they ask for. Shared by pipeline steps and inference services.

Node pools are named by their key under ``accelerators``; GPU pools are tainted
``nvidia.com/gpu``, TPU pools ``google.com/tpu`` and spot pools
``cloud.google.com/gke-spot=true`` (all NoSchedule).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlopsctl.config.models.compute import CpuPool, GpuPool, TpuPool

NodePool = GpuPool | TpuPool | CpuPool
NODE_POOL_LABEL = "cloud.google.com/gke-nodepool"


@dataclass(frozen=True)
class Placement:
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict[str, str]] = field(default_factory=list)
    """Kubernetes Tolerations (``key``, ``operator``, ``value``, ``effect``)."""
    accelerator: str | None = None
    """The extended resource the pool's accelerators are requested as."""
    accelerators: int = 0


def _toleration(key: str, value: str | None = None) -> dict[str, str]:
    if value is None:
        return {"key": key, "operator": "Exists", "effect": "NoSchedule"}
    return {"key": key, "operator": "Equal", "value": value, "effect": "NoSchedule"}


def placement(pool_name: str | None, pool: NodePool | None, accelerators: int) -> Placement:
    """Pods on pool ``pool_name`` (anywhere when None), with ``accelerators`` of its kind each."""
    if pool is None or pool_name is None:
        return Placement()
    tolerations: list[dict[str, str]] = []
    accelerator = None
    if isinstance(pool, GpuPool):
        accelerator = "nvidia.com/gpu"
    elif isinstance(pool, TpuPool):
        accelerator = "google.com/tpu"
    if accelerator:
        tolerations.append(_toleration(accelerator))
    if pool.spot:
        tolerations.append(_toleration("cloud.google.com/gke-spot", "true"))
    return Placement(
        {NODE_POOL_LABEL: pool_name},
        tolerations,
        accelerator if accelerators else None,
        accelerators if accelerator else 0,
    )
