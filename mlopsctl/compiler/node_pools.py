"""GKE node pools: what each pool's kind decides (machine, accelerators, taints, zones, slice shape),
its scaling and upgrades, and the hardened node configuration every node mlopsctl creates runs with.

Every node runs as the cluster's node account (:mod:`mlopsctl.compiler.cluster`) with Shielded VM
secure boot and integrity monitoring, the GKE metadata server (Workload Identity), and the kubelet's
unauthenticated read-only port (10255) off: ``kubeletConfig.insecureKubeletReadonlyPortEnabled:
"FALSE"``, as the GKE hardening guide advises. pulumi-gcp changes a pool's ``kubeletConfig`` in
place (a node pool update, which GKE rolls out by recreating the nodes with the pool's upgrade
settings); no other kubelet field is required with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlopsctl.compiler.context import BuildContext
from mlopsctl.config import catalog
from mlopsctl.config.models.compute import CpuPool, GpuPool, PoolBase, TpuPool
from mlopsctl.config.naming import cluster_name
from mlopsctl.graph import JSON

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
ACCELERATOR_LABEL = "mlopsctl.dev/accelerator"
GPU_TAINT = ("nvidia.com/gpu", "present")
TPU_TAINT = ("google.com/tpu", "present")
SPOT_TAINT = ("cloud.google.com/gke-spot", "true")
READ_ONLY_PORT = {"insecureKubeletReadonlyPortEnabled": "FALSE"}
"""The kubelet's read-only port off: pulumi-gcp takes the string "TRUE" or "FALSE"."""


def secure_node_config(account: str) -> dict[str, JSON]:
    """What every node runs as and with, the cluster's short-lived default pool included."""
    return {
        "serviceAccount": account,
        "oauthScopes": [CLOUD_PLATFORM],
        "workloadMetadataConfig": {"mode": "GKE_METADATA"},
        "shieldedInstanceConfig": {"enableSecureBoot": True, "enableIntegrityMonitoring": True},
    }


@dataclass(frozen=True)
class Hardware:
    """What a pool's kind decides: machine, accelerators, taints, zones and slice shape."""

    machine_type: str
    label: str | None = None
    taints: tuple[tuple[str, str], ...] = ()
    zones: tuple[str, ...] = ()
    guest_accelerators: list[JSON] = field(default_factory=list)
    placement: dict[str, JSON] | None = None
    hosts: int | None = None
    """Nodes of a multi-host TPU slice: GKE creates and removes them together."""


def _hardware(region: str, pool: GpuPool | TpuPool | CpuPool) -> Hardware:
    if isinstance(pool, GpuPool):
        return _gpu(region, pool)
    if isinstance(pool, TpuPool):
        return _tpu(region, pool)
    return Hardware(pool.machine_type, zones=tuple(pool.zones))


def _gpu(region: str, pool: GpuPool) -> Hardware:
    accelerator: dict[str, JSON] = {
        "type": pool.accelerator,
        "count": pool.count,
        "gpuDriverInstallationConfig": {"gpuDriverVersion": "DEFAULT"},
    }
    if pool.time_sharing:
        accelerator["gpuSharingConfig"] = {
            "gpuSharingStrategy": "TIME_SHARING",
            "maxSharedClientsPerGpu": pool.time_sharing.max_shared_clients_per_gpu,
        }
    machine = pool.machine_type or catalog.default_gpu_machine_type(pool.accelerator, pool.count)
    if machine is None:
        raise ValueError(f"no machine type carries {pool.count} {pool.accelerator} (validation missed it)")
    return Hardware(
        machine,
        label=pool.accelerator,
        taints=(GPU_TAINT,),
        zones=tuple(pool.zones or catalog.gpu_zones(region, pool.accelerator)),
        guest_accelerators=[accelerator],
    )


def _tpu(region: str, pool: TpuPool) -> Hardware:
    tpu_slice = catalog.tpu_machine_type(pool.version, pool.topology, pool.machine_type)
    if tpu_slice is None:
        raise ValueError(f"TPU {pool.version} {pool.topology} has no machine type (validation missed it)")
    zones = tuple(pool.zones or catalog.tpu_zones(region, pool.version))
    multi_host = tpu_slice.multi_host
    return Hardware(
        tpu_slice.machine_type,
        label=catalog.tpu_gke_accelerator(pool.version),
        taints=(TPU_TAINT,),
        # A multi-host slice sits in one zone, its hosts placed together.
        zones=zones[:1] if multi_host else zones,
        placement={"type": "COMPACT", "tpuTopology": pool.topology} if multi_host else None,
        hosts=tpu_slice.hosts if multi_host else None,
    )


def pool_inputs(
    ctx: BuildContext, key: str, pool: GpuPool | TpuPool | CpuPool, account: str
) -> dict[str, JSON]:
    hw = _hardware(ctx.target.region, pool)
    inputs: dict[str, JSON] = {
        "name": key,
        "cluster": cluster_name(ctx.config, ctx.target),
        "location": ctx.target.region,
        "project": ctx.gcp_project,
        "management": {"autoRepair": True, "autoUpgrade": True},
        "upgradeSettings": _upgrade_settings(pool),
        "nodeConfig": _node_config(ctx, pool, hw, account),
        **_scaling(pool, hw),
    }
    if hw.zones:
        inputs["nodeLocations"] = list(hw.zones)
    if hw.placement:
        inputs["placementPolicy"] = hw.placement
    return inputs


def _scaling(pool: PoolBase, hw: Hardware) -> dict[str, JSON]:
    """Per-zone autoscaling; a multi-host slice scales between none and all of its hosts, or
    keeps all of them when its minimum is above zero."""
    if hw.hosts is None:
        return {
            "autoscaling": {
                "minNodeCount": pool.autoscaling.min_nodes,
                "maxNodeCount": pool.autoscaling.max_nodes,
                "locationPolicy": "ANY" if pool.spot else "BALANCED",
            }
        }
    if pool.autoscaling.min_nodes == 0:
        return {"autoscaling": {"minNodeCount": 0, "maxNodeCount": hw.hosts}}
    return {"nodeCount": hw.hosts}


def _upgrade_settings(pool: GpuPool | TpuPool | CpuPool) -> dict[str, JSON]:
    """Surge one node for CPU pools; accelerators are scarce, so those replace nodes in place."""
    surge = 1 if isinstance(pool, CpuPool) else 0
    return {"strategy": "SURGE", "maxSurge": surge, "maxUnavailable": 1 - surge}


def _node_config(
    ctx: BuildContext, pool: GpuPool | TpuPool | CpuPool, hw: Hardware, account: str
) -> dict[str, JSON]:
    taints = [*hw.taints, *([SPOT_TAINT] if pool.spot else [])]
    labels = {**pool.labels, **({ACCELERATOR_LABEL: hw.label} if hw.label else {})}
    config: dict[str, JSON] = {
        "machineType": hw.machine_type,
        "diskSizeGb": pool.disk_size_gb,
        "spot": pool.spot,
        "resourceLabels": ctx.gcp_labels(pool.labels),
        **secure_node_config(account),
        "kubeletConfig": dict(READ_ONLY_PORT),
    }
    optional: dict[str, JSON] = {
        "labels": labels,
        "taints": [{"key": k, "value": v, "effect": "NO_SCHEDULE"} for k, v in taints],
        "guestAccelerators": hw.guest_accelerators,
    }
    return config | {k: v for k, v in optional.items() if v}
