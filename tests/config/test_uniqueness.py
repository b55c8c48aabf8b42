"""Names that two targets would both create: one project, several environments and regions."""

from __future__ import annotations

import copy
import pathlib
from collections.abc import Callable
from typing import Any

import pytest
from helpers import MINIMAL, OWNED_STAGED_DATA, diagnostics, validated, write

from mlopsctl import api
from mlopsctl.config.checks.uniqueness import Collision, unique_names
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.target import Target

Doc = dict[str, Any]
Value = Callable[[Target], object]
"""A value per target: what the resolver makes of a string with ${env} or ${region}."""
Changes = dict[tuple[str, ...], Value]

DEV = Target("dev", "us-central1")
PROD_US = Target("prod", "us-central1")
PROD_EU = Target("prod", "europe-west4")


def base_config() -> Doc:
    """Two environments in their own projects; prod in two regions; nothing collides."""
    return {
        "apiVersion": "mlopsctl.dev/v1alpha1",
        "kind": "MLOpsProject",
        "project": {"name": "fraud", "owner": "risk-ml@acme.example"},
        "environments": {
            "dev": {"gcpProject": "fraud-dev-1234", "regions": ["us-central1"]},
            "prod": {"gcpProject": "fraud-prod-1234", "regions": ["us-central1", "europe-west4"]},
        },
        "data": {"buckets": {"raw": {}}, "datasets": {"features": {}}},
        "pipelines": {"train": {"steps": {"fit": {"image": "trainer:1"}}}},
        "endpoints": {"scoring": {"variants": {"blue": {"model": "fraud", "version": "v1"}}}},
        "security": {
            "serviceAccounts": {"trainer": {}},
            "kms": {"main": {}},
            "network": {"masterCidr": "172.16.0.0/28"},
        },
    }


def configs(changes: Changes) -> dict[Target, MLOpsConfig]:
    """The validated config of each target, with ``changes`` applied per target (after a
    control-plane range per region, as the regions of a project need)."""
    out = {}
    for target in (DEV, PROD_US, PROD_EU):
        doc = base_config()
        every: Changes = {MASTER_CIDR: CIDRS.get, **changes}
        for path, value in every.items():
            parent = doc
            for key in path[:-1]:
                parent = parent.setdefault(key, {})
            parent[path[-1]] = copy.deepcopy(value(target))
        out[target] = MLOpsConfig.model_validate(doc)
    return out


def same(value: object) -> Value:
    return lambda _: value


SHARED_PROJECT: Changes = {("environments", "dev", "gcpProject"): same("fraud-prod-1234")}
RAW_NAME = ("data", "buckets", "raw", "name")
DATASET_ID = ("data", "datasets", "features", "datasetId")
KMS = ("security", "kms", "main")
MASTER_CIDR = ("security", "network", "masterCidr")
CIDRS = {DEV: "172.16.0.32/28", PROD_US: "172.16.0.0/28", PROD_EU: "172.16.0.16/28"}
"""Control-plane ranges that do not collide, even when the environments share a project."""

Expected = list[tuple[object, ...]]
"""(path, first target, second target) of each E310."""

CASES: dict[str, tuple[Changes, Expected]] = {
    "defaults": ({}, []),
    "defaults, environments sharing a project": (SHARED_PROJECT, []),
    "bucket name without region or env": ({RAW_NAME: same("fraud-raw")}, [(RAW_NAME, DEV, PROD_US, PROD_EU)]),
    "bucket name with region only": (
        {RAW_NAME: lambda t: f"fraud-raw-{t.region}"},
        [(RAW_NAME, DEV, PROD_US)],
    ),
    "bucket name with env and region": ({RAW_NAME: lambda t: f"fraud-{t.env}-raw-{t.region}"}, []),
    "dataset id without region": ({DATASET_ID: same("features")}, [(DATASET_ID, PROD_US, PROD_EU)]),
    "dataset id with region": ({DATASET_ID: lambda t: f"features_{t.region.replace('-', '_')}"}, []),
    "dataset id with region, environments sharing a project": (
        {**SHARED_PROJECT, DATASET_ID: lambda t: f"features_{t.region.replace('-', '_')}"},
        [(DATASET_ID, DEV, PROD_US)],
    ),
    "kms key with a location": (
        {(*KMS, "location"): same("us-central1")},
        [((*KMS, "location"), PROD_US, PROD_EU)],
    ),
    "kms key with a location, environments sharing a project": (
        {**SHARED_PROJECT, (*KMS, "location"): same("us-central1")},
        [((*KMS, "location"), PROD_US, PROD_EU)],
    ),
    "one control plane range for the regions of a project": (
        {MASTER_CIDR: same("172.16.0.0/28")},
        [(MASTER_CIDR, PROD_US, PROD_EU)],
    ),
    "public control planes need no range": ({("security", "network", "privateCluster"): same(False)}, []),
    "existing kms key": (
        {(*KMS, "key"): same("projects/p/locations/us/keyRings/r/cryptoKeys/k")},
        [],
    ),
}


def located(found: list[Collision]) -> Expected:
    """(path, targets...) of each collision; the message names every target, in order."""
    out: Expected = []
    for collision in found:
        d = collision.diagnostic
        assert d.code == "E310" and d.hint
        named = [t for t in (DEV, PROD_US, PROD_EU) if str(t) in d.message]
        assert tuple(sorted(named, key=lambda t: d.message.index(str(t)))) == collision.targets, d.message
        out.append((d.path, *collision.targets))
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_names_shared_by_targets(name: str) -> None:
    changes, expected = CASES[name]
    assert located(unique_names(configs(changes))) == expected


def test_message_names_the_targets_the_scope_and_the_declaration() -> None:
    [collision] = unique_names(configs({DATASET_ID: same("features")}))
    diag = collision.diagnostic
    assert diag.message == (
        "dataset id 'features' is used by prod/us-central1 and prod/europe-west4 "
        "in project fraud-prod-1234 (data.datasets.features)"
    )


def test_a_key_ring_is_reported_once_and_never_within_one_target() -> None:
    changes: Changes = {
        (*KMS, "location"): same("us-central1"),
        ("security", "kms", "other"): same({"location": "us-central1"}),
    }
    every = configs(changes)
    assert located(unique_names(every)) == [((*KMS, "location"), PROD_US, PROD_EU)]
    assert unique_names({PROD_US: every[PROD_US]}) == []


SHORTENED_ALIKE: dict[tuple[str, ...], Value] = {
    ("security", "serviceAccounts", "trainer-for-nightly-runs-okqc"): same({}),
    ("pipelines", "train-on-fresh-data-ehwon"): same({"steps": {"fit": {"image": "trainer:1"}}}),
    ("endpoints", "scoring-for-partner-c3lq9"): same(
        {"variants": {"blue": {"model": "fraud", "version": "v1"}}}
    ),
}
"""Workloads whose account ids, too long for the 30 characters allowed, shorten to the same id in dev and
a prod region: their first 23 characters leave out the target, and the 6-character hash of the whole
collides (names found by search)."""


@pytest.mark.parametrize(
    ("project", "expected"),
    [
        (
            "fraud-prod-1234",
            [
                (("security", "serviceAccounts", "trainer-for-nightly-runs-okqc"), DEV, PROD_US),
                (("pipelines", "train-on-fresh-data-ehwon"), DEV, PROD_US),
                (("endpoints", "scoring-for-partner-c3lq9"), DEV, PROD_EU),
            ],
        ),
        ("fraud-dev-1234", []),
    ],
)
def test_service_account_ids_are_unique_per_project(project: str, expected: Expected) -> None:
    """Colliding account ids are reported where the environments share a GCP project, not across projects."""
    found = unique_names(configs({**SHORTENED_ALIKE, ("environments", "dev", "gcpProject"): same(project)}))
    assert located(found) == expected
    assert all(c.diagnostic.message.startswith("service account id ") for c in found)


TRIGGERED = """\
pipelines:
  train:
    steps:
      fit: {image: trainer:1, command: [python, fit.py]}
    triggers:
      - newData: {bucket: raw, prefix: in/}
      - newData: {bucket: raw, prefix: in/}
      - newData: {bucket: raw, prefix: other/}
      - newData: {dataset: features}
      - newData: {dataset: features}
"""


def test_a_repeated_new_data_trigger_is_a_located_error(tmp_path: pathlib.Path) -> None:
    text = OWNED_STAGED_DATA + TRIGGERED
    hint = "remove one of the two, or watch another prefix, table or dataset"
    assert [d for d in diagnostics(tmp_path, text) if "E310" in d[0]] == [
        (
            "25:9: error E310: trigger 2 of pipeline 'train' repeats trigger 1: "
            "both would start it from one poller",
            hint,
        ),
        (
            "28:9: error E310: trigger 5 of pipeline 'train' repeats trigger 4: "
            "both would start it from one poller",
            hint,
        ),
    ]


def test_distinct_new_data_triggers_render(tmp_path: pathlib.Path) -> None:
    text = OWNED_STAGED_DATA + TRIGGERED.replace(
        "      - newData: {bucket: raw, prefix: in/}\n", "", 1
    ).replace("      - newData: {dataset: features}\n", "", 1)
    with validated(write(tmp_path, text)) as validation:
        assert api.render(validation, tmp_path / "out").folders


def test_a_region_listed_twice_is_a_located_error(tmp_path: pathlib.Path) -> None:
    text = MINIMAL.replace(
        "regions: [us-central1, europe-west4]", "regions: [us-central1, europe-west4, us-central1]"
    )
    assert text != MINIMAL
    assert [d for d in diagnostics(tmp_path, text) if "E310" in d[0]] == [
        (
            "11:42: error E310: environment 'prod' lists region 'us-central1' twice",
            "list each region once; its place in the list is its turn in a rollout",
        )
    ]
    assert not [d for d in diagnostics(tmp_path, MINIMAL) if "E310" in d[0]]
