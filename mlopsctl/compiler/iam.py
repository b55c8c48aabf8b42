"""Least-privilege grants: each workload's Google account gets only the roles its references need.

Grants are made on the bucket, dataset or table referenced, never on the project, except
BigQuery's job user and read session user roles (query jobs and Storage Read API sessions
belong to a project: there is no narrower place to grant them) and the extra roles a declared
account asks for. A workload that reads or writes one table is granted on that table when
mlopsctl creates it (it is declared, or a request log, statistics or alerts table), and on
its dataset otherwise (IAM on a table needs the table to exist). A bucket or dataset mlopsctl
does not manage (an artifact URI elsewhere, an external source) is its owner's to share.

Secret Manager secrets are read by the secret reader of :mod:`mlopsctl.compiler.secrets`, which
fills the Kubernetes Secrets that steps read; monitors notify through Cloud Monitoring's alert
policies (:mod:`mlopsctl.compiler.alerting`). No workload reads a secret itself.

An ingest of a feature view reads its feature group's BigQuery source table, as an ingest of that
table does. An ingest of an external BigQuery table (``bq://`` under data.external, often another
project's) creates its read session in the environment's project (Read Session User there); read
access on the table is the table owner's to grant. An endpoint's online reads of feature views
are granted on each view (:mod:`mlopsctl.compiler.vertex_features`).

On Vertex AI, an endpoint's account only reads its models' artifacts (and the feature views it
lists): the endpoint's request log is written, and a monitor's data read, by the project's Vertex AI
service agent, which gets exactly that on the logging dataset and the baseline table
(:data:`VERTEX_AI_AGENT`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from mlopsctl.compiler.apis import service_agent
from mlopsctl.compiler.bigquery import DATASET, TABLE
from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.identity import Identity, identity_of
from mlopsctl.compiler.storage import BUCKET
from mlopsctl.config.models.data import ExternalSource
from mlopsctl.config.models.monitoring import DataMonitor
from mlopsctl.config.models.pipelines import NewData, Pipeline
from mlopsctl.config.models.serving import BatchIO, BatchJob, Endpoint
from mlopsctl.config.models.stages import IngestSource
from mlopsctl.config.naming import (
    PIPELINE_ROOT,
    bucket_of,
    dataset_id,
    monitor_table,
    request_log_table,
)
from mlopsctl.config.sourcemap import Path
from mlopsctl.graph import JSON, fn_output

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
READ_SESSION_USER = "roles/bigquery.readSessionUser"
"""On the project: the stages read tables, and query results, through the Storage Read API."""
SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"
METADATA_VIEWER = "roles/bigquery.metadataViewer"
"""On a dataset a new-data trigger watches: it reads when tables and partitions changed."""


@dataclass(frozen=True)
class Grant:
    """``role`` for ``who`` on ``on`` (a bucket or dataset key, ``dataset.table`` for a table;
    None: the project)."""

    who: Identity
    type: str
    on: str | None
    role: str


Need = tuple[str, str | None, str, Path]
"""What a workload needs, before it is known who runs it: (type, on, role, source)."""
VERTEX_AI_AGENT = Identity(ksa="", gsa_email="", gsa_address="")
"""Who is granted for the project's Vertex AI service agent (``service-NUMBER@gcp-sa-aiplatform``),
which has no account in the graph."""


def build(ctx: BuildContext) -> None:
    grants: dict[Grant, Path] = {}
    for who, (type_, on, role, source) in _needs(ctx):
        grants.setdefault(Grant(who, type_, on, role), source)
    of_account: dict[Identity, list[Grant]] = {}  # only an account's own grants can cover its others
    for grant in grants:
        of_account.setdefault(grant.who, []).append(grant)
    for grant, source in grants.items():
        if not any(_covers(other, grant) for other in of_account[grant.who]):
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
        if isinstance(monitor, DataMonitor) and cfg.placement.monitors == "gke":
            who = identity_of(ctx, "monitor", name)
            yield from ((who, need) for need in _data_monitor(ctx, name, monitor))
    yield from ((VERTEX_AI_AGENT, need) for need in _vertex_agent(ctx))


def _pipeline(ctx: BuildContext, name: str, pipeline: Pipeline) -> Iterator[Need]:
    """Write its runs' artifacts (the pipeline root, whose objects runs create, read, list and
    overwrite: Storage Object User, not Admin, which also sets objects' IAM and ACLs), read its ingest
    sources, write the artifacts of the models it pushes; see what its new-data triggers watch."""
    yield BUCKET_IAM_MEMBER, PIPELINE_ROOT, _ROLES[BUCKET_IAM_MEMBER]["write"], ("pipelines", name)
    for i, trigger in enumerate(pipeline.triggers):
        if trigger.new_data is not None:
            yield _watched(ctx, trigger.new_data, ("pipelines", name, "triggers", i, "newData"))
    for step_name, step in pipeline.steps.items():
        path = ("pipelines", name, "steps", step_name)
        if step.source is not None:
            yield from _ingest(ctx, step.source, (*path, "source"))
        if step.model is not None:
            for version in ctx.config.models[step.model].versions.values():
                yield from _artifact_bucket(ctx, version.artifact_uri, "write", (*path, "model"))


def _watched(ctx: BuildContext, new_data: NewData, path: Path) -> Need:
    """List the objects under the watched prefix, or read the watched tables' metadata."""
    if new_data.bucket is not None:
        return BUCKET_IAM_MEMBER, new_data.bucket, _ROLES[BUCKET_IAM_MEMBER]["read"], (*path, "bucket")
    assert new_data.dataset is not None
    type_, on = _table_or_dataset(ctx, new_data.dataset, new_data.table)
    return type_, on, METADATA_VIEWER, (*path, "dataset")


def _ingest(ctx: BuildContext, source: IngestSource, path: Path) -> Iterator[Need]:
    if source.feature_view is not None:  # its group's source table, read as a bigquery table source is
        group = ctx.config.features.groups[ctx.config.features.views[source.feature_view].group]
        where = (*path, "featureView")
        yield from _table(ctx, group.source.dataset, group.source.table, "read", where)
    elif source.bigquery is not None:
        bq, where = source.bigquery, (*path, "bigquery", "dataset")
        if bq.table is not None:
            yield from _table(ctx, bq.dataset, bq.table, "read", where)
        else:
            yield from _query(bq.dataset, where)
    elif source.gcs is not None:
        yield (
            BUCKET_IAM_MEMBER,
            source.gcs.partition("/")[0],
            _ROLES[BUCKET_IAM_MEMBER]["read"],
            (*path, "gcs"),
        )
    elif source.external is not None:
        external = ctx.config.data.external[source.external]
        if external_table(external):
            # Its read session is this project's, whichever project has the table; reading the
            # table is its owner's to grant (mlopsctl grants nothing in another project).
            yield PROJECT_IAM_MEMBER, None, READ_SESSION_USER, (*path, "external")
        else:
            yield from _artifact_bucket(ctx, external.uri, "read", (*path, "external"))


def external_table(external: ExternalSource) -> bool:
    """Whether ingest reads an external source as a BigQuery table (``bq://`` or format BIGQUERY),
    through the Storage Read API in a session of the environment's own project."""
    return external.uri.startswith("bq://") or external.format == "BIGQUERY"


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
    if endpoint.logging is not None and ctx.config.placement.endpoints == "gke":
        # The request logger appends to the log table only (streaming inserts, no job).
        table, path = request_log_table(name, endpoint.logging.table), ("endpoints", name, "logging")
        yield from _table(ctx, endpoint.logging.dataset, table, "write", (*path, "dataset"))


def _batch_job(ctx: BuildContext, name: str, job: BatchJob) -> Iterator[Need]:
    """Write its runs' artifacts; read the input and write the output. The model serves from its
    endpoint: the job only sends it rows."""
    yield BUCKET_IAM_MEMBER, PIPELINE_ROOT, _ROLES[BUCKET_IAM_MEMBER]["write"], ("batchJobs", name)
    yield from _batch_io(ctx, job.input, "read", ("batchJobs", name, "input"))
    yield from _batch_io(ctx, job.output, "write", ("batchJobs", name, "output"))


def _batch_io(ctx: BuildContext, io: BatchIO, access: Access, path: Path) -> Iterator[Need]:
    if io.bigquery is not None:
        yield from _table(ctx, io.bigquery.dataset, io.bigquery.table, access, (*path, "bigquery", "dataset"))
    elif io.gcs is not None:
        yield BUCKET_IAM_MEMBER, io.gcs.partition("/")[0], _ROLES[BUCKET_IAM_MEMBER][access], (*path, "gcs")


def _data_monitor(ctx: BuildContext, name: str, monitor: DataMonitor) -> Iterator[Need]:
    """Read the endpoint's request log and the baseline table; write its own statistics and
    alerts tables (in the baseline's dataset)."""
    logging = ctx.config.endpoints[monitor.endpoint].logging
    if logging is not None:
        log = request_log_table(monitor.endpoint, logging.table)
        yield from _table(ctx, logging.dataset, log, "read", ("monitors", name, "endpoint"))
    path = ("monitors", name, "baseline", "dataset")
    yield from _table(ctx, monitor.baseline.dataset, monitor.baseline.table, "read", path)
    for kind in ("statistics", "alerts"):
        yield from _table(ctx, monitor.baseline.dataset, monitor_table(name, kind), "write", path)


def _vertex_agent(ctx: BuildContext) -> Iterator[Need]:
    """Write the request logs of endpoints on Vertex AI (the endpoint creates its table, so the
    grant is on the dataset); read the baselines of monitors on Vertex AI."""
    placement = ctx.config.placement
    for name, endpoint in ctx.config.endpoints.items() if placement.endpoints == "vertex" else ():
        if endpoint.logging is not None:
            path = ("endpoints", name, "logging", "dataset")
            yield DATASET_IAM_MEMBER, endpoint.logging.dataset, _ROLES[DATASET_IAM_MEMBER]["write"], path
    for name, monitor in ctx.config.monitors.items() if placement.monitors == "vertex" else ():
        if isinstance(monitor, DataMonitor):
            type_, on = _table_or_dataset(ctx, monitor.baseline.dataset, monitor.baseline.table)
            yield type_, on, _ROLES[type_]["read"], ("monitors", name, "baseline", "dataset")


def vertex_agent_grant(ctx: BuildContext, dataset: str) -> str:
    """The address of the Vertex AI service agent's write grant on ``dataset``."""
    grant = Grant(VERTEX_AI_AGENT, DATASET_IAM_MEMBER, dataset, _ROLES[DATASET_IAM_MEMBER]["write"])
    return ctx.address(DATASET_IAM_MEMBER, _grant_name("vertex-ai-agent", grant))


def _table_or_dataset(ctx: BuildContext, dataset: str, table: str | None) -> tuple[str, str]:
    """Where to grant access to ``table`` of ``dataset``: the table, if mlopsctl creates it."""
    if table is not None and ctx.address(TABLE, f"{dataset}.{table}") in ctx.graph.resources:
        return TABLE_IAM_MEMBER, f"{dataset}.{table}"
    return DATASET_IAM_MEMBER, dataset


def _table(ctx: BuildContext, dataset: str, table: str, access: Access, path: Path) -> Iterator[Need]:
    """Read a table through the Storage Read API, or append rows to it (streaming inserts)."""
    type_, on = _table_or_dataset(ctx, dataset, table)
    yield type_, on, _ROLES[type_][access], path
    if access == "read":
        yield PROJECT_IAM_MEMBER, None, READ_SESSION_USER, path


def _query(dataset: str, path: Path) -> Iterator[Need]:
    """Run a query job over a dataset and read its result through the Storage Read API."""
    yield DATASET_IAM_MEMBER, dataset, _ROLES[DATASET_IAM_MEMBER]["read"], path
    yield PROJECT_IAM_MEMBER, None, JOB_USER, path
    yield PROJECT_IAM_MEMBER, None, READ_SESSION_USER, path


def _artifact_bucket(ctx: BuildContext, uri: str, access: Access, path: Path) -> Iterator[Need]:
    """Access to the bucket of a ``gs://`` URI, if it is one of the buckets under data.buckets."""
    if not uri.startswith("gs://"):
        return
    key = ctx.declared_buckets.get(uri.removeprefix("gs://").partition("/")[0])
    if key is not None:
        yield BUCKET_IAM_MEMBER, key, _ROLES[BUCKET_IAM_MEMBER][access], path


_INCLUDING = (
    (METADATA_VIEWER, _ROLES[DATASET_IAM_MEMBER]["read"], _ROLES[DATASET_IAM_MEMBER]["write"]),
    (_ROLES[BUCKET_IAM_MEMBER]["read"], _ROLES[BUCKET_IAM_MEMBER]["write"]),
)
"""BigQuery's and Cloud Storage's roles on data, each allowing what those before it allow."""
_RANKS = {role: rank for roles in _INCLUDING for rank, role in enumerate(roles)}


def _covers(other: Grant, grant: Grant) -> bool:
    """Whether ``other`` makes ``grant`` redundant: the same account, a role that includes it,
    on the same bucket, dataset or table, or on the dataset of that table."""
    if other == grant or other.who != grant.who or grant.role not in _RANKS or other.role not in _RANKS:
        return False
    same = (other.type, other.on) == (grant.type, grant.on)
    dataset_of_table = (
        other.type == DATASET_IAM_MEMBER
        and grant.type == TABLE_IAM_MEMBER
        and (grant.on or "").partition(".")[0] == other.on
    )
    return (same or dataset_of_table) and _RANKS[other.role] >= _RANKS[grant.role]


def _add(ctx: BuildContext, grant: Grant, source: Path) -> None:
    scope, granted_on = _scope(ctx, grant)
    if grant.who == VERTEX_AI_AGENT:  # made to exist first: it may otherwise appear only on first use
        agent = service_agent(ctx, "vertex", source)
        name, member = _grant_name("vertex-ai-agent", grant), fn_output(agent, "member")
        granted_on = (agent, *granted_on)
    else:
        gsa = ctx.graph.resources[grant.who.gsa_address]
        name, member = _grant_name(gsa.name, grant), f"serviceAccount:{grant.who.gsa_email}"
        granted_on = (gsa.address, *granted_on)
    inputs = {**scope, "role": grant.role, "member": member}
    ctx.add(grant.type, name, inputs, source=source, depends_on=granted_on)


def _grant_name(grantee: str, grant: Grant) -> str:
    return "-".join(part for part in (grantee, _role_name(grant), _on_name(grant)) if part)


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
    key, _, table = on.partition(".")  # a table
    dataset = dataset_id(ctx.target, key, ctx.config.data.datasets[key])
    scope: dict[str, JSON] = {"datasetId": dataset, "tableId": table, "project": ctx.gcp_project}
    return scope, (ctx.address(TABLE, on),)


def _role_name(grant: Grant) -> str:
    """``roles/storage.objectViewer`` → ``object-viewer`` on a resource (its type says which
    service), ``storage-object-viewer`` on the project."""
    role = grant.role.removeprefix("roles/")
    if grant.type != PROJECT_IAM_MEMBER:
        role = role.rsplit(".", 1)[-1]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", role).replace(".", "-").lower()


def _on_name(grant: Grant) -> str | None:
    return grant.on.replace(".", "-") if grant.on is not None else None


def secret_parts(ctx: BuildContext, ref: str) -> tuple[str, str, str]:
    """(project, secret, version) of a Secret Manager reference: ``name``,
    ``projects/P/secrets/name`` and either with ``/versions/V`` (default: latest)."""
    path, _, version = ref.partition("/versions/")
    project, _, secret = path.removeprefix("projects/").rpartition("/secrets/")
    return project or ctx.gcp_project, secret, version or "latest"
