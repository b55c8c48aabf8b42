from __future__ import annotations

import dataclasses

import pytest
from helpers import PROD, make_change

from mlopsctl.config.target import Target
from mlopsctl.plan import Action, Plan, ResourceChange, TargetPlan
from mlopsctl.views.plan_text import render_change, render_text

DEV = Target("dev", "us-central1")
NODE_POOL = "gcp:container/nodePool:NodePool"

CREATE = (Action.CREATE,)
UPDATE = (Action.UPDATE,)
DELETE = (Action.DELETE,)
REPLACE = (Action.DELETE, Action.CREATE)


change = make_change


CASES = {
    "create": (
        change(
            CREATE,
            None,
            {"name": "acme-raw", "location": "US", "labels": {"team": "ml", "app.kubernetes.io/name": "x"}},
        ),
        """\
  # prod/us-central1/gcp:storage/bucket:Bucket/raw will be created
  + resource "gcp:storage/bucket:Bucket" "raw" {
      + labels   = {
          + "app.kubernetes.io/name" = "x"
          + team                     = "ml"
        }
      + location = "US"
      + name     = "acme-raw"
    }""",
    ),
    "create with lists and empty values": (
        change(CREATE, None, {"rules": [{"age": 30}, "x"], "tags": [], "meta": {}, "off": None, "n": 1.5}),
        """\
  # prod/us-central1/gcp:storage/bucket:Bucket/raw will be created
  + resource "gcp:storage/bucket:Bucket" "raw" {
      + meta  = {}
      + n     = 1.5
      + off   = null
      + rules = [
          + {
              + age = 30
            },
          + "x",
        ]
      + tags  = []
    }""",
    ),
    "update with a nested change": (
        change(
            UPDATE,
            {"name": "acme-raw", "location": "US", "labels": {"team": "ml", "env": "prod"}, "old": True},
            {"name": "acme-raw", "location": "US", "labels": {"team": "ds", "env": "prod", "tier": "gold"}},
        ),
        """\
  # prod/us-central1/gcp:storage/bucket:Bucket/raw will be updated in-place
  ~ resource "gcp:storage/bucket:Bucket" "raw" {
      ~ labels = {
          ~ team = "ml" -> "ds"
          + tier = "gold"
            # (1 unchanged attribute hidden)
        }
      - old    = true
        # (2 unchanged attributes hidden)
    }""",
    ),
    "update of a list and of a value's type": (
        change(
            UPDATE,
            {"args": ["a", "b", "c", "d"], "port": 80},
            {"args": ["a", "x", "c", "d"], "port": {"number": 80}},
        ),
        """\
  # prod/us-central1/gcp:storage/bucket:Bucket/raw will be updated in-place
  ~ resource "gcp:storage/bucket:Bucket" "raw" {
      ~ args = [
            # (1 unchanged element hidden)
          - "b",
          + "x",
            # (2 unchanged elements hidden)
        ]
      - port = 80
      + port = {
          + number = 80
        }
    }""",
    ),
    "a route weight change reads as the weights that change": (
        change(
            UPDATE,
            {
                "http": [
                    {
                        "name": "default-http",
                        "route": [
                            {"destination": {"host": "a"}, "weight": 95},
                            {"destination": {"host": "b"}, "weight": 5},
                        ],
                        "timeout": "30s",
                    },
                    {"name": "shadow", "route": [{"destination": {"host": "a"}, "weight": 100}]},
                ]
            },
            {
                "http": [
                    {
                        "name": "default-http",
                        "route": [
                            {"destination": {"host": "a"}, "weight": 75},
                            {"destination": {"host": "b"}, "weight": 25},
                        ],
                        "timeout": "30s",
                    },
                    {"name": "shadow", "route": [{"destination": {"host": "a"}, "weight": 100}]},
                ]
            },
        ),
        """\
  # prod/us-central1/gcp:storage/bucket:Bucket/raw will be updated in-place
  ~ resource "gcp:storage/bucket:Bucket" "raw" {
      ~ http = [
          ~ {
                name = "default-http"
              ~ route = [
                  ~ {
                        destination = { host = "a" }
                      ~ weight = 95 -> 75
                    },
                  ~ {
                        destination = { host = "b" }
                      ~ weight = 5 -> 25
                    },
                ]
                # (1 unchanged attribute hidden)
            },
            # (1 unchanged element hidden)
        ]
    }""",
    ),
    "a reordered list is shown by position": (
        change(UPDATE, {"env": [{"name": "A"}, {"name": "B"}]}, {"env": [{"name": "B"}, {"name": "A"}]}),
        """\
  # prod/us-central1/gcp:storage/bucket:Bucket/raw will be updated in-place
  ~ resource "gcp:storage/bucket:Bucket" "raw" {
      ~ env = [
          + {
              + name = "B"
            },
            # (1 unchanged element hidden)
          - {
              - name = "B"
            },
        ]
    }""",
    ),
    "delete of a protected resource": (
        change(
            DELETE,
            {"metadata": {"name": "serving"}},
            None,
            type_="kubernetes:core/v1:Namespace",
            protect=True,
        ),
        """\
  # prod/us-central1/kubernetes:core/v1:Namespace/raw will be destroyed
  # (protected: destroying needs --allow-destroy)
  - resource "kubernetes:core/v1:Namespace" "raw" {
      - metadata = {
          - name = "serving"
        }
    }""",
    ),
    "replace": (
        change(
            REPLACE,
            {"name": "acme-raw", "location": "US"},
            {"name": "acme-raw", "location": "EU"},
            replace_paths=("location",),
        ),
        """\
  # prod/us-central1/gcp:storage/bucket:Bucket/raw must be replaced
-/+ resource "gcp:storage/bucket:Bucket" "raw" {
      ~ location = "US" -> "EU" # forces replacement
        # (1 unchanged attribute hidden)
    }""",
    ),
    "replace forced by a nested map": (
        change(
            REPLACE,
            {"nodeConfig": {"machineType": "g2-standard-8", "spot": False}, "nodeCount": 1},
            {"nodeConfig": {"machineType": "g2-standard-16", "spot": False}, "nodeCount": 2},
            type_=NODE_POOL,
            name="gpu-l4",
            replace_paths=("nodeConfig",),
            protect=True,
        ),
        """\
  # prod/us-central1/gcp:container/nodePool:NodePool/gpu-l4 must be replaced
  # (protected: destroying needs --allow-destroy)
-/+ resource "gcp:container/nodePool:NodePool" "gpu-l4" {
      ~ nodeConfig = { # forces replacement
          ~ machineType = "g2-standard-8" -> "g2-standard-16"
            # (1 unchanged attribute hidden)
        }
      ~ nodeCount  = 1 -> 2
    }""",
    ),
    "replace forced by a path under an added map": (
        change(
            REPLACE,
            {"spec": {}},
            {"spec": {}, "metadata": {"name": "a", "namespace": "b"}},
            type_="kubernetes:core/v1:ConfigMap",
            replace_paths=("metadata.name", "metadata.namespace"),
        ),
        """\
  # prod/us-central1/kubernetes:core/v1:ConfigMap/raw must be replaced
-/+ resource "kubernetes:core/v1:ConfigMap" "raw" {
      + metadata = {
          + name      = "a" # forces replacement
          + namespace = "b" # forces replacement
        }
        # (1 unchanged attribute hidden)
    }""",
    ),
    "values known only after apply": (
        change(
            UPDATE,
            {
                "notificationChannels": [{"fn::output": {"resource": "a", "property": "name"}}],
                "enabled": True,
            },
            {
                "notificationChannels": [
                    {"fn::output": {"resource": "a", "property": "name"}},
                    {"fn::output": {"resource": "b", "property": "name"}},
                ],
                "enabled": True,
                "member": {"fn::join": ["", ["serviceAccount:", {"fn::invoke": {"function": "f"}}]]},
            },
            type_="gcp:monitoring/alertPolicy:AlertPolicy",
        ),
        """\
  # prod/us-central1/gcp:monitoring/alertPolicy:AlertPolicy/raw will be updated in-place
  ~ resource "gcp:monitoring/alertPolicy:AlertPolicy" "raw" {
      + member               = (known after apply)
      ~ notificationChannels = [
            # (1 unchanged element hidden)
          + (known after apply),
        ]
        # (1 unchanged attribute hidden)
    }""",
    ),
}


@pytest.mark.parametrize(("resource_change", "expected"), CASES.values(), ids=CASES.keys())
def test_render_change(resource_change: ResourceChange, expected: str) -> None:
    assert render_change(resource_change) == expected


def test_render_plan_groups_by_target() -> None:
    create = change(CREATE, None, {"name": "acme-raw"})
    replace = change(REPLACE, {"name": "a"}, {"name": "b"}, name="old", replace_paths=("name",))
    plan = Plan("acme", (TargetPlan(DEV, unchanged=3), TargetPlan(PROD, (create, replace), unchanged=1)))
    assert render_text(plan) == (
        """\
Target dev/us-central1: no changes.

Target prod/us-central1:

  # prod/us-central1/gcp:storage/bucket:Bucket/raw will be created
  + resource "gcp:storage/bucket:Bucket" "raw" {
      + name = "acme-raw"
    }

  # prod/us-central1/gcp:storage/bucket:Bucket/old must be replaced
-/+ resource "gcp:storage/bucket:Bucket" "old" {
      ~ name = "a" -> "b" # forces replacement
    }

Plan: 2 to add, 0 to change, 1 to destroy.
"""
    )


NO_CHANGES = "No changes. Your infrastructure matches the configuration.\n"


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        (Plan("acme"), NO_CHANGES),
        (
            Plan("acme", (TargetPlan(PROD, unchanged=4),)),
            "Target prod/us-central1: no changes.\n\n" + NO_CHANGES,
        ),
    ],
    ids=["no targets", "unchanged target"],
)
def test_render_no_changes(plan: Plan, expected: str) -> None:
    assert render_text(plan) == expected


def test_the_source_path_is_shown_under_the_header() -> None:
    sourced = dataclasses.replace(make_change(CREATE, None, {"name": "r"}), source=("data", "buckets", "raw"))
    assert render_change(sourced).splitlines()[1] == "  # (from data.buckets.raw in mlops.yaml)"
