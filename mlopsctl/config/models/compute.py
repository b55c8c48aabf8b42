"""Accelerators: GKE node pools with GPUs, TPUs or CPUs only."""

from collections.abc import Mapping
from typing import Annotated, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from mlopsctl.config.models.types import Labels, Spec, ZoneName, problems

GpuType = Literal[
    "nvidia-tesla-t4",
    "nvidia-tesla-v100",
    "nvidia-tesla-p4",
    "nvidia-tesla-a100",
    "nvidia-a100-80gb",
    "nvidia-l4",
    "nvidia-h100-80gb",
    "nvidia-h100-mega-80gb",
    "nvidia-h200-141gb",
]
TpuVersion = Literal["v4", "v5e", "v5p", "v6e"]
MachineType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*-[a-z0-9-]+$")]


class Autoscaling(Spec):
    min_nodes: int = Field(
        default=0, ge=0, le=1000, description="Per zone; 0 lets the pool scale to nothing when idle."
    )
    max_nodes: int = Field(default=3, ge=1, le=1000, description="Most nodes of the pool per zone.")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min_nodes > self.max_nodes:
            problems(
                [
                    (
                        f"minNodes ({self.min_nodes}) is greater than maxNodes ({self.max_nodes})",
                        "lower minNodes or raise maxNodes",
                    )
                ]
            )
        return self


class TimeSharing(Spec):
    max_shared_clients_per_gpu: int = Field(
        default=2, ge=2, le=48, description="Containers that may share one GPU by time-sharing."
    )


class PoolBase(Spec):
    spot: bool = Field(
        default=False,
        description=(
            "Use Spot VMs: cheaper but preemptible; their nodes are tainted, and workloads placed on the "
            "pool tolerate it."
        ),
    )
    autoscaling: Autoscaling = Field(
        default=Autoscaling(), description="Node count bounds for the cluster autoscaler."
    )
    zones: list[ZoneName] = Field(
        default=[],
        description=(
            "Zones of the region to place nodes in; default: every "
            "zone of the region that offers the hardware."
        ),
    )
    disk_size_gb: int = Field(default=100, ge=10, le=65536, description="Boot disk size of each node, in GB.")
    labels: Labels = Field(
        default={}, description="Kubernetes labels of the nodes; also Google Cloud labels of the node pool."
    )


class GpuPool(PoolBase):
    type: Literal["gpu"] = Field(description="Pool kind: gpu.")
    accelerator: GpuType = Field(description="GPU model attached to each node.")
    count: int = Field(default=1, ge=1, le=16, description="GPUs per node.")
    machine_type: MachineType | None = Field(
        default=None, description="Default: the smallest machine type that carries `count` GPUs of this type."
    )
    time_sharing: TimeSharing | None = Field(
        default=None, description="Let several containers share each GPU by time-sharing; default: off."
    )


class TpuPool(PoolBase):
    type: Literal["tpu"] = Field(description="Pool kind: tpu.")
    version: TpuVersion = Field(description="TPU generation of the slice.")
    topology: Annotated[str, StringConstraints(pattern=r"^[0-9]+x[0-9]+(x[0-9]+)?$")] = Field(
        description="Chip topology of the slice, e.g. 2x4 (v5e/v6e) or 2x2x2 (v4/v5p)."
    )
    machine_type: MachineType | None = Field(
        default=None, description="Default: derived from version and topology."
    )


class CpuPool(PoolBase):
    type: Literal["cpu"] = Field(description="Pool kind: cpu.")
    machine_type: MachineType = Field(
        default="e2-standard-4", description="Compute Engine machine type of the nodes."
    )


NodePool = Annotated[GpuPool | TpuPool | CpuPool, Field(discriminator="type")]


SYSTEM_POOL = "system"
SYSTEM_POOL_SPEC = CpuPool(type="cpu", autoscaling=Autoscaling(min_nodes=1, max_nodes=3))
"""The pool mlopsctl adds for system workloads when no declared pool can host them."""
"""The CPU pool mlopsctl adds when no declared pool can host the cluster's own workloads."""


def hosts_system_workloads(pool: GpuPool | TpuPool | CpuPool) -> bool:
    """A pool that can run DNS, the mesh and controllers: untainted, on-demand, never empty."""
    return isinstance(pool, CpuPool) and not pool.spot and pool.autoscaling.min_nodes >= 1


def needs_system_pool(accelerators: Mapping[str, GpuPool | TpuPool | CpuPool]) -> bool:
    return not any(hosts_system_workloads(p) for p in accelerators.values())
