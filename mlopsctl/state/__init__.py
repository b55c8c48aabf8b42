"""What was applied to one target, as a deterministic JSON document.

The state holds exactly what the plan compares against: per resource its
address, type, name, inputs, dependencies and protection. No timestamps, so
applying the same graph twice writes identical bytes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlopsctl.config.target import Target
from mlopsctl.graph import JSON, Graph, Resource, address_of

FORMAT_VERSION = 1

StrPath = str | os.PathLike[str]


class StateError(ValueError):
    """A state document that cannot be read: malformed, inconsistent or of an unsupported format."""


@dataclass(frozen=True)
class AppliedResource:
    address: str
    type: str
    name: str
    inputs: Mapping[str, JSON]
    depends_on: tuple[str, ...] = ()
    protect: bool = False


@dataclass(frozen=True)
class State:
    project: str
    target: Target
    gcp_project: str
    source_commit: str | None
    config_hash: str
    resources: Mapping[str, AppliedResource]

    def __post_init__(self) -> None:
        for key, r in self.resources.items():
            expected = address_of(self.target, r.type, r.name)
            if key != r.address or r.address != expected:
                raise StateError(f"resource {key!r} does not match its address {expected!r}")

    def to_graph(self) -> Graph:
        """The applied resources as a graph (without source paths), e.g. to order deletions."""
        graph = Graph(self.target, self.gcp_project)
        for r in self.resources.values():
            graph.add(Resource(self.target, r.type, r.name, r.inputs, r.depends_on, r.protect))
        return graph


def json_value(value: Any) -> JSON:
    """A plain JSON value: mappings become dicts, sequences lists; anything else non-JSON is an error.

    What is plain already is returned as it is, not copied: graphs, states and plans share such
    values and never change them.
    """
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict or isinstance(value, Mapping):
        found = value if kind is dict else dict(value)
        for key, item in value.items():
            if type(key) is not str and not isinstance(key, str):
                raise TypeError(f"JSON object keys must be strings: {list(value)!r}")
            plain = item if type(item) in _SCALARS else json_value(item)
            if plain is not item:
                found = dict(value) if found is value else found
                found[key] = plain
        return found
    if isinstance(value, list | tuple):
        listed: list[Any] = value if isinstance(value, list) and kind is list else list(value)
        for i, item in enumerate(value):
            plain = item if type(item) in _SCALARS else json_value(item)
            if plain is not item:
                listed = list(value) if listed is value else listed
                listed[i] = plain
        return listed
    if isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"not a JSON value: {value!r}")


_SCALARS = frozenset({str, int, float, bool, type(None)})


def state_from_graph(graph: Graph, *, project: str, source_commit: str | None, config_hash: str) -> State:
    """The state recorded after ``graph`` has been applied."""
    resources = {
        r.address: AppliedResource(
            r.address, r.type, r.name, json_value(r.inputs), tuple(r.depends_on), r.protect
        )
        for r in sorted(graph, key=lambda r: r.address)
    }
    return State(project, graph.target, graph.gcp_project, source_commit, config_hash, resources)


def dump_state(state: State) -> str:
    doc = {
        "format_version": FORMAT_VERSION,
        "project": state.project,
        "target": {"env": state.target.env, "region": state.target.region},
        "gcp_project": state.gcp_project,
        "source_commit": state.source_commit,
        "config_hash": state.config_hash,
        "resources": [
            {
                "address": r.address,
                "type": r.type,
                "name": r.name,
                "inputs": json_value(r.inputs),
                "depends_on": list(r.depends_on),
                "protect": r.protect,
            }
            for r in sorted(state.resources.values(), key=lambda r: r.address)
        ],
    }
    return json.dumps(doc, sort_keys=True, indent=2, allow_nan=False) + "\n"


def parse_state(text: str) -> State:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise StateError(f"not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise StateError("the state must be a JSON object")
    version = doc.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:  # JSON true equals 1 in Python
        raise StateError(f"unsupported format_version {version!r} (this version reads {FORMAT_VERSION})")
    target = _field(doc, "target", dict, "state")
    raw_resources = _field(doc, "resources", list, "state")
    resources = [_parse_resource(r, f"resources[{i}]") for i, r in enumerate(raw_resources)]
    by_address = {r.address: r for r in resources}
    if len(by_address) != len(resources):
        raise StateError("the state lists a resource address more than once")
    return State(
        project=_field(doc, "project", str, "state"),
        target=Target(_field(target, "env", str, "target"), _field(target, "region", str, "target")),
        gcp_project=_field(doc, "gcp_project", str, "state"),
        source_commit=_field(doc, "source_commit", str | None, "state"),
        config_hash=_field(doc, "config_hash", str, "state"),
        resources=by_address,
    )


def _parse_resource(raw: object, where: str) -> AppliedResource:
    if not isinstance(raw, dict):
        raise StateError(f"{where} must be a JSON object")
    depends_on = _field(raw, "depends_on", list, where)
    if not all(isinstance(d, str) for d in depends_on):
        raise StateError(f"{where}.depends_on must list addresses (strings)")
    return AppliedResource(
        address=_field(raw, "address", str, where),
        type=_field(raw, "type", str, where),
        name=_field(raw, "name", str, where),
        inputs=_field(raw, "inputs", dict, where),
        depends_on=tuple(depends_on),
        protect=_field(raw, "protect", bool, where),
    )


def _field(obj: Mapping[str, Any], key: str, kind: Any, where: str) -> Any:
    """``obj[key]``, checked to be an instance of ``kind``."""
    if key not in obj:
        raise StateError(f"{where}: missing {key!r}")
    value = obj[key]
    if not isinstance(value, kind):
        raise StateError(f"{where}: {key!r} has the wrong type ({type(value).__name__})")
    return value
