"""What the providers do with each resource type, keyed by Pulumi type token.

Only the facts the plan needs: which input paths cannot be changed in place,
so that changing them replaces the resource (delete, then create). Paths are
dotted paths into the inputs (``metadata.name``). A new type is one entry.
"""

from __future__ import annotations

from collections.abc import Mapping

from mlopsctl.graph import JSON
from mlopsctl.state import canonical_json

# Exact type token -> input paths whose change forces replacement.
REPLACE_ON: Mapping[str, tuple[str, ...]] = {
    "gcp:storage/bucket:Bucket": ("name", "location", "project"),
    "gcp:bigquery/dataset:Dataset": ("datasetId", "location", "project"),
    "gcp:bigquery/table:Table": ("datasetId", "tableId", "project"),
    "gcp:serviceaccount/account:Account": ("accountId", "project"),
    "gcp:container/cluster:Cluster": ("name", "location", "project"),
    "gcp:container/nodePool:NodePool": ("name", "cluster", "location", "nodeConfig"),
}

# Type token prefix -> the rule for every token under it without an exact entry.
REPLACE_ON_PREFIX: Mapping[str, tuple[str, ...]] = {
    "kubernetes:": ("metadata.name", "metadata.namespace"),
}


def replace_on(type_token: str) -> tuple[str, ...]:
    """The input paths of ``type_token`` that force replacement (longest prefix wins)."""
    if type_token in REPLACE_ON:
        return REPLACE_ON[type_token]
    prefixes = [p for p in REPLACE_ON_PREFIX if type_token.startswith(p)]
    return REPLACE_ON_PREFIX[max(prefixes, key=len)] if prefixes else ()


def replace_paths(type_token: str, before: Mapping[str, JSON], after: Mapping[str, JSON]) -> tuple[str, ...]:
    """The replacement-forcing paths whose value differs between ``before`` and ``after``, sorted."""
    return tuple(sorted(p for p in replace_on(type_token) if _at(before, p) != _at(after, p)))


def _at(inputs: Mapping[str, JSON], dotted: str) -> str | None:
    """The canonical JSON of the value at ``dotted``; None when absent (which differs from ``null``)."""
    value: JSON = inputs
    for key in dotted.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return canonical_json(value)
