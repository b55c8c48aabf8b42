"""Secret Manager secrets kept in the Kubernetes Secrets that pipeline steps read.

Kubeflow Pipelines hands a secret to a step only from a Kubernetes Secret, and a secret's
value never enters Git. So each Secret a step reads (named by
:func:`~mlopsctl.compiler.kfp_dag.secret_object_name`, its payload under the key ``value``)
is kept in sync with its Secret Manager version by the mechanism ``platform.secrets`` names:

- ``external-secrets`` (default): External Secrets Operator. Per Secret Manager project, a
  ``SecretStore`` (provider ``gcpsm``) authenticating with GKE Workload Identity as the
  namespace's secret reader, a Kubernetes service account bound to a Google service account
  that may access exactly the referenced secrets; and one ``ExternalSecret`` per Secret,
  which owns it.
- ``gke-addon``: GKE's Secret Manager add-on with secret sync (the cluster's
  ``secretSyncConfig``, GKE 1.34 or later): one ``SecretProviderClass`` (provider ``gke``)
  and one ``SecretSync`` per Secret. The sync reads as the secret reader's Kubernetes
  account, which holds the accessor role itself (its Workload Identity principal), as GKE
  documents for the add-on.

Either way the accessor role is granted on each secret, in the project that holds it, for
whichever version is referenced; a reference that pins ``versions/V`` reads V, else latest.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlopsctl.compiler.context import BuildContext, kubernetes_type
from mlopsctl.compiler.iam import SECRET_ACCESSOR, SECRET_IAM_MEMBER, secret_parts
from mlopsctl.compiler.identity import GSA, NAMESPACE, WorkloadAccount, workload_identity
from mlopsctl.compiler.kfp_dag import secret_object_name
from mlopsctl.config.naming import cluster_name, namespace, region_short, shorten
from mlopsctl.config.sourcemap import Path
from mlopsctl.graph import JSON, Resource, fn_join

SECRET_KEY = "value"
"""The key of each Secret's data holding the payload (what the steps' ``secretKeyRef`` reads)."""
REFRESH_INTERVAL = "10m"
"""How often ESO reads each secret again (a new ``latest`` version reaches the Secret within it)."""
COMPONENT = "secrets"
READER = "secret-reader"
"""The graph name of the secret reader's Google service account."""
SECRET_STORE = kubernetes_type("external-secrets.io/v1", "SecretStore")
EXTERNAL_SECRET = kubernetes_type("external-secrets.io/v1", "ExternalSecret")
PROVIDER_CLASS = kubernetes_type("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass")
SECRET_SYNC = kubernetes_type("secret-sync.gke.io/v1", "SecretSync")


@dataclass(frozen=True)
class Synced:
    """A Kubernetes Secret the steps read, and the Secret Manager version it holds."""

    name: str
    project: str
    secret: str
    version: str
    source: Path


@dataclass(frozen=True)
class Reader:
    """ESO's identity for the secrets: a Kubernetes account bound to a Google account."""

    ksa: str
    gsa_email: str
    ready: tuple[str, ...]
    """Addresses to depend on before the reader can authenticate."""


def build(ctx: BuildContext) -> None:
    synced = synced_secrets(ctx)
    if not synced:
        return
    if ctx.config.platform.secrets == "external-secrets":
        _external_secrets(ctx, synced)
    else:
        _gke_sync(ctx, synced)


def synced_secrets(ctx: BuildContext) -> list[Synced]:
    """Every Secret the pipelines' steps read, once, by name (where it is first referenced)."""
    found: dict[str, Synced] = {}
    for pipeline_name, pipeline in ctx.config.pipelines.items():
        for step_name, step in pipeline.steps.items():
            for env, reference in sorted(step.secrets.items()):
                project, secret, version = secret_parts(ctx, reference)
                source = ("pipelines", pipeline_name, "steps", step_name, "secrets", env)
                name = secret_object_name(reference)
                found.setdefault(name, Synced(name, project, secret, version, source))
    return sorted(found.values(), key=lambda s: s.name)


def reader_account(ctx: BuildContext) -> str:
    """The secret reader's Kubernetes service account (the target in its name, as a workload's)."""
    return shorten(f"{READER}-{ctx.target.env}-{region_short(ctx.target.region)}", 63)


def _external_secrets(ctx: BuildContext, synced: list[Synced]) -> None:
    reader = _google_reader(ctx, synced[0].source)
    grants = _grants(ctx, synced, f"serviceAccount:{reader.gsa_email}", (ctx.address(GSA, READER),))
    stores: dict[str, Resource] = {}
    for item in synced:
        if item.project not in stores:
            stores[item.project] = _store(ctx, item, reader)
        _external_secret(ctx, item, stores[item.project], grants[(item.project, item.secret)])


def _gke_sync(ctx: BuildContext, synced: list[Synced]) -> None:
    ns = namespace(ctx.config)
    ksa = reader_account(ctx)
    labels = ctx.k8s_labels(COMPONENT)
    account = ctx.add_manifest(
        "serviceaccount-principal",
        source=synced[0].source,
        depends_on=(ctx.address(NAMESPACE, ns),),
        name=ksa,
        namespace=ns,
        labels=labels,
    )
    grants = _grants(ctx, synced, _principal(ctx, ksa), ())
    for item in synced:
        provider = ctx.add_manifest(
            "secretproviderclass",
            source=item.source,
            depends_on=(ctx.address(NAMESPACE, ns),),
            name=item.name,
            namespace=ns,
            labels=labels,
            secrets=_listed(item),
        )
        ctx.add_manifest(
            "secretsync",
            source=item.source,
            depends_on=(provider.address, account.address, grants[(item.project, item.secret)]),
            name=item.name,
            namespace=ns,
            labels=labels,
            service_account=ksa,
            provider_class=item.name,
            key=SECRET_KEY,
        )


def _google_reader(ctx: BuildContext, source: Path) -> Reader:
    """The reader's Google account, its Kubernetes account and the Workload Identity binding."""
    ns, ksa, target = namespace(ctx.config), reader_account(ctx), ctx.target
    account_id = shorten(f"sr-{ctx.config.project.name}-{target.env}-{region_short(target.region)}", 30)
    email = f"{account_id}@{ctx.gcp_project}.iam.gserviceaccount.com"
    described = WorkloadAccount(
        READER,
        account_id,
        f"mlopsctl secret reader ({target.env}/{target.region})",
        f"Reads the Secret Manager secrets of {ctx.config.project.name} for ESO.",
    )
    _, account, binding = workload_identity(
        ctx, described, ns, ksa, source=source, component=COMPONENT, depends_on=(ctx.address(NAMESPACE, ns),)
    )
    return Reader(ksa, email, (account.address, binding.address))


def _principal(ctx: BuildContext, ksa: str) -> JSON:
    """The Workload Identity principal of ``ksa`` (it names the project by number)."""
    number = ctx.project_number()
    pool = f"{ctx.gcp_project}.svc.id.goog"
    subject = f"subject/ns/{namespace(ctx.config)}/sa/{ksa}"
    parts: list[JSON] = ["principal://iam.googleapis.com/projects/", number]
    return fn_join("", [*parts, f"/locations/global/workloadIdentityPools/{pool}/{subject}"])


def _grants(
    ctx: BuildContext, synced: list[Synced], member: JSON, depends_on: tuple[str, ...]
) -> dict[tuple[str, str], str]:
    """The accessor role for ``member`` on each referenced secret; address by (project, secret)."""
    addresses: dict[tuple[str, str], str] = {}
    for item in synced:
        key = (item.project, item.secret)
        if key in addresses:
            continue
        on = item.secret if item.project == ctx.gcp_project else f"{item.project}-{item.secret}"
        grant = ctx.add(
            SECRET_IAM_MEMBER,
            f"{READER}-secret-accessor-{on}",
            {"secretId": item.secret, "project": item.project, "role": SECRET_ACCESSOR, "member": member},
            source=item.source,
            depends_on=depends_on,
        )
        addresses[key] = grant.address
    return addresses


def _store(ctx: BuildContext, item: Synced, reader: Reader) -> Resource:
    """The SecretStore of the secrets in ``item``'s project, as the secret reader."""
    return ctx.add_manifest(
        "secretstore",
        source=item.source,
        depends_on=reader.ready,
        name=f"secret-manager-{item.project}",
        namespace=namespace(ctx.config),
        labels=ctx.k8s_labels(COMPONENT),
        project=item.project,
        cluster_project=ctx.gcp_project,
        cluster_location=ctx.target.region,
        cluster_name=cluster_name(ctx.config, ctx.target),
        service_account=reader.ksa,
    )


def _external_secret(ctx: BuildContext, item: Synced, store: Resource, grant: str) -> None:
    ctx.add_manifest(
        "externalsecret",
        source=item.source,
        depends_on=(store.address, grant),
        name=item.name,
        namespace=namespace(ctx.config),
        labels=ctx.k8s_labels(COMPONENT),
        refresh_interval=REFRESH_INTERVAL,
        store=store.name,
        key=SECRET_KEY,
        secret=item.secret,
        version=item.version,
    )


def _listed(item: Synced) -> str:
    """The add-on's ``secrets`` parameter (YAML): the version to read, and the file it becomes."""
    resource = f"projects/{item.project}/secrets/{item.secret}/versions/{item.version}"
    return f'- resourceName: "{resource}"\n  path: "{SECRET_KEY}"\n'
