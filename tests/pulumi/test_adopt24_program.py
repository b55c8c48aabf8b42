"""Adopting the metadata store Vertex AI made: from the lookup (a fake Vertex AI on the REST transport)
through the plan to what the Pulumi program registers under mocks."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pytest
from helpers import DEV_ONLY, compile_text
from mocked import Recorder, run
from vertex_fake import FakeVertex, serving

from mlopsctl.config.target import Target
from mlopsctl.graph import Graph
from mlopsctl.plan import Existing, diff_target
from mlopsctl.pulumi.adopt import adoptable
from mlopsctl.pulumi.program import create
from mlopsctl.pulumi.vertex.client import ENDPOINT_ENV
from mlopsctl.state import state_from_graph

DEV = Target("dev", "us-central1")
STORE = "gcp:vertex/aiMetadataStore:AiMetadataStore"
STORE_ID = "projects/acme-demo-dev/locations/us-central1/metadataStores/default"
TRACKED = DEV_ONLY + "tracking:\n  experiments: true\n"


@dataclass
class ImportRecorder(Recorder):
    """Also records the id each resource is imported by (the ``import_`` option), by (type, name)."""

    imports: dict[tuple[str, str], str] = field(default_factory=dict)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.resource_id:
            self.imports[args.typ, args.name] = args.resource_id
        return super().new_resource(args)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeVertex]:
    with serving() as found:
        monkeypatch.setenv(ENDPOINT_ENV, found.url)
        yield found


@pytest.fixture
def graph(tmp_path: pathlib.Path) -> Graph:
    return compile_text(tmp_path, TRACKED)[DEV]


def _applied_program(graph: Graph, *, state_holds_store: bool = False) -> ImportRecorder:
    """Look the stores up, plan against empty state (or one holding the store), run the program of
    the plan's graph under mocks."""
    scoped, _ = adoptable(graph)
    state = None
    if state_holds_store:
        held = Graph(graph.target, graph.gcp_project)
        held.add(graph.resources[f"{DEV}/{STORE}/default"])
        state = state_from_graph(held, project="demo", source_commit=None, config_hash="sha256:0")
    desired = diff_target(DEV, scoped, state).desired
    assert desired is not None
    recorder = ImportRecorder()
    run(lambda: create(desired), recorder)
    return recorder


def test_a_store_vertex_ai_made_is_registered_with_import(fake: FakeVertex, graph: Graph) -> None:
    fake.add_metadata_store(STORE_ID)
    recorder = _applied_program(graph)
    assert recorder.imports == {(STORE, "default"): STORE_ID}
    assert recorder.one(STORE, "default").protect
    assert fake.routes() == ["get_metadata_store"]
    assert fake.calls[0].raw == f"/v1/{STORE_ID}"


def test_a_missing_store_is_created(fake: FakeVertex, graph: Graph) -> None:
    recorder = _applied_program(graph)
    assert recorder.imports == {}
    assert recorder.one(STORE, "default").inputs["name"] == "default"


def test_without_the_api_enabled_there_is_no_store_to_adopt(fake: FakeVertex, graph: Graph) -> None:
    fake.add_metadata_store(STORE_ID)  # not reachable: the API answers that it is disabled
    fake.fail(
        "get_metadata_store", "PERMISSION_DENIED", "Vertex AI API is disabled", reason="SERVICE_DISABLED"
    )
    _, lookups = adoptable(graph)
    assert [(lookup.found, lookup.refusal()) for lookup in lookups.values()] == [(None, None)]
    fake.fail(
        "get_metadata_store", "PERMISSION_DENIED", "Vertex AI API is disabled", reason="SERVICE_DISABLED"
    )
    assert _applied_program(graph).imports == {}


def test_a_store_the_state_holds_is_not_imported_again(fake: FakeVertex, graph: Graph) -> None:
    fake.add_metadata_store(STORE_ID)
    assert _applied_program(graph, state_holds_store=True).imports == {}


def test_only_stores_are_looked_up(fake: FakeVertex, graph: Graph) -> None:
    fake.add_metadata_store(STORE_ID)
    scoped, lookups = adoptable(graph)
    assert list(lookups) == [f"{DEV}/{STORE}/default"]
    assert [r.address for r in scoped if isinstance(r, Existing)] == list(lookups)
    assert [r.address for r in scoped] == [r.address for r in graph]
