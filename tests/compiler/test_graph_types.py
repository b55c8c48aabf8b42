"""The graph's index of resources by type."""

from __future__ import annotations

import dataclasses

from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource

DEV = Target("dev", "us-central1")


def _resource(type_token: str, name: str) -> Resource:
    return Resource(DEV, type_token, name, {"n": name})


def test_resources_of_a_type_in_insertion_order_and_as_they_are_now() -> None:
    graph = Graph(DEV, "p")
    for t, n in [("a", "2"), ("b", "1"), ("a", "1")]:
        graph.add(_resource(t, n))
    assert [r.name for r in graph.of_type("a")] == ["2", "1"]
    assert graph.of_type("c") == []
    stamped = dataclasses.replace(graph.of_type("b")[0], inputs={"n": "stamped"})
    graph.resources[stamped.address] = stamped  # replaced in place, as a compiler pass does
    assert graph.of_type("b") == [stamped]


def test_a_graph_given_its_resources_is_indexed_too() -> None:
    resources = [_resource("a", "x"), _resource("b", "y")]
    graph = Graph(DEV, "p", {r.address: r for r in resources})
    assert graph.of_type("b") == [resources[1]]
    graph.add(_resource("b", "z"))
    assert [r.name for r in graph.of_type("b")] == ["y", "z"]
