"""GKE: the target's regional cluster, the service account its nodes run as, and its node pools.

The cluster is private, Workload Identity enabled, on Dataplane V2 (which enforces network
policy) and on a release channel with a maintenance window. It is in the VPC network and
subnetwork ``security.network`` names (default: the project's ``default`` network and its
subnetwork of the region), behind a Cloud NAT for that subnetwork unless the network is a
Shared VPC's (its host project provides NAT). Its default node pool is removed:
every node belongs to a pool declared under ``accelerators`` (or the ``system`` pool added
when none of them can host the cluster's own workloads) and runs as a dedicated account
with only the roles GKE documents for nodes (pools: :mod:`mlopsctl.compiler.node_pools`), with the
kubelet's read-only port off, also for pools made later. With ``security.defaultKmsKey`` its
Secrets are encrypted in etcd with that key. A target whose sections all run on Vertex AI
(``placement``) has no cluster.
"""

from __future__ import annotations

import datetime

from mlopsctl.compiler import registry
from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.iam import PROJECT_IAM_MEMBER
from mlopsctl.compiler.identity import GSA
from mlopsctl.compiler.kms import key_reference
from mlopsctl.compiler.node_pools import READ_ONLY_PORT, pool_inputs, secure_node_config
from mlopsctl.compiler.platform import cluster_inputs
from mlopsctl.config.models.cluster import MaintenanceWindow
from mlopsctl.config.models.compute import (
    SYSTEM_POOL,
    SYSTEM_POOL_SPEC,
    CpuPool,
    GpuPool,
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
_WINDOW_ANCHOR = datetime.datetime(2025, 1, 6, tzinfo=datetime.UTC)
"""A Monday: recurring windows are written as a first occurrence plus a weekly recurrence."""


ROUTER = "gcp:compute/router:Router"
ROUTER_NAT = "gcp:compute/routerNat:RouterNat"
NAT_NAME = "nat"


def build(ctx: BuildContext) -> None:
    if not ctx.config.needs_cluster:
        return  # every section runs on Vertex AI
    account = _node_account(ctx)
    inputs, key_depends = _cluster_inputs(ctx, account)
    cluster = ctx.add(
        CLUSTER,
        cluster_name(ctx.config, ctx.target),
        inputs,
        source=("cluster",),
        depends_on=(ctx.address(GSA, NODE_ACCOUNT), *key_depends),
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
            pool_inputs(ctx, key, pool, account),
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


def _cluster_inputs(ctx: BuildContext, account: str) -> tuple[dict[str, JSON], tuple[str, ...]]:
    """The cluster's inputs, and what it waits for: the key of its Secrets, usable by GKE."""
    spec, network = ctx.config.cluster, ctx.config.security.network
    inputs: dict[str, JSON] = {
        "name": cluster_name(ctx.config, ctx.target),
        "project": ctx.gcp_project,
        "location": ctx.target.region,
        "description": f"{ctx.config.project.name} ({ctx.target.env}), managed by mlopsctl.",
        "removeDefaultNodePool": True,
        "initialNodeCount": 1,
        # The default pool exists briefly while the cluster is created: not as the default account.
        "nodeConfig": secure_node_config(account),
        "network": network.network,
        "subnetwork": vpc_subnetwork(ctx.config, ctx.target),
        "networkingMode": "VPC_NATIVE",
        "ipAllocationPolicy": _ip_allocation(network),
        "datapathProvider": "ADVANCED_DATAPATH",
        "workloadIdentityConfig": {"workloadPool": f"{ctx.gcp_project}.svc.id.goog"},
        "releaseChannel": {"channel": spec.release_channel},
        "maintenancePolicy": {"recurringWindow": maintenance_window(spec.maintenance_window)},
        "enableShieldedNodes": True,
        # Pools created later outside mlopsctl start with the kubelet's read-only port off too. The
        # default leaves existing pools as they are: mlopsctl's pools set it themselves.
        "nodePoolDefaults": {"nodeConfigDefaults": dict(READ_ONLY_PORT)},
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
    # Application-layer Secrets encryption with security.defaultKmsKey: Secrets synced from Secret
    # Manager land in etcd. The key is in the cluster's region (E405); GKE's service agent may use it
    # before the cluster does. pulumi-gcp changes it in place (GKE re-encrypts the Secrets).
    key_id, key_depends = key_reference(ctx, None, "container")
    if key_id is not None:
        inputs["databaseEncryption"] = {"state": "ENCRYPTED", "keyName": key_id}
    return inputs, key_depends


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
