from __future__ import annotations

import json

from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource
from mlopsctl.plan import Plan, diff_target
from mlopsctl.state import state_from_graph
from mlopsctl.views.plan_json import render_json

PROD = Target("prod", "us-central1")
DEV = Target("dev", "us-central1")
BUCKET = "gcp:storage/bucket:Bucket"


def graph(target: Target, *resources: tuple[str, dict[str, object], bool]) -> Graph:
    g = Graph(target, "acme")
    for name, inputs, protect in resources:
        g.add(Resource(target, BUCKET, name, inputs, protect=protect))
    return g


def sample_plan() -> Plan:
    applied = state_from_graph(
        graph(PROD, ("raw", {"name": "r", "location": "US"}, True), ("old", {"name": "o"}, False)),
        project="acme",
        source_commit=None,
        config_hash="h",
    )
    prod = diff_target(PROD, graph(PROD, ("raw", {"name": "r", "location": "EU"}, False)), applied)
    dev = diff_target(DEV, graph(DEV, ("raw", {"name": "d"}, False)), None)
    return Plan("acme", (dev, prod))


def test_document() -> None:
    doc = json.loads(render_json(sample_plan()))
    assert doc == {
        "format_version": "1.0",
        "project": "acme",
        "resource_changes": [
            {
                "address": f"dev/us-central1/{BUCKET}/raw",
                "type": BUCKET,
                "name": "raw",
                "env": "dev",
                "region": "us-central1",
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": {"name": "d"},
                    "replace_paths": [],
                },
                "protect": False,
                "source": None,
            },
            {
                "address": f"prod/us-central1/{BUCKET}/raw",
                "type": BUCKET,
                "name": "raw",
                "env": "prod",
                "region": "us-central1",
                "change": {
                    "actions": ["delete", "create"],
                    "before": {"name": "r", "location": "US"},
                    "after": {"name": "r", "location": "EU"},
                    "replace_paths": ["location"],
                },
                "protect": True,
                "source": None,
            },
            {
                "address": f"prod/us-central1/{BUCKET}/old",
                "type": BUCKET,
                "name": "old",
                "env": "prod",
                "region": "us-central1",
                "change": {
                    "actions": ["delete"],
                    "before": {"name": "o"},
                    "after": None,
                    "replace_paths": [],
                },
                "protect": False,
                "source": None,
            },
        ],
        "summary": {"add": 2, "change": 0, "destroy": 2},
    }


def test_one_line_with_sorted_keys_and_identical_bytes() -> None:
    text = render_json(sample_plan())
    assert text.count("\n") == 1 and text.endswith("}\n")
    assert text == json.dumps(json.loads(text), sort_keys=True) + "\n"
    assert render_json(sample_plan()) == text


def test_empty_plan() -> None:
    assert json.loads(render_json(Plan("acme"))) == {
        "format_version": "1.0",
        "project": "acme",
        "resource_changes": [],
        "summary": {"add": 0, "change": 0, "destroy": 0},
    }
