"""The compact plan: one line per changed resource, grouped per target, the full view's last line."""

from __future__ import annotations

import pytest

from mlopsctl.config.target import Target
from mlopsctl.graph import JSON, Graph, Resource
from mlopsctl.plan import Plan, diff_plan
from mlopsctl.state import state_from_graph
from mlopsctl.views.plan_compact import changed_properties, render_compact
from mlopsctl.views.plan_text import NO_CHANGES, render_text

DEV = Target("dev", "us-central1")
PROD = Target("prod", "us-central1")
VS = "kubernetes:networking.istio.io/v1:VirtualService"
POOL = "gcp:container/nodePool:NodePool"
BUCKET = "gcp:storage/bucket:Bucket"


def routes(stable: int, timeout: str = "30s") -> dict[str, JSON]:
    route = [
        {"destination": {"host": "stable"}, "weight": stable},
        {"destination": {"host": "next"}, "weight": 100 - stable},
    ]
    return {"spec": {"http": [{"name": "default", "route": route, "timeout": timeout}]}}


def graph(target: Target, *resources: tuple[str, str, dict[str, JSON]]) -> Graph:
    g = Graph(target, "acme")
    for type_, name, inputs in resources:
        g.add(Resource(target, type_, name, inputs))
    return g


def planned(before: dict[Target, Graph], after: dict[Target, Graph]) -> Plan:
    applied = {
        t: state_from_graph(g, project="acme", source_commit=None, config_hash="h") for t, g in before.items()
    }
    return diff_plan("acme", after, applied)


PLAN = planned(
    {
        DEV: graph(DEV, (VS, "fraud", routes(90))),
        PROD: graph(
            PROD,
            (VS, "scorer", routes(90)),
            (POOL, "gpu", {"nodeConfig": {"spot": False}, "nodeCount": 1}),
            (BUCKET, "old", {"name": "acme-old"}),
        ),
    },
    {
        DEV: graph(DEV, (VS, "fraud", routes(90))),
        PROD: graph(
            PROD,
            (VS, "fraud", routes(100)),
            (VS, "scorer", routes(75, "10s")),
            (POOL, "gpu", {"nodeConfig": {"spot": True}, "nodeCount": 1}),
        ),
    },
)


def test_one_line_per_change_grouped_per_target() -> None:
    assert render_compact(PLAN) == (
        "Target dev/us-central1: no changes.\n"
        "\n"
        "Target prod/us-central1:\n"
        f"-/+ prod/us-central1/{POOL}/gpu  (spot)\n"
        f"  + prod/us-central1/{VS}/fraud\n"
        f"  ~ prod/us-central1/{VS}/scorer  (weight, timeout)\n"
        f"  - prod/us-central1/{BUCKET}/old\n"
        "\n"
        "Plan: 2 to add, 1 to change, 2 to destroy.\n"
    )


def test_the_last_line_is_the_full_views() -> None:
    assert render_compact(PLAN).splitlines()[-1] == render_text(PLAN).splitlines()[-1]


def test_no_changes() -> None:
    unchanged = planned({DEV: graph(DEV, (BUCKET, "b", {}))}, {DEV: graph(DEV, (BUCKET, "b", {}))})
    assert render_compact(unchanged) == f"Target dev/us-central1: no changes.\n\n{NO_CHANGES}\n"
    assert render_compact(Plan("acme")) == f"{NO_CHANGES}\n"


ENV = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
DEFERRED = {"fn::output": {"resource": "a", "property": "name"}}

# before, after -> the names shown
PROPERTIES: dict[str, tuple[dict[str, JSON], dict[str, JSON], list[str]]] = {
    "a value under maps": ({"spec": {"a": {"b": 1}}}, {"spec": {"a": {"b": 2}}}, ["b"]),
    "an entry added or removed": (
        {"labels": {"x": "1"}, "old": 1},
        {"labels": {"x": "1", "y": "2"}},
        ["y", "old"],
    ),
    "a map added": ({}, {"labels": {"team": "ml"}}, ["labels"]),
    "a value inside a named element": (
        {"env": ENV},
        {"env": [ENV[0], {"name": "B", "value": "3"}]},
        ["value"],
    ),
    "an element added to a list": ({"env": ENV}, {"env": [*ENV, {"name": "C", "value": "3"}]}, ["env"]),
    "a scalar element changed": ({"args": ["a", "b"]}, {"args": ["a", "c"]}, ["args"]),
    "a map that becomes a scalar": ({"port": {"number": 80}}, {"port": 80}, ["port"]),
    "a value known only after apply": ({"member": "x"}, {"member": DEFERRED}, ["member"]),
    "each name once, in the order shown": (
        {"a": {"x": 1}, "b": {"x": 1}, "c": 1},
        {"a": {"x": 2}, "b": {"x": 2}, "c": 2},
        ["x", "c"],
    ),
}


@pytest.mark.parametrize(("before", "after", "names"), PROPERTIES.values(), ids=PROPERTIES.keys())
def test_changed_properties(before: dict[str, JSON], after: dict[str, JSON], names: list[str]) -> None:
    assert changed_properties(before, after) == names


def test_a_few_names_then_an_ellipsis() -> None:
    old = {k: 1 for k in "abcde"}
    plan = planned(
        {PROD: graph(PROD, (BUCKET, "b", old))},
        {PROD: graph(PROD, (BUCKET, "b", {**old, "b": 2, "c": 2, "d": 2, "e": 2}))},
    )
    assert render_compact(plan).splitlines()[1] == f"  ~ prod/us-central1/{BUCKET}/b  (b, c, d, …)"
