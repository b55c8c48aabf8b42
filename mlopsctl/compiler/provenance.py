"""Provenance: every emitted object names the config commit and the graph address that made it.

The last compiler pass stamps the finished graph (docs/provenance.md):

- Kubernetes objects get the annotations ``mlopsctl.dev/address``, ``mlopsctl.dev/source``
  (``mlops.yaml:LINE:COLUMN``) and ``mlopsctl.dev/commit``;
- Google Cloud resources whose type has labels (``LABELLED``) get the labels ``mlops-type`` and
  ``mlops-name`` (the address, with the existing ``mlops-env``/``mlops-region``) and
  ``mlops-commit``;
- service accounts and Cloud Scheduler jobs, which have no labels, end their description in their
  address (``DESCRIBED``).

No commit is stamped when the config has uncommitted changes or is not in a Git repository.
The commit and the source line change with every commit or edit: the plan treats a change of
only those (``VOLATILE``) as no change (``mlopsctl.plan.diff``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import pathlib
import re
from collections.abc import Mapping

from mlopsctl.config.sourcemap import SourceMap
from mlopsctl.graph import ADDON_TYPES, JSON, Graph, Resource

ADDRESS = "mlopsctl.dev/address"
SOURCE = "mlopsctl.dev/source"
COMMIT = "mlopsctl.dev/commit"
TYPE_LABEL = "mlops-type"
NAME_LABEL = "mlops-name"
COMMIT_LABEL = "mlops-commit"

VOLATILE = frozenset({SOURCE, COMMIT, COMMIT_LABEL})
"""The keys that change with every commit or edit, not with what a resource is."""
PROVENANCE = VOLATILE | {ADDRESS, TYPE_LABEL, NAME_LABEL}

LABELLED: Mapping[str, tuple[str, ...]] = {
    "gcp:artifactregistry/repository:Repository": ("labels",),
    "gcp:bigquery/dataset:Dataset": ("labels",),
    "gcp:bigquery/table:Table": ("labels",),
    "gcp:cloudrunv2/job:Job": ("labels",),
    "gcp:container/cluster:Cluster": ("resourceLabels",),
    "gcp:container/nodePool:NodePool": ("nodeConfig", "resourceLabels"),
    "gcp:eventarc/trigger:Trigger": ("labels",),
    "gcp:gkehub/feature:Feature": ("labels",),
    "gcp:kms/cryptoKey:CryptoKey": ("labels",),
    "gcp:monitoring/alertPolicy:AlertPolicy": ("userLabels",),
    # ``labels`` of a notification channel is its configuration (an email address, a channel).
    "gcp:monitoring/notificationChannel:NotificationChannel": ("userLabels",),
    "gcp:pubsub/subscription:Subscription": ("labels",),
    "gcp:pubsub/topic:Topic": ("labels",),
    "gcp:storage/bucket:Bucket": ("labels",),
    "gcp:vertex/aiEndpoint:AiEndpoint": ("labels",),
    "gcp:vertex/aiFeatureGroup:AiFeatureGroup": ("labels",),
    "gcp:vertex/aiFeatureGroupFeature:AiFeatureGroupFeature": ("labels",),
    "gcp:vertex/aiFeatureOnlineStore:AiFeatureOnlineStore": ("labels",),
    "gcp:vertex/aiFeatureOnlineStoreFeatureview:AiFeatureOnlineStoreFeatureview": ("labels",),
    "gcp:vertex/aiTensorboard:AiTensorboard": ("labels",),
    "gcp:workflows/workflow:Workflow": ("labels",),
    "mlopsctl:vertex/modelVersion:ModelVersion": ("labels",),
}
"""Type token → path of the input holding the resource's Google Cloud labels; other types take none."""

DESCRIBED: Mapping[str, int] = {
    "gcp:cloudscheduler/job:Job": 500,
    "gcp:serviceaccount/account:Account": 256,
}
"""Types without labels whose ``description`` can be updated in place → its limit in bytes. Their
description ends in the resource's address (the commit, which changes with every commit, would make
every commit an update)."""

LABEL_LENGTH = 63
_NOT_IN_LABEL = re.compile(r"[^a-z0-9_-]+")
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


@dataclasses.dataclass(frozen=True)
class Origin:
    """Where a config came from: its file name, its source positions (whose positions name the file
    ``shown_as``) and its Git commit (None if unknown)."""

    file: str
    shown_as: str
    sources: SourceMap
    commit: str | None

    def source_of(self, resource: Resource) -> str | None:
        """``mlops.yaml:LINE:COLUMN`` of the key that made ``resource``."""
        position = self.sources.lookup(resource.source, key=True)
        if position is None:
            return None
        file = self.file if position.file == self.shown_as else pathlib.PurePath(position.file).name
        return f"{file}:{position.line}:{position.column}"


def stamped_commit(source_commit: str | None) -> str | None:
    """The commit to stamp for a config read at ``source_commit``: None when it is unknown or has
    uncommitted changes (``<sha>-dirty``), as no commit holds those lines."""
    return source_commit if source_commit and _SHA.fullmatch(source_commit) else None


def stamp(graph: Graph, origin: Origin) -> None:
    """Give every Kubernetes object and labelled Google Cloud resource of ``graph`` its provenance."""
    for address, resource in list(graph.resources.items()):
        inputs = _stamped(resource, origin)
        if inputs is not None:
            graph.resources[address] = dataclasses.replace(resource, inputs=inputs)


def label_value(text: str) -> str:
    """``text`` as a Google Cloud label value: lowercase letters, digits, ``_`` and ``-``, at most 63
    characters (longer ones end in a hash of ``text``)."""
    value = _NOT_IN_LABEL.sub("-", text.lower()).strip("-")
    if len(value) <= LABEL_LENGTH:
        return value
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{value[: LABEL_LENGTH - len(digest) - 1].rstrip('-')}-{digest}"


def is_kubernetes_type(type_token: str) -> bool:
    return type_token.startswith("kubernetes:") and type_token not in ADDON_TYPES


def without(type_token: str, inputs: Mapping[str, JSON], keys: frozenset[str]) -> dict[str, JSON]:
    """``inputs`` without the provenance annotations or labels named in ``keys`` (``VOLATILE``,
    ``PROVENANCE``); the other values are shared, not copied."""
    path = ("metadata", "annotations") if is_kubernetes_type(type_token) else LABELLED.get(type_token)
    if path is None:
        return dict(inputs)
    return _dropped(dict(inputs), path, keys)


def _dropped(value: dict[str, JSON], path: tuple[str, ...], keys: frozenset[str]) -> dict[str, JSON]:
    first, rest = path[0], path[1:]
    inner = value.get(first)
    if not isinstance(inner, dict):
        return value
    value[first] = (
        _dropped(dict(inner), rest, keys) if rest else {k: v for k, v in inner.items() if k not in keys}
    )
    return value


def _stamped(resource: Resource, origin: Origin) -> dict[str, JSON] | None:
    if resource.is_kubernetes:
        notes = {ADDRESS: resource.address}
        source = origin.source_of(resource)
        if source is not None:
            notes[SOURCE] = source
        if origin.commit:
            notes[COMMIT] = origin.commit
        return _merged(resource.inputs, ("metadata", "annotations"), notes)
    if resource.type in DESCRIBED:
        return {**resource.inputs, "description": described(resource, DESCRIBED[resource.type])}
    path = LABELLED.get(resource.type)
    if path is None:
        return None
    labels = {TYPE_LABEL: label_value(resource.type), NAME_LABEL: label_value(resource.name)}
    if origin.commit:
        labels[COMMIT_LABEL] = origin.commit
    return _merged(resource.inputs, path, labels)


def described(resource: Resource, limit: int) -> str:
    """The description of ``resource`` followed by its address, cut to ``limit`` bytes of UTF-8 (the
    unit of IAM's limit; within Cloud Scheduler's limit of characters too); the address is kept whole."""
    suffix = f"[mlopsctl: {resource.address}]"
    text = str(resource.inputs.get("description") or "").removesuffix(suffix).strip()
    room = limit - len(suffix.encode()) - 1
    if len(text.encode()) > room:
        cut = text.encode()[: max(room - 3, 0)].decode(errors="ignore")
        text = cut.rstrip() + "..."
    return f"{text} {suffix}" if text else suffix


def _merged(inputs: Mapping[str, JSON], path: tuple[str, ...], entries: dict[str, str]) -> dict[str, JSON]:
    """``inputs`` with ``entries`` added to the mapping at ``path`` (created if absent), copying only
    the mappings on the way."""
    first, rest = path[0], path[1:]
    inner = inputs.get(first)
    current: Mapping[str, JSON] = inner if isinstance(inner, Mapping) else {}
    return {**inputs, first: _merged(current, rest, entries) if rest else {**current, **entries}}
