"""The feature store's views name stores, groups and features that exist, over declared datasets; a
group's columns exist in its source table's schema, where the config declares one; the views that
pipelines ingest and endpoints read online exist; a Bigtable online store scales within the range
Bigtable allows; an optimized online store is deprecated."""

from __future__ import annotations

from collections.abc import Iterator

from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.checks.bigquery_schema import table_columns, top_level
from mlopsctl.config.checks.references import unresolved
from mlopsctl.config.diagnostics import Diagnostic, Severity, did_you_mean
from mlopsctl.config.sourcemap import Path


@check
def feature_references(ctx: CheckContext) -> Iterator[Diagnostic]:
    features, datasets = ctx.config.features, ctx.config.data.datasets
    for name, group in features.groups.items():
        if group.source.dataset not in datasets:
            path = ("features", "groups", name, "source", "dataset")
            yield unresolved("dataset", group.source.dataset, "data.datasets", datasets, path)
        for i, column in enumerate(group.entity_id_columns):
            if column in group.features:
                yield Diagnostic(
                    "E303",
                    f"'{column}' is both an entity id column and a feature of group '{name}'",
                    path=("features", "groups", name, "entityIdColumns", i),
                    hint="an entity id identifies the row: list it under entityIdColumns only",
                )
    for name, view in features.views.items():
        base = ("features", "views", name)
        if view.store not in features.online_stores:
            yield unresolved(
                "online store", view.store, "features.onlineStores", features.online_stores, (*base, "store")
            )
        viewed = features.groups.get(view.group)
        if viewed is None:
            yield unresolved(
                "feature group", view.group, "features.groups", features.groups, (*base, "group")
            )
            continue
        for i, feature in enumerate(view.features):
            if feature not in viewed.features:
                yield unresolved(
                    "feature",
                    feature,
                    f"features.groups.{view.group}.features",
                    viewed.features,
                    (*base, "features", i),
                )


@check
def feature_group_columns(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Entity id columns and features are columns of the group's source table, where the config
    declares that table with a schema (inline or a file); other sources are not checked."""
    for name, group in ctx.config.features.groups.items():
        source = group.source
        dataset = ctx.config.data.datasets.get(source.dataset)
        table = dataset.tables.get(source.table) if dataset is not None else None
        if table is None:
            continue
        base: Path = ("data", "datasets", source.dataset, "tables", source.table)
        columns = table_columns(ctx, table, base)
        if columns is None:
            continue
        names = [c.name for c in columns]
        listed = [("entity id column", "entityIdColumns", group.entity_id_columns)]
        listed.append(("feature", "features", group.features))
        for role, key, written in listed:
            for i, column in enumerate(written):
                if top_level(columns, column) is None:
                    yield Diagnostic(
                        "E301",
                        f"the {role} '{column}' of feature group '{name}' is not a column of table "
                        f"'{source.table}' of dataset '{source.dataset}'",
                        path=("features", "groups", name, key, i),
                        hint=did_you_mean(column, names) or f"its columns: {', '.join(names)}",
                    )


@check
def feature_view_reads(ctx: CheckContext) -> Iterator[Diagnostic]:
    views = ctx.config.features.views
    for name, pipeline in ctx.config.pipelines.items():
        for step_name, step in pipeline.steps.items():
            view = step.source.feature_view if step.source is not None else None
            if view is not None and view not in views:
                path = ("pipelines", name, "steps", step_name, "source", "featureView")
                yield unresolved("feature view", view, "features.views", views, path)
    for name, endpoint in ctx.config.endpoints.items():
        for i, view in enumerate(endpoint.features):
            if view not in views:
                yield unresolved(
                    "feature view", view, "features.views", views, ("endpoints", name, "features", i)
                )


BIGTABLE_SCALE_LIMIT = 10
"""Bigtable autoscales between minNodeCount and at most 10 times it (``maxNodeCount``)."""


@check
def bigtable_scaling(ctx: CheckContext) -> Iterator[Diagnostic]:
    for name, store in ctx.config.features.online_stores.items():
        if store.type != "bigtable":
            continue
        least, most = store.bigtable.min_nodes, store.bigtable.max_nodes
        path = ("features", "onlineStores", name, "bigtable", "maxNodes")
        if most < least:
            yield Diagnostic(
                "E205",
                f"online store '{name}': bigtable.maxNodes ({most}) is below bigtable.minNodes ({least})",
                path=path,
                hint=f"set maxNodes to at least {least}, or lower minNodes",
            )
        elif most > BIGTABLE_SCALE_LIMIT * least:
            yield Diagnostic(
                "E205",
                f"online store '{name}': bigtable.maxNodes ({most}) is more than {BIGTABLE_SCALE_LIMIT} "
                f"times bigtable.minNodes ({least}), the most Bigtable autoscaling allows",
                path=path,
                hint=f"set maxNodes to at most {BIGTABLE_SCALE_LIMIT * least}, "
                f"or minNodes to at least {-(-most // BIGTABLE_SCALE_LIMIT)}",
            )


@check
def optimized_stores(ctx: CheckContext) -> Iterator[Diagnostic]:
    """W407 for each online store of optimized online serving (the default of ``type``): Vertex AI has
    deprecated it, and only Bigtable online serving takes a customer-managed key."""
    for name, store in ctx.config.features.online_stores.items():
        if store.type != "optimized":
            continue
        given = "type" in store.model_fields_set
        yield Diagnostic(
            "W407",
            f"online store '{name}' uses optimized online serving"
            + ("" if given else " (the default of type)")
            + ", which Vertex AI has deprecated, and which cannot be encrypted with a customer-managed key",
            path=("features", "onlineStores", name, *(("type",) if given else ())),
            hint="set type: bigtable (with bigtable: minNodes, maxNodes); a store's type cannot change, so "
            "an existing store is replaced and its feature views sync again",
            severity=Severity.WARNING,
        )
