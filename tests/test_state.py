from __future__ import annotations

import json
from collections import OrderedDict
from types import MappingProxyType

import pytest

from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource
from mlopsctl.state import (
    AppliedResource,
    State,
    StateError,
    dump_state,
    json_value,
    parse_state,
    state_from_graph,
)

PROD = Target("prod", "us-central1")
BUCKET = "gcp:storage/bucket:Bucket"
NAMESPACE = "kubernetes:core/v1:Namespace"


def sample_state(location: str = "US") -> State:
    g = Graph(PROD, "acme-prod")
    ns = g.add(Resource(PROD, NAMESPACE, "serving", {"metadata": {"name": "serving"}}, protect=True))
    g.add(
        Resource(
            PROD,
            BUCKET,
            "raw",
            {"name": "acme-raw", "location": location, "lifecycle": ({"age": 30},), "versioning": None},
            depends_on=(ns.address,),
            source=("data", "buckets", "raw"),
        )
    )
    return state_from_graph(g, project="acme", source_commit="0123abc", config_hash="sha256:f00")


def test_state_from_graph_records_inputs_as_json() -> None:
    state = sample_state()
    bucket = state.resources[f"prod/us-central1/{BUCKET}/raw"]
    assert bucket == AppliedResource(
        address=f"prod/us-central1/{BUCKET}/raw",
        type=BUCKET,
        name="raw",
        inputs={"name": "acme-raw", "location": "US", "lifecycle": [{"age": 30}], "versioning": None},
        depends_on=(f"prod/us-central1/{NAMESPACE}/serving",),
        protect=False,
    )
    assert (state.project, state.target, state.gcp_project) == ("acme", PROD, "acme-prod")
    assert (state.source_commit, state.config_hash) == ("0123abc", "sha256:f00")


def test_round_trip() -> None:
    state = sample_state()
    assert parse_state(dump_state(state)) == state


def test_round_trip_without_commit_or_resources() -> None:
    state = state_from_graph(Graph(PROD, "p"), project="acme", source_commit=None, config_hash="h")
    assert parse_state(dump_state(state)) == state


def test_dump_is_deterministic_json() -> None:
    text = dump_state(sample_state())
    doc = json.loads(text)
    assert text.endswith("}\n")
    assert text == json.dumps(doc, sort_keys=True, indent=2) + "\n"
    assert doc["format_version"] == 1
    assert doc["target"] == {"env": "prod", "region": "us-central1"}
    assert [r["name"] for r in doc["resources"]] == ["raw", "serving"]  # sorted by address
    assert dump_state(sample_state()) == text


def test_to_graph_orders_by_dependencies() -> None:
    graph = sample_state().to_graph()
    assert [r.name for r in graph.ordered()] == ["serving", "raw"]
    assert graph.resources[f"prod/us-central1/{NAMESPACE}/serving"].protect


def _doc(**changes: object) -> str:
    doc = json.loads(dump_state(sample_state()))
    doc.update(changes)
    return json.dumps(doc)


def _resource_doc(**changes: object) -> str:
    doc = json.loads(dump_state(sample_state()))
    doc["resources"][0].update(changes)
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not valid JSON"),
        ("[]", "must be a JSON object"),
        (_doc(format_version=None), "unsupported format_version None"),
        (_doc(format_version=2), "unsupported format_version 2"),
        (_doc(format_version="1"), "unsupported format_version '1'"),
        (_doc(format_version=True), "unsupported format_version True"),
        (_doc(format_version=1.0), "unsupported format_version 1.0"),
        (_doc(project=7), "'project' has the wrong type"),
        (_doc(source_commit=1), "'source_commit' has the wrong type"),
        (_doc(target={"env": "prod"}), "target: missing 'region'"),
        (_doc(resources={}), "'resources' has the wrong type"),
        (_doc(resources=["x"]), r"resources\[0\] must be a JSON object"),
        (_resource_doc(protect="yes"), r"resources\[0\]: 'protect' has the wrong type"),
        (_resource_doc(inputs=[]), r"resources\[0\]: 'inputs' has the wrong type"),
        (_resource_doc(depends_on=[1]), r"resources\[0\].depends_on must list addresses"),
        (_resource_doc(name="other"), "does not match its address"),
        (_doc(resources=[json.loads(_doc())["resources"][0]] * 2), "more than once"),
    ],
)
def test_parse_rejects_malformed_state(text: str, message: str) -> None:
    with pytest.raises(StateError, match=message):
        parse_state(text)


def test_state_rejects_inconsistent_addresses() -> None:
    wrong = AppliedResource("prod/us-central1/x:y/z", BUCKET, "raw", {})
    with pytest.raises(StateError, match="does not match"):
        State("acme", PROD, "p", None, "h", {wrong.address: wrong})


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ({"a": (1, {"b": MappingProxyType({"c": (2,)})})}, {"a": [1, {"b": {"c": [2]}}]}),
        (OrderedDict(b=1, a=[None, True, 1.5]), {"b": 1, "a": [None, True, 1.5]}),
        (["x", ("y",), []], ["x", ["y"], []]),
        ("text", "text"),
    ],
)
def test_json_value_turns_mappings_into_dicts_and_sequences_into_lists(value: object, plain: object) -> None:
    found = json_value(value)
    assert found == plain
    assert json.dumps(found) == json.dumps(plain)  # tuples are lists, every mapping a dict
    assert type(found) is type(plain)


def test_json_value_keeps_what_is_plain_and_copies_only_what_is_not() -> None:
    plain = {"spec": {"containers": [{"name": "a"}]}, "metadata": {"labels": {"app": "a"}}}
    assert json_value(plain) is plain
    mixed = {"spec": {"ports": (80,)}, "metadata": plain["metadata"]}
    found = json_value(mixed)
    assert found == {"spec": {"ports": [80]}, "metadata": plain["metadata"]}
    assert found["metadata"] is plain["metadata"] and mixed["spec"]["ports"] == (
        80,
    )  # the original is unchanged


@pytest.mark.parametrize(
    ("value", "message"),
    [({1: "a"}, "keys must be strings"), ({"a": {1, 2}}, "not a JSON value"), ([b"x"], "not a JSON value")],
)
def test_json_value_refuses_what_json_cannot_hold(value: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        json_value(value)
