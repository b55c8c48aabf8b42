"""The namespace, and one identity per workload: a Kubernetes service account bound to a
Google service account through Workload Identity. The Google account starts with no roles.

Workloads are what runs as a Pod: pipeline runs, endpoints, batch jobs, drift and skew
monitors. An account under security.serviceAccounts is made as declared, for the pipelines
and endpoints that name it (or for the user's own workloads).

On Vertex AI (``placement``), an endpoint's models run as its Google account alone, with no
Kubernetes account; a drift or skew monitor is Vertex AI's, run by its service agent, and has
no identity here (one that retrains gets the account its alerts start runs as, in
:mod:`mlopsctl.compiler.vertex_retrain`). When no section runs on GKE there is no namespace
either, and every account is a Google account only."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from mlopsctl.compiler.context import BuildContext
from mlopsctl.config.checks.kfp import namespace_annotations
from mlopsctl.config.naming import Workload, gsa_account_id, gsa_email, namespace, workload_account, workloads
from mlopsctl.config.sourcemap import Path
from mlopsctl.graph import Resource

GSA = "gcp:serviceaccount/account:Account"
GSA_IAM_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
NAMESPACE = "kubernetes:core/v1:Namespace"
KUBERNETES_SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
CLUSTER = "gcp:container/cluster:Cluster"
"""(:data:`mlopsctl.compiler.cluster.CLUSTER`, which imports this module.)"""


@dataclass(frozen=True)
class Identity:
    """Who a workload runs as: its Kubernetes account and the Google account bound to it."""

    ksa: str
    gsa_email: str
    gsa_address: str


def identity_of(ctx: BuildContext, kind: Workload, name: str, declared: str | None = None) -> Identity:
    """The identity of a workload: its own, or ``declared`` (a name under security.serviceAccounts)."""
    if declared is not None:
        kind, name = "account", declared
    return Identity(
        ksa=workload_account(kind, name, ctx.target),
        gsa_email=gsa_email(kind, name, ctx.target, ctx.gcp_project),
        gsa_address=ctx.address(GSA, f"{kind}-{name}"),
    )


def _katib_labels(ctx: BuildContext) -> dict[str, str]:
    """Katib collects trial metrics only in namespaces that ask for it."""
    tunes = any(s.kind == "tune" for p in ctx.config.pipelines.values() for s in p.steps.values())
    return {"katib.kubeflow.org/metrics-collector-injection": "enabled"} if tunes else {}


def build(ctx: BuildContext) -> None:
    placement = ctx.config.placement
    ns = _namespace(ctx) if ctx.config.needs_cluster else None
    for kind, name, source in workloads(ctx.config):
        if kind == "monitor" and placement.monitors == "vertex":
            continue
        account = WorkloadAccount(
            f"{kind}-{name}",
            gsa_account_id(kind, name, ctx.target),
            f"mlopsctl {kind} {name} ({ctx.target.env}/{ctx.target.region})",
            f"Workload identity of {kind} '{name}' in {ctx.config.project.name}.",
        )
        on_vertex = (kind, "vertex") in {("endpoint", placement.endpoints), ("pipeline", placement.pipelines)}
        if ns is None or on_vertex:  # Vertex AI runs as the Google account: nothing in the cluster does
            google_account(ctx, account, source=source)
            continue
        who = identity_of(ctx, kind, name)
        workload_identity(
            ctx,
            account,
            namespace(ctx.config),
            who.ksa,
            source=source,
            component=kind,
            depends_on=(ns.address,),
        )


def _namespace(ctx: BuildContext) -> Resource:
    return ctx.add_manifest(
        "namespace",
        source=("project",),
        name=namespace(ctx.config),
        annotations=namespace_annotations(ctx.config),
        labels={
            **ctx.k8s_labels(),
            "istio-injection": "enabled",
            "pod-security.kubernetes.io/audit": "restricted",
            "pod-security.kubernetes.io/warn": "restricted",
            **_katib_labels(ctx),
        },
    )


@dataclass(frozen=True)
class WorkloadAccount:
    """A Google service account for a workload: graph name, account id, and what it says of itself."""

    name: str
    account_id: str
    display_name: str
    description: str


def workload_identity(
    ctx: BuildContext,
    account: WorkloadAccount,
    namespace_name: str,
    ksa: str,
    *,
    source: Path,
    component: str,
    depends_on: tuple[str, ...] = (),
) -> tuple[Resource, Resource, Resource]:
    """A Google service account, the Kubernetes account ``namespace_name/ksa`` annotated with it, and
    the Workload Identity binding that lets the second act as the first: (gsa, ksa, binding).

    The Kubernetes account waits for the binding (and for the account's grants, :func:`await_grants`),
    and what runs as it waits for the account: a pod
    that started before the binding could not act as the Google account (KServe's storage
    initializer fails, and restarts with backoff). The binding needs the cluster's Workload Identity
    pool (``PROJECT.svc.id.goog``), which exists once the cluster does, not the Kubernetes account:
    it waits for the cluster of the graph, if the graph makes it."""
    email = f"{account.account_id}@{ctx.gcp_project}.iam.gserviceaccount.com"
    gsa = google_account(ctx, account, source=source)
    name = f"{account.name}-workload-identity"
    kubernetes_account = ctx.add_manifest(
        "serviceaccount",
        source=source,
        depends_on=(*depends_on, gsa.address, ctx.address(GSA_IAM_MEMBER, name)),
        name=ksa,
        namespace=namespace_name,
        labels=ctx.k8s_labels(component),
        gcp_service_account=email,
    )
    binding = ctx.add(
        GSA_IAM_MEMBER,
        name,
        {
            "serviceAccountId": f"projects/{ctx.gcp_project}/serviceAccounts/{email}",
            "role": "roles/iam.workloadIdentityUser",
            "member": f"serviceAccount:{ctx.gcp_project}.svc.id.goog[{namespace_name}/{ksa}]",
        },
        source=source,
        depends_on=(gsa.address, *(c.address for c in ctx.graph.of_type(CLUSTER))),
    )
    return gsa, kubernetes_account, binding


def google_account(ctx: BuildContext, account: WorkloadAccount, *, source: Path) -> Resource:
    """The Google service account of ``account``."""
    return ctx.add(
        GSA,
        account.name,
        {
            "accountId": account.account_id,
            "project": ctx.gcp_project,
            "displayName": account.display_name,
            "description": account.description,
        },
        source=source,
    )


WORKLOAD_IDENTITY = "iam.gke.io/gcp-service-account"
"""The annotation of a Kubernetes ServiceAccount that names the Google account its pods act as."""


def await_grants(ctx: BuildContext) -> None:
    """The last pass: each Kubernetes ServiceAccount bound to a Google account through Workload
    Identity also waits for every grant to that account (an IAM member whose ``member`` is
    ``serviceAccount:<email>``), so that what runs as it starts with them. The grants are made by
    later passes than the account (``iam``, ``serving``, ``vertex_tracking`` …), hence a pass of its own.
    A dependency on a Google Cloud resource orders only the Pulumi program: the gitops and kubernetes
    targets take the Kubernetes part of the graph alone."""
    grants: dict[str, list[str]] = {}
    for r in ctx.graph:
        member = r.inputs.get("member")
        if r.type.startswith("gcp:") and isinstance(member, str) and member.startswith("serviceAccount:"):
            grants.setdefault(member.removeprefix("serviceAccount:"), []).append(r.address)
    for r in list(ctx.graph.of_type(KUBERNETES_SERVICE_ACCOUNT)):
        annotations = (r.inputs.get("metadata") or {}).get("annotations") or {}
        email = annotations.get(WORKLOAD_IDENTITY)
        waits = [g for g in grants.get(email, []) if g not in r.depends_on] if isinstance(email, str) else []
        if waits:
            ctx.graph.resources[r.address] = dataclasses.replace(r, depends_on=(*r.depends_on, *waits))
