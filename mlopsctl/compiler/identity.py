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

from dataclasses import dataclass

from mlopsctl.compiler.context import BuildContext
from mlopsctl.config.checks.kfp import namespace_annotations
from mlopsctl.config.naming import Workload, gsa_account_id, gsa_email, namespace, workload_account, workloads
from mlopsctl.config.sourcemap import Path
from mlopsctl.graph import Resource

GSA = "gcp:serviceaccount/account:Account"
GSA_IAM_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
NAMESPACE = "kubernetes:core/v1:Namespace"


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
    the Workload Identity binding that lets the second act as the first: (gsa, ksa, binding)."""
    email = f"{account.account_id}@{ctx.gcp_project}.iam.gserviceaccount.com"
    gsa = google_account(ctx, account, source=source)
    kubernetes_account = ctx.add_manifest(
        "serviceaccount",
        source=source,
        depends_on=depends_on,
        name=ksa,
        namespace=namespace_name,
        labels=ctx.k8s_labels(component),
        gcp_service_account=email,
    )
    binding = ctx.add(
        GSA_IAM_MEMBER,
        f"{account.name}-workload-identity",
        {
            "serviceAccountId": f"projects/{ctx.gcp_project}/serviceAccounts/{email}",
            "role": "roles/iam.workloadIdentityUser",
            "member": f"serviceAccount:{ctx.gcp_project}.svc.id.goog[{namespace_name}/{ksa}]",
        },
        source=source,
        depends_on=(gsa.address, kubernetes_account.address),
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
