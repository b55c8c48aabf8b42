"""Hardening: the control plane, mesh mTLS, and who holds which role on what (GKE hardening guide, CIS)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from mlopsctl.compiler.cluster import CLUSTER
from mlopsctl.compiler.iam import (
    BUCKET_IAM_MEMBER,
    DATASET_IAM_MEMBER,
    PROJECT_IAM_MEMBER,
    SECRET_IAM_MEMBER,
    TABLE_IAM_MEMBER,
)
from mlopsctl.compiler.identity import GSA
from mlopsctl.graph import Resource
from mlopsctl.policies import Finding, PolicyContext, policy
from mlopsctl.policies.data import PUBLIC_MEMBERS, grant_members

PEER_AUTHENTICATION = "kubernetes:security.istio.io/v1:PeerAuthentication"
PRIMITIVE_ROLES = ("roles/owner", "roles/editor", "roles/viewer")
ADMIN_SERVICES = (
    *("iam", "resourcemanager", "cloudkms", "storage", "secretmanager", "bigquery"),
    *("container", "compute", "run", "cloudfunctions", "appengine", "cloudbuild", "deploymentmanager"),
    *("aiplatform", "notebooks", "dataflow", "dataproc", "composer", "batch", "workflows"),
    *("cloudscheduler", "cloudtasks"),
)
"""Services whose admin roles, held project-wide, let an account take over the project: they manage
identities, policies, keys or every secret and all data, or run code (VMs, containers, builds, jobs,
deployments) as another service account that the admin then acts as."""
CODE_RUNNING_ROLES = (
    "roles/cloudbuild.builds.editor",
    "roles/cloudbuild.builds.builder",
    "roles/deploymentmanager.editor",
    "roles/container.developer",
)
"""Roles that are not called admin but, project-wide, run code as another account: builds run as the
Cloud Build account, deployments as the Google APIs agent (an editor of the project), and GKE's
developer creates pods under any Kubernetes account, and so as any workload's Google account."""
IMPERSONATION_ROLES = (
    "roles/iam.serviceAccountUser",
    "roles/iam.serviceAccountTokenCreator",
    "roles/iam.serviceAccountOpenIdTokenCreator",
    "roles/iam.workloadIdentityUser",
)
"""Project-wide, these let an account act as every service account of the project (mint its access or
ID tokens, or run as it)."""
DATA_GRANTS = (BUCKET_IAM_MEMBER, DATASET_IAM_MEMBER, TABLE_IAM_MEMBER, SECRET_IAM_MEMBER)
WRITE_ROLES = (
    "roles/bigquery.dataEditor",
    "roles/bigquery.dataOwner",
    "roles/bigquery.admin",
    "roles/storage.objectCreator",
    "roles/storage.objectUser",
    "roles/storage.objectAdmin",
    "roles/storage.admin",
)
_NAMES = ("bucket", "tableId", "datasetId", "secretId")
"""The input naming what a data grant is on, most specific first."""


@policy("MLP011")
def private_control_plane(ctx: PolicyContext) -> Iterator[Finding]:
    min_prefix = ctx.settings.authorized_network_min_prefix
    network = ("security", "network")
    for cluster in ctx.of_type(CLUSTER):
        if "privateClusterConfig" not in cluster.inputs:
            yield Finding(
                f"cluster '{cluster.name}' has public nodes and control plane in {ctx.target.env}",
                hint="set security.network.privateCluster: true and reach the control plane through "
                "authorizedNetworks",
                address=cluster.address,
                path=(*network, "privateCluster"),
            )
        blocks = cluster.inputs.get("masterAuthorizedNetworksConfig", {}).get("cidrBlocks", [])
        for i, block in enumerate(blocks):
            cidr = ipaddress.ip_network(block["cidrBlock"], strict=False)
            if cidr.prefixlen < min_prefix:
                yield Finding(
                    f"authorized network '{block['displayName']}' ({cidr}) of cluster '{cluster.name}' "
                    f"opens the control plane to {cidr.num_addresses:,} addresses, wider than /{min_prefix}",
                    hint="list only the ranges of your CI runners and administrators",
                    address=cluster.address,
                    path=(*network, "authorizedNetworks", i, "cidr"),
                )


@policy("MLP012")
def strict_mtls(ctx: PolicyContext) -> Iterator[Finding]:
    for peer in ctx.of_type(PEER_AUTHENTICATION):
        mode = peer.inputs["spec"]["mtls"]["mode"]
        if mode != "STRICT":
            yield Finding(
                f"the mesh accepts plain-text traffic in namespace '{peer.inputs['metadata']['namespace']}' "
                f"(mTLS {mode}) in {ctx.target.env}",
                hint="set security.mtls: STRICT once every client runs in the mesh",
                address=peer.address,
            )


@policy("MLP013")
def least_privilege(ctx: PolicyContext) -> Iterator[Finding]:
    for grant in _iam(ctx):
        role, member = grant.inputs["role"], grant.inputs["member"]
        project_wide = grant.type == PROJECT_IAM_MEMBER
        service, _, name = role.removeprefix("roles/").partition(".")
        if role in PRIMITIVE_ROLES:
            why = "a primitive role"
        elif project_wide and service in ADMIN_SERVICES and "admin" in name.lower():
            why = f"a project-wide {service} admin role"
        elif project_wide and role in IMPERSONATION_ROLES:
            why = "a project-wide role to act as any service account"
        elif project_wide and role in CODE_RUNNING_ROLES:
            why = "a project-wide role to run code as other service accounts"
        else:
            continue
        yield Finding(
            f"{member.removeprefix('serviceAccount:')} holds {role}, {why}, in {ctx.target.env}",
            hint="grant predefined roles on the resources the account uses; mlopsctl grants what "
            "references imply",
            address=grant.address,
            path=_role_path(ctx, grant),
        )


@policy("MLP014")
def data_readers(ctx: PolicyContext) -> Iterator[Finding]:
    own = _identities(ctx)
    for grant in ctx.of_type(*DATA_GRANTS):
        for member in grant_members(grant):
            if member not in own and member not in PUBLIC_MEMBERS:
                on = next((grant.inputs[k] for k in _NAMES if k in grant.inputs), grant.name)
                yield Finding(
                    f"{grant.type.rsplit(':', 1)[-1]} '{grant.name}' lets {member}, not an identity of "
                    f"the project, read '{on}' in {ctx.target.env}",
                    hint="share data through a declared service account of this project",
                    address=grant.address,
                )


@policy("MLP015")
def narrow_writes(ctx: PolicyContext) -> Iterator[Finding]:
    kinds = {"endpoints": "endpoint", "monitors": "monitor"}
    writers = {
        _email(g): f"{kinds[str(g.source[0])]} '{g.source[1]}'"
        for g in ctx.of_type(GSA)
        if g.source[0] in kinds
    }
    declared = {g.name: _email(g) for g in ctx.of_type(GSA)}
    for name, endpoint in ctx.config.endpoints.items():  # as a declared account, it is held to the same
        account = declared.get(f"account-{endpoint.service_account}")
        if endpoint.service_account and account is not None:
            writers.setdefault(account, f"endpoint '{name}' (as account '{endpoint.service_account}')")
    for grant in _iam(ctx, PROJECT_IAM_MEMBER, BUCKET_IAM_MEMBER, DATASET_IAM_MEMBER):
        role, who = grant.inputs["role"], writers.get(grant.inputs["member"])
        if who is not None and role in WRITE_ROLES:
            scope = {PROJECT_IAM_MEMBER: "project", BUCKET_IAM_MEMBER: "bucket"}.get(grant.type, "dataset")
            yield Finding(
                f"{who} holds {role} on a whole {scope} in {ctx.target.env}, beyond the tables it writes",
                hint="grant write access on each table it writes (a table-level IAM member)",
                address=grant.address,
                path=_role_path(ctx, grant),
            )


def _iam(ctx: PolicyContext, *types: str) -> list[Resource]:
    """IAM members (of ``types``, default all) granting a role to one member written out in the graph
    (not computed at apply time, as service agents are)."""
    return [
        r
        for r in ctx.graph
        if (r.type in types if types else r.type.lower().endswith("iammember"))
        and isinstance(r.inputs.get("member"), str)
        and "role" in r.inputs
    ]


def _email(gsa: Resource) -> str:
    return f"serviceAccount:{gsa.inputs['accountId']}@{gsa.inputs['project']}.iam.gserviceaccount.com"


def _identities(ctx: PolicyContext) -> set[str]:
    """The members that are this project's own Google service accounts."""
    return {_email(gsa) for gsa in ctx.of_type(GSA)}


def _role_path(ctx: PolicyContext, grant: Resource) -> tuple[str | int, ...]:
    """The role in security.serviceAccounts.<name>.roles that asked for the grant, else its source."""
    source = grant.source
    if source[:2] == ("security", "serviceAccounts") and source[-1:] == ("roles",):
        roles = ctx.config.security.service_accounts[str(source[2])].roles
        if grant.inputs["role"] in roles:
            return (*source, roles.index(grant.inputs["role"]))
    return source
