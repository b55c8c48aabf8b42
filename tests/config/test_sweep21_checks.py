"""Checks a mutation sweep found missing: entries listed twice, feature group columns missing from
their declared table, waivers of places that do not exist, and uses of a variable whose value is
invalid (reported once, at the value)."""

from __future__ import annotations

import pathlib
import typing

import pytest
from helpers import DEV_ONLY, Edits, diagnostics, edited
from pydantic import BaseModel

from mlopsctl.config.checks.repeats import UNIQUE_ENTRIES
from mlopsctl.config.models import MLOpsConfig

BASE = (
    DEV_ONLY
    + """\
data:
  datasets:
    features:
      tables:
        daily:
          schema:
          - {name: sensor_id, type: STRING}
          - {name: site_id, type: STRING}
          - {name: temperature_c, type: FLOAT64}
        loose: {}
    serving: {}
models:
  clf:
    framework: sklearn
    versions:
      v1: {artifactUri: "gs://${project}-models/clf/v1"}
endpoints:
  api:
    variants:
      main: {model: clf, version: v1}
    callers: [shop, billing/app]
    logging: {dataset: serving}
monitors:
  drift:
    type: drift
    endpoint: api
    baseline: {dataset: features, table: daily}
    schedule: {cron: "0 * * * *"}
    features:
      temperature_c: {kind: numeric}
    actions:
      notify: [ops, oncall]
alertChannels:
  ops: {type: email, address: ops@acme.example}
  oncall: {type: email, address: oncall@acme.example}
features:
  groups:
    sensors:
      source: {dataset: features, table: daily}
      entityIdColumns: [sensor_id]
      features: [site_id, temperature_c]
policies:
  waivers:
  - {policy: MLP001, path: endpoints.api, reason: one replica is enough here}
"""
)

Found = list[tuple[str, str | None]]


def _found(tmp_path: pathlib.Path, edits: Edits) -> Found:
    return diagnostics(tmp_path, edited(BASE, edits))


def test_base_is_clean(tmp_path: pathlib.Path) -> None:
    assert _found(tmp_path, []) == []


GROUP_COLUMNS = "      entityIdColumns: [sensor_id]\n      features: [site_id, temperature_c]"
MISSING = "of feature group 'sensors' is not a column of table 'daily' of dataset 'features'"


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        pytest.param(
            [("notify: [ops, oncall]", "notify: [ops, oncall, ops]")],
            [
                (
                    "40:29: error E205: monitors.drift.actions.notify lists alert channel 'ops' twice",
                    "list each alert channel once",
                )
            ],
            id="notify",
        ),
        pytest.param(
            [("callers: [shop, billing/app]", "callers: [shop, billing/app, shop]")],
            [
                (
                    "29:34: error E205: endpoints.api.callers lists caller 'shop' twice",
                    "list each caller once",
                )
            ],
            id="callers",
        ),
        pytest.param(
            [("    callers:", "    protocols: [http, grpc, http]\n    callers:")],
            [
                (
                    "29:29: error E205: endpoints.api.protocols lists protocol 'http' twice",
                    "list each protocol once",
                )
            ],
            id="protocols",
        ),
        pytest.param(
            [("entityIdColumns: [sensor_id]", "entityIdColumns: [sensor_id, Sensor_ID]")],
            [
                (
                    "48:36: error E205: features.groups.sensors.entityIdColumns lists entity id column "
                    "'Sensor_ID' twice (as 'sensor_id')",
                    "list each entity id column once",
                )
            ],
            id="column-case",
        ),
        pytest.param(
            [
                ("notify: [ops, oncall]", "notify: [ops, ops, oncall, oncall]"),
                ("callers: [shop, billing/app]", "callers: [shop, shop]"),
            ],
            [
                (
                    "29:21: error E205: endpoints.api.callers lists caller 'shop' twice",
                    "list each caller once",
                ),
                (
                    "40:21: error E205: monitors.drift.actions.notify lists alert channel 'ops' twice",
                    "list each alert channel once",
                ),
                (
                    "40:34: error E205: monitors.drift.actions.notify lists alert channel 'oncall' twice",
                    "list each alert channel once",
                ),
            ],
            id="all-at-once",
        ),
        pytest.param(
            [(GROUP_COLUMNS, "      entityIdColumns: [sensr_id]\n      features: [site_id, humidity]")],
            [
                (
                    f"48:25: error E301: the entity id column 'sensr_id' {MISSING}",
                    "did you mean 'sensor_id'?",
                ),
                (
                    f"49:27: error E301: the feature 'humidity' {MISSING}",
                    "its columns: sensor_id, site_id, temperature_c",
                ),
            ],
            id="group-columns",
        ),
        pytest.param(
            [("features: [site_id, temperature_c]", "features: [SITE_ID, temperature_c]")],
            [],
            id="group-columns-without-case",
        ),
        pytest.param(
            [
                ("table: daily}\n      entityIdColumns", "table: loose}\n      entityIdColumns"),
                (GROUP_COLUMNS, "      entityIdColumns: [ghost]\n      features: [site_id]"),
            ],
            [],
            id="group-over-table-without-schema",
        ),
        pytest.param(
            [("path: endpoints.api,", "path: endpoints.ghost,")],
            [
                (
                    "52:28: warning W303: the waiver of MLP001 for path 'endpoints.ghost' matches no place "
                    "in the config: it waives nothing",
                    "under endpoints: api",
                )
            ],
            id="waiver-unknown",
        ),
        pytest.param(
            [("path: endpoints.api,", "path: endpoint.api.variants.mian,")],
            [
                (
                    "52:28: warning W303: the waiver of MLP001 for path 'endpoint.api.variants.mian' "
                    "matches no place in the config: it waives nothing",
                    "did you mean 'endpoints.api.variants.main'?",
                )
            ],
            id="waiver-typo",
        ),
        pytest.param(
            [("path: endpoints.api,", "path: endpoints.api.variants.main.minReplicas,")],
            [],
            id="waiver-of-a-default",
        ),
        pytest.param(
            [("path: endpoints.api,", "path: 'endpoints.api.protocols[0]',")],
            [],
            id="waiver-of-a-list-entry",
        ),
        pytest.param(
            [("name: demo", "name: 42")],
            [("4:9: error E202: project.name must be a string, not 42", "quote it: '42'")],
            id="invalid-variable-reported-once",
        ),
        pytest.param(
            [("name: demo", "name: 42"), ("${project}-models", "${project}-${proj}-models")],
            [
                ("4:9: error E202: project.name must be a string, not 42", "quote it: '42'"),
                (
                    "24:25: error E204: unknown variable '${proj}'",
                    "use one of ${project}, ${env}, ${region}, ${gcpProject}, or write $${ for a literal",
                ),
            ],
            id="unknown-variable-still-reported",
        ),
    ],
)
def test_sweep_findings(tmp_path: pathlib.Path, edits: Edits, expected: Found) -> None:
    assert _found(tmp_path, edits) == expected


CHECKED_ELSEWHERE = {
    ("Environment", "regions"),  # E310 in checks/uniqueness.py
    ("Table", "clustering"),  # E205 in checks/bigquery_schema.py
    ("MaintenanceWindow", "days"),  # the model refuses a day listed twice
    ("Canary", "steps"),  # must rise: checks/rollout.py
}
ORDERED = {
    ("Step", "command"),
    ("Step", "args"),
    ("ParallelFor", "items"),
    ("Transform", "boundaries"),
}
"""Lists whose order is their meaning, where an entry may come back."""


def _scalar_lists(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[tuple[str, str]]:
    """(declaring model, field) of every list of plain values reachable from ``model``."""
    if model in seen:
        return set()
    seen.add(model)
    found = set()
    for name, field in model.model_fields.items():
        nested = _models(field.annotation)
        if typing.get_origin(_bare(field.annotation)) is list and not nested:
            owner = next(c for c in reversed(model.__mro__) if name in getattr(c, "__annotations__", {}))
            found.add((owner.__name__, name))
        for sub in nested:
            found |= _scalar_lists(sub, seen)
    return found


def _bare(tp: object) -> object:
    while typing.get_origin(tp) is typing.Annotated or (
        typing.get_origin(tp) in (typing.Union, type(int | None))
        and len([a for a in typing.get_args(tp) if a is not type(None)]) == 1
    ):
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
    return tp


def _models(tp: object) -> list[type[BaseModel]]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return [m for arg in typing.get_args(tp) for m in _models(arg)]


def test_every_list_is_classified() -> None:
    """A new list field must say whether an entry may repeat: add it to UNIQUE_ENTRIES or here."""
    unique = {(cls.__name__, name) for cls, name in UNIQUE_ENTRIES}
    assert _scalar_lists(MLOpsConfig, set()) == unique | CHECKED_ELSEWHERE | ORDERED


def test_a_grpc_only_endpoint_is_told_which_protocol_version_to_set(tmp_path: pathlib.Path) -> None:
    text = BASE.replace("  api:\n    variants:\n", "  api:\n    protocols: [grpc]\n    variants:\n", 1)
    text = text.replace("    logging: {dataset: serving}\n", "", 1)  # gRPC traffic cannot be logged
    assert [d for d in diagnostics(tmp_path, text) if " E204: " in d[0]] == [
        (
            "27:16: error E204: runtime 'sklearn' of endpoint 'api' does not serve v1 over grpc",
            "over grpc it serves v2: set 'protocolVersion: v2'",
        )
    ]
