"""Least-privilege grants: each workload's Google account gets only the roles its references need.

Grants are made on the bucket, dataset or secret referenced, never on the project, except
BigQuery's job user role (jobs belong to a project: there is no narrower place to grant
it) and the extra roles a declared account asks for. A bucket or dataset mlopsctl does not
manage (an artifact URI elsewhere, an external source) is its owner's to share.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from mlopsctl.build.bigquery import DATASET, TABLE
from mlopsctl.build.context import BuildContext
from mlopsctl.build.identity import Identity, identity_of
from mlopsctl.build.storage import BUCKET
from mlopsctl.config.models.monitoring import DataMonitor
from mlopsctl.config.models.pipelines import NewData, Pipeline
from mlopsctl.config.models.serving import BatchIO, BatchJob, Endpoint
from mlopsctl.config.models.stages import IngestSource
from mlopsctl.graph import JSON
from mlopsctl.naming import (
    PIPELINE_ROOT,
    bucket_name,
    bucket_of,
    dataset_id,
    monitor_table,
    request_log_table,
)
from mlopsctl.sourcemap import Path

BUCKET_IAM_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
DATASET_IAM_MEMBER = "gcp:bigquery/datasetIamMember:DatasetIamMember"
TABLE_IAM_MEMBER = "gcp:bigquery/iamMember:IamMember"
SECRET_IAM_MEMBER = "gcp:secretmanager/secretIamMember:SecretIamMember"
PROJECT_IAM_MEMBER = "gcp:projects/iAMMember:IAMMember"

Access = Literal["read", "write"]
_ROLES: dict[str, dict[Access, str]] = {
    BUCKET_IAM_MEMBER: {"read": "roles/storage.objectViewer", "write": "roles/storage.objectUser"},
    DATASET_IAM_MEMBER: {"read": "roles/bigquery.dataViewer", "write": "roles/bigquery.dataEditor"},
    TABLE_IAM_MEMBER: {"read": "roles/bigquery.dataViewer", "write": "roles/bigquery.dataEditor"},
}
"""Per resource type, the role to read and the role to write (which includes reading)."""
JOB_USER = "roles/bigquery.jobUser"
SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"
OBJECT_ADMIN = "roles/storage.objectAdmin"
"""On the pipeline root: runs write, read, overwrite and list their artifacts there."""
METADATA_VIEWER = "roles/bigquery.metadataViewer"
"""On a dataset a new-data trigger watches: it reads when tables and partitions changed."""


@dataclass(frozen=True)
class Grant:
    """``role`` for ``who`` on ``on`` (a bucket or dataset key, ``dataset.table`` for a table, a
    secret reference; None: the project)."""

    who: Identity
    type: str
    on: str | None
    role: str


Need = tuple[str, str | None, str, Path]
"""What a workload needs, before it is known who runs it: (type, on, role, source)."""


def build(ctx: BuildContext) -> None:
    grants: dict[Grant, Path] = {}
    for who, (type_, on, role, source) in _needs(ctx):
        grants.setdefault(Grant(who, type_, on, role), source)
    for grant, source in grants.items():
        if not _implied_by_write(grant, grants):
            _add(ctx, grant, source)


def _needs(ctx: BuildContext) -> Iterator[tuple[Identity, Need]]:
    cfg = ctx.config
    for name, account in cfg.security.service_accounts.items():
        who = identity_of(ctx, "account", name)
        for role in account.roles:
            yield who, (PROJECT_IAM_MEMBER, None, role, ("security", "serviceAccounts", name, "roles"))
    for name, pipeline in cfg.pipelines.items():
        who = identity_of(ctx, "pipeline", name, pipeline.service_account)
        yield from ((who, need) for need in _pipeline(ctx, name, pipeline))
    for name, endpoint in cfg.endpoints.items():
        who = identity_of(ctx, "endpoint", name, endpoint.service_account)
        yield from ((who, need) for need in _endpoint(ctx, name, endpoint))
    for name, job in cfg.batch_jobs.items():
        who = identity_of(ctx, "batch", name)
        yield from ((who, need) for need in _batch_job(ctx, name, job))
    for name, monitor in cfg.monitors.items():
        if isinstance(monitor, DataMonitor):
            who = identity_of(ctx, "monitor", name)
            yield from ((who, need) for need in _data_monitor(ctx, name, monitor))


def _pipeline(ctx: BuildContext, name: str, pipeline: Pipeline) -> Iterator[Need]:
    """Write its runs' artifacts, read its ingest sources, write the artifacts of the models it
    pushes, read its secrets; see what its new-data triggers watch."""
    yield BUCKET_IAM_MEMBER, PIPELINE_ROOT, OBJECT_ADMIN, ("pipelines", name)
    for i, trigger in enumerate(pipeline.triggers):
        if trigger.new_data is not None:
            yield _watched(trigger.new_data, ("pipelines", name, "triggers", i, "newData"))
    for step_name, step in pipeline.steps.items():
        path = ("pipelines", name, "steps", step_name)
        if step.source is not None:
            yield from _ingest(ctx, step.source, (*path, "source"))
        if step.model is not None:
            for version in ctx.config.models[step.model].versions.values():
                yield from _artifact_bucket(ctx, version.artifact_uri, "write", (*path, "model"))
        for env, secret in step.secrets.items():
            yield _secret(ctx, secret, (*path, "secrets", env))


def _watched(new_data: NewData, path: Path) -> Need:
    """List the objects under the watched prefix, or read the watched tables' metadata."""
    if new_data.bucket is not None:
        return BUCKET_IAM_MEMBER, new_data.bucket, _ROLES[BUCKET_IAM_MEMBER]["read"], (*path, "bucket")
    assert new_data.dataset is not None
    return DATASET_IAM_MEMBER, new_data.dataset, METADATA_VIEWER, (*path, "dataset")


def _ingest(ctx: BuildContext, source: IngestSource, path: Path) -> Iterator[Need]:
    if source.bigquery is not None:
        yield from _query(source.bigquery.dataset, "read", (*path, "bigquery", "dataset"))
    elif source.gcs is not None:
        yield (
            BUCKET_IAM_MEMBER,
            source.gcs.partition("/")[0],
            _ROLES[BUCKET_IAM_MEMBER]["read"],
            (*path, "gcs"),
        )
    elif source.external is not None:
        uri = ctx.config.data.external[source.external].uri
        yield from _artifact_bucket(ctx, uri, "read", (*path, "external"))


def _endpoint(ctx: BuildContext, name: str, endpoint: Endpoint) -> Iterator[Need]:
    """Read the artifacts of the model versions it serves; write its request log."""
    served: list[tuple[Path, str, str]] = [
        (("variants", v), s.model, s.version) for v, s in endpoint.variants.items()
    ]
    if endpoint.graph is not None:
        served += [(("graph", "steps", k), s.model, s.version) for k, s in endpoint.graph.steps.items()]
    for where, model, version in served:
        uri = ctx.config.models[model].versions[version].artifact_uri
        yield from _artifact_bucket(ctx, uri, "read", ("endpoints", name, *where, "version"))
    if endpoint.logging is not None:
        # The request logger appends to the log table only: grant on that table, not its dataset.
        table = f"{endpoint.logging.dataset}.{request_log_table(name, endpoint.logging.table)}"
        role = _ROLES[TABLE_IAM_MEMBER]["write"]
        yield TABLE_IAM_MEMBER, table, role, ("endpoints", name, "logging", "dataset")


def _batch_job(ctx: BuildContext, name: str, job: BatchJob) -> Iterator[Need]:
    """Write its runs' artifacts; read the model version's artifacts and the input; write the output."""
    yield BUCKET_IAM_MEMBER, PIPELINE_ROOT, OBJECT_ADMIN, ("batchJobs", name)
    uri = ctx.config.models[job.model].versions[job.version].artifact_uri
    yield from _artifact_bucket(ctx, uri, "read", ("batchJobs", name, "version"))
    yield from _batch_io(job.input, "read", ("batchJobs", name, "input"))
    yield from _batch_io(job.output, "write", ("batchJobs", name, "output"))


def _batch_io(io: BatchIO, access: Access, path: Path) -> Iterator[Need]:
    if io.bigquery is not None:
        yield from _query(io.bigquery.dataset, access, (*path, "bigquery", "dataset"))
    elif io.gcs is not None:
        yield BUCKET_IAM_MEMBER, io.gcs.partition("/")[0], _ROLES[BUCKET_IAM_MEMBER][access], (*path, "gcs")


def _data_monitor(ctx: BuildContext, name: str, monitor: DataMonitor) -> Iterator[Need]:
    """Read the endpoint's request log and the baseline's dataset; write only its own statistics
    and alerts tables (in that dataset); read the secrets of the channels it notifies."""
    logging = ctx.config.endpoints[monitor.endpoint].logging
    if logging is not None:
        yield from _query(logging.dataset, "read", ("monitors", name, "endpoint"))
    path = ("monitors", name, "baseline", "dataset")
    yield from _query(monitor.baseline.dataset, "read", path)
    for kind in ("statistics", "alerts"):
        table = f"{monitor.baseline.dataset}.{monitor_table(name, kind)}"
        yield TABLE_IAM_MEMBER, table, _ROLES[TABLE_IAM_MEMBER]["write"], path
    for channel in monitor.actions.notify:
        secret = ctx.config.alert_channels[channel].secret
        if secret is not None:
            yield _secret(ctx, secret, ("monitors", name, "actions", "notify"))


def _secret(ctx: BuildContext, ref: str, path: Path) -> Need:
    """Access to a secret, whichever version is referenced."""
    project, secret, _ = secret_parts(ctx, ref)
    return SECRET_IAM_MEMBER, f"projects/{project}/secrets/{secret}", SECRET_ACCESSOR, path


def _query(dataset: str, access: Access, path: Path) -> Iterator[Need]:
    """Access to a dataset, and the right to run the query jobs that read or write it."""
    yield DATASET_IAM_MEMBER, dataset, _ROLES[DATASET_IAM_MEMBER][access], path
    yield PROJECT_IAM_MEMBER, None, JOB_USER, path


def _artifact_bucket(ctx: BuildContext, uri: str, access: Access, path: Path) -> Iterator[Need]:
    """Access to the bucket of a ``gs://`` URI, if it is one of the buckets under data.buckets."""
    if not uri.startswith("gs://"):
        return
    name = uri.removeprefix("gs://").partition("/")[0]
    for key, bucket in ctx.config.data.buckets.items():
        if bucket_name(ctx.config, ctx.target, key, bucket) == name:
            yield BUCKET_IAM_MEMBER, key, _ROLES[BUCKET_IAM_MEMBER][access], path


def _implied_by_write(grant: Grant, grants: dict[Grant, Path]) -> bool:
    """A read grant is redundant where the same account may also write."""
    roles = _ROLES.get(grant.type)
    return (
        roles is not None
        and grant.role == roles["read"]
        and (Grant(grant.who, grant.type, grant.on, roles["write"]) in grants)
    )


def _add(ctx: BuildContext, grant: Grant, source: Path) -> None:
    account = ctx.graph.resources[grant.who.gsa_address]
    scope, granted_on = _scope(ctx, grant)
    inputs = {**scope, "role": grant.role, "member": f"serviceAccount:{grant.who.gsa_email}"}
    name = "-".join(part for part in (account.name, _role_name(grant), _on_name(ctx, grant)) if part)
    ctx.add(grant.type, name, inputs, source=source, depends_on=(account.address, *granted_on))


def _scope(ctx: BuildContext, grant: Grant) -> tuple[dict[str, JSON], tuple[str, ...]]:
    """The inputs naming what ``grant`` is on, and that resource's address if it is in the graph."""
    on = grant.on
    if on is None:
        return {"project": ctx.gcp_project}, ()
    if grant.type == BUCKET_IAM_MEMBER:
        return {"bucket": bucket_of(ctx.config, ctx.target, on)}, (ctx.address(BUCKET, on),)
    if grant.type == DATASET_IAM_MEMBER:
        dataset = dataset_id(ctx.target, on, ctx.config.data.datasets[on])
        return {"datasetId": dataset, "project": ctx.gcp_project}, (ctx.address(DATASET, on),)
    if grant.type == TABLE_IAM_MEMBER:
        key, _, table = on.partition(".")
        dataset = dataset_id(ctx.target, key, ctx.config.data.datasets[key])
        scope: dict[str, JSON] = {"datasetId": dataset, "tableId": table, "project": ctx.gcp_project}
        return scope, (ctx.address(TABLE, on),)
    project, secret, _ = secret_parts(ctx, on)
    return {"secretId": secret, "project": project}, ()


def _role_name(grant: Grant) -> str:
    """``roles/storage.objectViewer`` → ``object-viewer`` on a resource (its type says which
    service), ``storage-object-viewer`` on the project."""
    role = grant.role.removeprefix("roles/")
    if grant.type != PROJECT_IAM_MEMBER:
        role = role.rsplit(".", 1)[-1]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", role).replace(".", "-").lower()


def _on_name(ctx: BuildContext, grant: Grant) -> str | None:
    if grant.type == TABLE_IAM_MEMBER and grant.on is not None:
        return grant.on.replace(".", "-")
    if grant.type != SECRET_IAM_MEMBER or grant.on is None:
        return grant.on
    project, secret, _ = secret_parts(ctx, grant.on)
    return secret if project == ctx.gcp_project else f"{project}-{secret}"


def secret_parts(ctx: BuildContext, ref: str) -> tuple[str, str, str]:
    """(project, secret, version) of a Secret Manager reference: ``name``,
    ``projects/P/secrets/name`` and either with ``/versions/V`` (default: latest)."""
    path, _, version = ref.partition("/versions/")
    project, _, secret = path.removeprefix("projects/").rpartition("/secrets/")
    return project or ctx.gcp_project, secret, version or "latest"
