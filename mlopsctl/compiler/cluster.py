"""GKE: the target's regional cluster, the service account its nodes run as, and its node pools.

The cluster is private, Workload Identity enabled, on Dataplane V2 (which enforces network
policy) and on a release channel with a maintenance window. It is in the VPC network and
subnetwork ``security.network`` names (default: the project's ``default`` network and its
subnetwork of the region), behind a Cloud NAT for that subnetwork unless the network is a
Shared VPC's (its host project provides NAT). Its default node pool is removed:
every node belongs to a pool declared under ``accelerators`` (or the ``system`` pool added
when none of them can host the cluster's own workloads) and runs as a dedicated account
with only the roles GKE documents for nodes. A target whose sections all run on Vertex AI
(``placement``) has no cluster.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from mlopsctl.compiler import registry
from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.iam import PROJECT_IAM_MEMBER
from mlopsctl.compiler.identity import GSA
from mlopsctl.compiler.platform import cluster_inputs
from mlopsctl.config import catalog
from mlopsctl.config.models.cluster import MaintenanceWindow
from mlopsctl.config.models.compute import (
    SYSTEM_POOL,
    SYSTEM_POOL_SPEC,
    CpuPool,
    GpuPool,
    PoolBase,
    TpuPool,
    needs_system_pool,
)
from mlopsctl.config.models.security import Network
from mlopsctl.config.naming import cluster_name, master_cidr, network_project, node_account_id, vpc_subnetwork
from mlopsctl.config.sourcemap import Path
from mlopsctl.graph import JSON

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
NODE_ACCOUNT = "gke-nodes"
NODE_ROLES = (
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
)
"""Project roles of the node account; it reads images through its roles on the repositories."""
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
ACCELERATOR_LABEL = "mlopsctl.dev/accelerator"
GPU_TAINT = ("nvidia.com/gpu", "present")
TPU_TAINT = ("google.com/tpu", "present")
SPOT_TAINT = ("cloud.google.com/gke-spot", "true")
_WINDOW_ANCHOR = datetime.datetime(2025, 1, 6, tzinfo=datetime.UTC)
"""A Monday: recurring windows are written as a first occurrence plus a weekly recurrence."""


ROUTER = "gcp:compute/router:Router"
ROUTER_NAT = "gcp:compute/routerNat:RouterNat"
NAT_NAME = "nat"


def build(ctx: BuildContext) -> None:
    if not ctx.config.needs_cluster:
        return  # every section runs on Vertex AI
    account = _node_account(ctx)
    cluster = ctx.add(
        CLUSTER,
        cluster_name(ctx.config, ctx.target),
        _cluster_inputs(ctx, account),
        source=("cluster",),
        depends_on=(ctx.address(GSA, NODE_ACCOUNT),),
        protect=True,
    )
    pools: list[tuple[str, GpuPool | TpuPool | CpuPool, Path]] = [
        (key, pool, ("accelerators", key)) for key, pool in ctx.config.accelerators.items()
    ]
    network = ctx.config.security.network
    if network.private_cluster and network_project(ctx.config, ctx.target) == ctx.gcp_project:
        _egress(ctx)
    if needs_system_pool(ctx.config.accelerators):
        pools.append((SYSTEM_POOL, SYSTEM_POOL_SPEC, ("cluster",)))
    for key, pool, source in pools:
        ctx.add(
            NODE_POOL,
            key,
            _pool_inputs(ctx, key, pool, account),
            source=source,
            depends_on=(cluster.address, ctx.address(GSA, NODE_ACCOUNT)),
        )


def _egress(ctx: BuildContext) -> None:
    """Cloud NAT for the cluster's subnetwork (nodes and Pods): private nodes have no external
    addresses, yet pull images from registries outside Google (nvcr.io for Triton, Docker Hub)
    and reach public APIs. A Shared VPC's host project provides NAT for its subnetworks."""
    router = ctx.add(
        ROUTER,
        NAT_NAME,
        {
            "name": f"{cluster_name(ctx.config, ctx.target)}-{NAT_NAME}",
            "project": ctx.gcp_project,
            "region": ctx.target.region,
            "network": ctx.config.security.network.network,
        },
        source=("security", "network"),
    )
    ctx.add(
        ROUTER_NAT,
        NAT_NAME,
        {
            "name": f"{cluster_name(ctx.config, ctx.target)}-{NAT_NAME}",
            "project": ctx.gcp_project,
            "region": ctx.target.region,
            "router": router.inputs["name"],
            "natIpAllocateOption": "AUTO_ONLY",
            "sourceSubnetworkIpRangesToNat": "LIST_OF_SUBNETWORKS",
            "subnetworks": [
                {"name": vpc_subnetwork(ctx.config, ctx.target), "sourceIpRangesToNats": ["ALL_IP_RANGES"]}
            ],
            "logConfig": {"enable": True, "filter": "ERRORS_ONLY"},
        },
        source=("security", "network"),
        depends_on=(router.address,),
    )


def node_account_email(ctx: BuildContext) -> str:
    return f"{node_account_id(ctx.target)}@{ctx.gcp_project}.iam.gserviceaccount.com"


def _node_account(ctx: BuildContext) -> str:
    """The nodes' Google service account, its project roles and its read access to the repository."""
    email = node_account_email(ctx)
    gsa = ctx.add(
        GSA,
        NODE_ACCOUNT,
        {
            "accountId": node_account_id(ctx.target),
            "project": ctx.gcp_project,
            "displayName": f"mlopsctl GKE nodes ({ctx.target.env}/{ctx.target.region})",
            "description": f"Nodes of the GKE cluster of {ctx.config.project.name}.",
        },
        source=("cluster",),
    )
    member = f"serviceAccount:{email}"
    for role in NODE_ROLES:
        ctx.add(
            PROJECT_IAM_MEMBER,
            f"{NODE_ACCOUNT}-{role.removeprefix('roles/')}",
            {"project": ctx.gcp_project, "role": role, "member": member},
            source=("cluster",),
            depends_on=(gsa.address,),
        )
    _image_readers(ctx, member, gsa.address)
    return email


def _image_readers(ctx: BuildContext, member: str, account: str) -> None:
    """``roles/artifactregistry.reader`` on the project's repository and on each repository
    (in any project) that an image the config runs comes from, once per repository.

    The project's own keeps its graph name ``gke-nodes-reader``: renaming a grant would create
    the new binding before deleting the old one, which removes the binding both describe.
    """
    own = ctx.graph.resources[registry.repository_address(ctx)]
    readers: dict[registry.RepositoryRef, tuple[str, Path, tuple[str, ...]]] = {
        registry.RepositoryRef(ctx.gcp_project, own.inputs["location"], own.inputs["repositoryId"]): (
            f"{NODE_ACCOUNT}-reader",
            ("cluster",),
            (account, own.address),
        )
    }
    for image, source in registry.config_images(ctx.config):
        repo = registry.repository_of(image)
        if repo is not None and repo not in readers:
            name = f"{NODE_ACCOUNT}-reader-{repo.project}-{repo.location}-{repo.repository}"
            readers[repo] = (name.replace(":", "-"), source, (account,))
    for repo, (name, source, depends_on) in readers.items():
        ctx.add(
            registry.REPOSITORY_IAM_MEMBER,
            name,
            {
                "project": repo.project,
                "location": repo.location,
                "repository": repo.repository,
                "role": registry.READER,
                "member": member,
            },
            source=source,
            depends_on=depends_on,
        )


def _cluster_inputs(ctx: BuildContext, account: str) -> dict[str, JSON]:
    spec, network = ctx.config.cluster, ctx.config.security.network
    inputs: dict[str, JSON] = {
        "name": cluster_name(ctx.config, ctx.target),
        "project": ctx.gcp_project,
        "location": ctx.target.region,
        "description": f"{ctx.config.project.name} ({ctx.target.env}), managed by mlopsctl.",
        "removeDefaultNodePool": True,
        "initialNodeCount": 1,
        # The default pool exists briefly while the cluster is created: not as the default account.
        "nodeConfig": _secure_node_config(account),
        "network": network.network,
        "subnetwork": vpc_subnetwork(ctx.config, ctx.target),
        "networkingMode": "VPC_NATIVE",
        "ipAllocationPolicy": _ip_allocation(network),
        "datapathProvider": "ADVANCED_DATAPATH",
        "workloadIdentityConfig": {"workloadPool": f"{ctx.gcp_project}.svc.id.goog"},
        "releaseChannel": {"channel": spec.release_channel},
        "maintenancePolicy": {"recurringWindow": maintenance_window(spec.maintenance_window)},
        "enableShieldedNodes": True,
        "secretManagerConfig": {"enabled": True},
        # Distributed training and tuning pods read and write the run's artifacts under /gcs/BUCKET.
        "addonsConfig": {"gcsFuseCsiDriverConfig": {"enabled": True}},
        "masterAuthorizedNetworksConfig": {
            "cidrBlocks": [{"cidrBlock": n.cidr, "displayName": n.name} for n in network.authorized_networks],
            "gcpPublicCidrsAccessEnabled": False,
        },
        "resourceLabels": ctx.gcp_labels(),
        # Protection is Pulumi's resource option (lifted only by --allow-destroy); the provider's
        # own flag would make an allowed destroy fail halfway.
        "deletionProtection": False,
        **cluster_inputs(ctx),
    }
    if network.private_cluster:
        inputs["privateClusterConfig"] = {
            "enablePrivateNodes": True,
            "enablePrivateEndpoint": False,
            "masterIpv4CidrBlock": master_cidr(ctx.config, ctx.target),
        }
    return inputs


def _ip_allocation(network: Network) -> dict[str, JSON]:
    """IPv4 addresses for Pods and Services from the subnetwork's named secondary ranges, or
    from ranges GKE adds to it."""
    policy: dict[str, JSON] = {"stackType": "IPV4"}
    if network.pods_range and network.services_range:
        policy["clusterSecondaryRangeName"] = network.pods_range
        policy["servicesSecondaryRangeName"] = network.services_range
    return policy


def maintenance_window(window: MaintenanceWindow) -> dict[str, JSON]:
    """A weekly recurring window, as RFC 3339 start and end of its first occurrence and an RRULE."""
    hours, minutes = (int(part) for part in window.start.split(":"))
    start = _WINDOW_ANCHOR + datetime.timedelta(hours=hours, minutes=minutes)
    end = start + datetime.timedelta(hours=window.hours)
    return {
        "startTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "endTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "recurrence": f"FREQ=WEEKLY;BYDAY={','.join(window.days)}",
    }


def _secure_node_config(account: str) -> dict[str, JSON]:
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


def _pool_inputs(
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
        **_secure_node_config(account),
    }
    optional: dict[str, JSON] = {
        "labels": labels,
        "taints": [{"key": k, "value": v, "effect": "NO_SCHEDULE"} for k, v in taints],
        "guestAccelerators": hw.guest_accelerators,
    }
    return config | {k: v for k, v in optional.items() if v}
