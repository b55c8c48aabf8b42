"""The feature store (``features``): feature groups over BigQuery, online stores and their views.

A managed service on either placement. Vertex AI ids allow ``[a-z0-9_]`` only, starting with a letter,
so names are converted deterministically: a group or online store is ``<name>_<env>`` with ``-`` as
``_`` (unique per GCP project and region, which several environments may share), a view is its name
so converted (unique in its store), and a feature is its column lowercased, with any other character
as ``_`` and a short hash of the column when that changed more than its case; each feature names its
column (``versionColumnName``), so the id need not be the column.

The Vertex AI service agent reads the groups' source tables (to register the features and sync the
views): it is generated for the project (``ServiceIdentity``) and granted ``roles/bigquery.dataViewer``
on each source dataset, never on the project.

An endpoint's ``features`` are the views it fetches feature values from online: its Google account
is granted ``roles/aiplatform.featurestoreDataViewer`` on each of those views (the narrowest
predefined role with ``aiplatform.featureViews.fetchFeatureValues``), never on the online store or
the project, and its model servers get each view's resource name as ``MLOPSCTL_FEATURE_VIEW_<VIEW>``
(:func:`view_env`; on Vertex AI in the container of the model version it serves). A pipeline that
ingests a view reads its group's BigQuery source table (:mod:`mlopsctl.compiler.iam` grants that).
"""

from __future__ import annotations

import hashlib
import re

from mlopsctl.compiler.apis import service_agent
from mlopsctl.compiler.bigquery import DATASET, TABLE
from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.iam import DATASET_IAM_MEMBER
from mlopsctl.compiler.identity import identity_of
from mlopsctl.compiler.kms import default_key
from mlopsctl.compiler.pipelines import bigquery_name
from mlopsctl.config.models.features import FeatureGroup, FeatureView, OnlineStore
from mlopsctl.config.naming import dataset_id
from mlopsctl.graph import JSON, fn_output

FEATURE_GROUP = "gcp:vertex/aiFeatureGroup:AiFeatureGroup"
FEATURE = "gcp:vertex/aiFeatureGroupFeature:AiFeatureGroupFeature"
ONLINE_STORE = "gcp:vertex/aiFeatureOnlineStore:AiFeatureOnlineStore"
FEATURE_VIEW = "gcp:vertex/aiFeatureOnlineStoreFeatureview:AiFeatureOnlineStoreFeatureview"
FEATURE_VIEW_IAM_MEMBER = (
    "gcp:vertex/aiFeatureOnlineStoreFeatureviewIamMember:AiFeatureOnlineStoreFeatureviewIamMember"
)
ONLINE_READER = "roles/aiplatform.featurestoreDataViewer"
"""The narrowest predefined role that may fetch a feature view's values online
(``aiplatform.featureViews.fetchFeatureValues``), granted on the view."""
VIEW_ENV_PREFIX = "MLOPSCTL_FEATURE_VIEW_"
DATA_VIEWER = "roles/bigquery.dataViewer"
AGENT = "aiplatform"
"""The graph name of the Vertex AI service agent's identity."""
FEATURE_ID = re.compile(r"^[a-z][a-z0-9_]{0,127}$")


def vertex_id(name: str) -> str:
    """A config name (``[a-z][-a-z0-9]*``) as a Vertex AI id: ``-`` becomes ``_``."""
    return name.replace("-", "_")


def resource_id(ctx: BuildContext, name: str) -> str:
    """The id of a feature group or online store: per environment."""
    return vertex_id(f"{name}_{ctx.target.env}")


def feature_id(column: str) -> str:
    """The id of the feature over ``column``: the column lowercased, if that is an id; else made one,
    with a hash of the column so that distinct columns stay distinct."""
    lowered = column.lower()
    if FEATURE_ID.match(lowered):
        return lowered
    safe = re.sub(r"[^a-z0-9_]", "_", lowered)
    safe = safe if safe[:1].isalpha() else f"f_{safe}"
    return f"{safe[:120]}_{hashlib.sha256(column.encode()).hexdigest()[:6]}"


def build(ctx: BuildContext) -> None:
    features = ctx.config.features
    if not (features.groups or features.online_stores or features.views):
        return
    for name, group in features.groups.items():
        _group(ctx, name, group)
    for name, store in features.online_stores.items():
        _online_store(ctx, name, store)
    for name, view in features.views.items():
        _view(ctx, name, view)
    for name in ctx.config.endpoints:
        online_reads(ctx, name)


def _agent_reads(ctx: BuildContext, dataset: str) -> str:
    """The Vertex AI service agent's read access to ``dataset`` (added once): its address."""
    agent = service_agent(ctx, "vertex", ("features",))
    name = f"{AGENT}-agent-data-viewer-{dataset}"
    address = ctx.address(DATASET_IAM_MEMBER, name)
    if address not in ctx.graph.resources:
        inputs: dict[str, JSON] = {
            "datasetId": dataset_id(ctx.target, dataset, ctx.config.data.datasets[dataset]),
            "project": ctx.gcp_project,
            "role": DATA_VIEWER,
            "member": fn_output(agent, "member"),
        }
        source = ("data", "datasets", dataset)
        ctx.add(
            DATASET_IAM_MEMBER, name, inputs, source=source, depends_on=(agent, ctx.address(DATASET, dataset))
        )
    return address


def _group(ctx: BuildContext, name: str, group: FeatureGroup) -> None:
    source = ("features", "groups", name)
    table = ctx.address(TABLE, f"{group.source.dataset}.{group.source.table}")
    depends = (
        ctx.address(DATASET, group.source.dataset),
        *((table,) if table in ctx.graph.resources else ()),
        _agent_reads(ctx, group.source.dataset),
    )
    inputs: dict[str, JSON] = {
        "name": resource_id(ctx, name),
        "project": ctx.gcp_project,
        "region": ctx.target.region,
        "bigQuery": {
            "bigQuerySource": {
                "inputUri": f"bq://{bigquery_name(ctx, group.source.dataset, group.source.table)}"
            },
            "entityIdColumns": list(group.entity_id_columns),
        },
        "labels": ctx.gcp_labels(group.labels),
    }
    if group.description:
        inputs["description"] = group.description
    parent = ctx.add(FEATURE_GROUP, name, inputs, source=source, depends_on=depends)
    for i, column in enumerate(group.features):
        feature: dict[str, JSON] = {
            "name": feature_id(column),
            "project": ctx.gcp_project,
            "region": ctx.target.region,
            "featureGroup": resource_id(ctx, name),
            "versionColumnName": column,
            "labels": ctx.gcp_labels(group.labels),
        }
        ctx.add(
            FEATURE,
            f"{name}.{column}",
            feature,
            source=(*source, "features", i),
            depends_on=(parent.address,),
        )


def _online_store(ctx: BuildContext, name: str, store: OnlineStore) -> None:
    inputs: dict[str, JSON] = {
        "name": resource_id(ctx, name),
        "project": ctx.gcp_project,
        "region": ctx.target.region,
        "labels": ctx.gcp_labels(store.labels),
    }
    key_deps: tuple[str, ...] = ()
    if store.type == "bigtable":
        scaling = store.bigtable
        inputs["bigtable"] = {
            "autoScaling": {
                "minNodeCount": scaling.min_nodes,
                "maxNodeCount": scaling.max_nodes,
                "cpuUtilizationTarget": scaling.cpu_target,
            }
        }
        encryption, key_deps = default_key(ctx, "aiplatform", "encryptionSpec")  # Bigtable serving only
        inputs.update(encryption)
    else:
        inputs["optimized"] = {}
    # It holds the synced values endpoints fetch: replacing it leaves them without until views resync.
    ctx.add(
        ONLINE_STORE,
        name,
        inputs,
        source=("features", "onlineStores", name),
        depends_on=key_deps,
        protect=True,
    )


def _view(ctx: BuildContext, name: str, view: FeatureView) -> None:
    group = ctx.config.features.groups[view.group]
    columns = view.features or group.features
    inputs: dict[str, JSON] = {
        "name": vertex_id(name),
        "project": ctx.gcp_project,
        "region": ctx.target.region,
        "featureOnlineStore": resource_id(ctx, view.store),
        "featureRegistrySource": {
            "featureGroups": [
                {
                    "featureGroupId": resource_id(ctx, view.group),
                    "featureIds": [feature_id(c) for c in columns],
                }
            ]
        },
        "syncConfig": {"cron": view.sync},
        "labels": ctx.gcp_labels(view.labels),
    }
    depends = (
        ctx.address(ONLINE_STORE, view.store),
        *(ctx.address(FEATURE, f"{view.group}.{c}") for c in columns),
        _agent_reads(ctx, group.source.dataset),
    )
    ctx.add(FEATURE_VIEW, name, inputs, source=("features", "views", name), depends_on=depends)


def view_resource_name(ctx: BuildContext, view: str) -> str:
    """``projects/P/locations/L/featureOnlineStores/S/featureViews/V``: what fetchFeatureValues names."""
    store = resource_id(ctx, ctx.config.features.views[view].store)
    where = f"projects/{ctx.gcp_project}/locations/{ctx.target.region}"
    return f"{where}/featureOnlineStores/{store}/featureViews/{vertex_id(view)}"


def view_vars(ctx: BuildContext, endpoint: str) -> dict[str, str]:
    """The variables telling a model server of ``endpoint`` each view it reads online:
    ``MLOPSCTL_FEATURE_VIEW_<VIEW>`` (the name uppercased, ``-`` as ``_``) = its resource name."""
    return {
        VIEW_ENV_PREFIX + vertex_id(view).upper(): view_resource_name(ctx, view)
        for view in ctx.config.endpoints[endpoint].features
    }


def view_env(ctx: BuildContext, endpoint: str) -> list[JSON]:
    """:func:`view_vars` as a container's ``env``."""
    return [{"name": name, "value": value} for name, value in view_vars(ctx, endpoint).items()]


def online_reads(ctx: BuildContext, endpoint: str) -> tuple[str, ...]:
    """The grants letting ``endpoint``'s Google account fetch the values of each view it lists
    (added once): their addresses."""
    spec = ctx.config.endpoints[endpoint]
    who = identity_of(ctx, "endpoint", endpoint, spec.service_account)
    grantee = ctx.graph.resources[who.gsa_address].name
    addresses: list[str] = []
    for i, view in enumerate(spec.features):
        name = f"{grantee}-featurestore-data-viewer-{view}"
        address = ctx.address(FEATURE_VIEW_IAM_MEMBER, name)
        if address not in ctx.graph.resources:
            inputs: dict[str, JSON] = {
                "project": ctx.gcp_project,
                "region": ctx.target.region,
                "featureOnlineStore": resource_id(ctx, ctx.config.features.views[view].store),
                "featureView": vertex_id(view),
                "role": ONLINE_READER,
                "member": f"serviceAccount:{who.gsa_email}",
            }
            depends = (ctx.address(FEATURE_VIEW, view), who.gsa_address)
            ctx.add(
                FEATURE_VIEW_IAM_MEMBER,
                name,
                inputs,
                source=("endpoints", endpoint, "features", i),
                depends_on=depends,
            )
        if address not in addresses:
            addresses.append(address)
    return tuple(addresses)
