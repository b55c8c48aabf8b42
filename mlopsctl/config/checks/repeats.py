"""Lists whose entries are a set: an entry written twice adds nothing, and the compiler would emit it
twice (a channel notified twice, a caller allowed twice, a step waited on twice).

One table names those lists by the model field that holds them; the check walks the validated config
and reports each repeat at its second occurrence. Lists checked elsewhere with a message of their own
(regions, clustering columns, maintenance days, canary steps) are not in the table.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from dataclasses import dataclass

from pydantic import BaseModel

from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.diagnostics import Diagnostic
from mlopsctl.config.models.compute import PoolBase
from mlopsctl.config.models.features import FeatureGroup, FeatureView
from mlopsctl.config.models.monitoring import Actions
from mlopsctl.config.models.pipelines import Step
from mlopsctl.config.models.policies import Policies
from mlopsctl.config.models.security import ServiceAccount
from mlopsctl.config.models.serving import Endpoint
from mlopsctl.config.models.tuning import SearchParameter
from mlopsctl.config.sourcemap import Path, format_path


@dataclass(frozen=True)
class Entries:
    """What the entries of a set-like list are, as a message names one."""

    noun: str
    fold_case: bool = False
    """Entries that differ only in case are the same (BigQuery column names, location names)."""


UNIQUE_ENTRIES: dict[tuple[type[BaseModel], str], Entries] = {
    (Actions, "notify"): Entries("alert channel"),
    (Endpoint, "callers"): Entries("caller"),
    (Endpoint, "features"): Entries("feature view"),
    (Endpoint, "protocols"): Entries("protocol"),
    (FeatureGroup, "entity_id_columns"): Entries("entity id column", fold_case=True),
    (FeatureGroup, "features"): Entries("feature", fold_case=True),
    (FeatureView, "features"): Entries("feature"),
    (PoolBase, "zones"): Entries("zone"),
    (Policies, "allowed_multi_regions"): Entries("location", fold_case=True),
    (Policies, "production"): Entries("environment"),
    (SearchParameter, "values"): Entries("value"),
    (ServiceAccount, "roles"): Entries("role"),
    (Step, "depends_on"): Entries("step"),
}
"""Set-like lists by (model declaring the field, field name)."""


def _entries(model: BaseModel, field: str) -> Entries | None:
    return next((e for cls in type(model).__mro__ if (e := UNIQUE_ENTRIES.get((cls, field)))), None)


def _walk(value: object, path: Path) -> Iterator[tuple[Path, list[object], Entries]]:
    """Every set-like list under ``value``, with its path in the document."""
    if isinstance(value, BaseModel):
        for name, field in type(value).model_fields.items():
            child, here = getattr(value, name), (*path, field.alias or name)
            entries = _entries(value, name)
            if entries is not None and isinstance(child, list):
                yield here, child, entries
            else:
                yield from _walk(child, here)
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from _walk(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _walk(child, (*path, i))


def _key(entry: object, entries: Entries) -> Hashable:
    if isinstance(entry, str) and entries.fold_case:
        return entry.casefold()
    return (type(entry) is bool, entry)  # true is not 1


@check
def repeated_entries(ctx: CheckContext) -> Iterator[Diagnostic]:
    for path, items, entries in _walk(ctx.config, ()):
        first: dict[Hashable, int] = {}
        for i, entry in enumerate(items):
            j = first.setdefault(_key(entry, entries), i)
            if j == i:
                continue
            earlier = items[j]
            same = "" if earlier == entry else f" (as '{earlier}')"
            yield Diagnostic(
                "E205",
                f"{format_path(path)} lists {entries.noun} '{entry}' twice{same}",
                path=(*path, i),
                hint=f"list each {entries.noun} once",
            )
