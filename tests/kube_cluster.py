"""Fixtures of the kubernetes target's tests: a fake cluster with the platform installed, a kubeconfig
for it, a state store in memory, real local state stores under tmp_path and a fake clock. The digits example's
objects are compiled once, on first use."""

from __future__ import annotations

import contextlib
import functools
import pathlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from kubefake import FakeApiServer, install, served_kinds, write_kubeconfig

from mlopsctl import api
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph
from mlopsctl.output.kubernetes import kubernetes_part
from mlopsctl.output.kubewait import Clock
from mlopsctl.state import State
from mlopsctl.state.local import LocalStateStore
from mlopsctl.state.store import LockHeldError, LockInfo

ROOT = pathlib.Path(__file__).resolve().parents[1]
DIGITS = ROOT / "examples" / "projects" / "digits" / "mlops.yaml"
PROD = Target("prod", "us-central1")
ONLY_PROD = api.Selection(("prod",), ("us-central1",))
NAMESPACE = "kubernetes:core/v1:Namespace"


class MemoryStore:
    """A state store in memory (the real ones keep files or GCS objects)."""

    def __init__(self) -> None:
        self.states: dict[tuple[str, Target], State] = {}
        self.locks: dict[tuple[str, Target], LockInfo] = {}
        self.writes = 0

    def targets(self, project: str) -> Iterator[Target]:
        return iter(sorted((t for p, t in self.states if p == project), key=str))

    def read(self, project: str, target: Target) -> State | None:
        return self.states.get((project, target))

    @contextlib.contextmanager
    def lock(self, project: str, target: Target, operation: str) -> Iterator[LockInfo]:
        held = self.locks.get((project, target))
        if held is not None:
            raise LockHeldError(target, held)
        self.locks[(project, target)] = LockInfo("lock-1", "me@here", operation, "2026-01-01T00:00:00Z")
        try:
            yield self.locks[(project, target)]
        finally:
            del self.locks[(project, target)]

    def write(self, state: State) -> None:
        self.writes += 1
        self.states[(state.project, state.target)] = state

    def delete(self, project: str, target: Target) -> None:
        self.states.pop((project, target), None)

    def force_unlock(self, project: str, target: Target, lock_id: str) -> LockInfo:
        return self.locks.pop((project, target))


@dataclass
class FakeClock:
    """Time that passes only when the kubernetes target sleeps, so its waits take no real time."""

    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    @property
    def clock(self) -> Clock:
        return Clock(self.time, self.sleep)


def validation_of(path: pathlib.Path = DIGITS) -> api.Validation:
    validation = api.validate(ConfigSource(path, "mlops.yaml", None), ONLY_PROD)
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return validation


def prod_graph(validation: api.Validation) -> Graph:
    return kubernetes_part(api.compile_graphs(validation)[PROD])


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@functools.cache
def digits_graph() -> Graph:
    """The Kubernetes objects of the digits example in prod/us-central1."""
    return prod_graph(validation_of())


def platform_namespaces(graph: Graph) -> list[str]:
    """The namespaces of objects of the graph that the graph does not create: the platform's (its
    add-ons and GKE create them)."""
    created = {r.name for r in graph if r.type == NAMESPACE}
    namespaces = {r.inputs["metadata"].get("namespace") for r in graph}
    return sorted(n for n in namespaces if n and n not in created)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> FakeApiServer:
    """A cluster with the platform installed and nothing of the project."""
    graph = digits_graph()
    fake = FakeApiServer(served_kinds(r.type for r in graph))
    for name in platform_namespaces(graph):
        fake.put("v1", "Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    install(monkeypatch, fake)
    return fake


@pytest.fixture
def fake_clock() -> FakeClock:
    """The clock and sleep of a kubernetes target under test: its waits take no real time."""
    return FakeClock()


@pytest.fixture
def kubeconfig(tmp_path: pathlib.Path) -> pathlib.Path:
    return write_kubeconfig(tmp_path)


@pytest.fixture
def state_folder(tmp_path: pathlib.Path) -> pathlib.Path:
    """Where ``--state`` (the folder, or its file:// URL) keeps the kubernetes target's state."""
    return tmp_path / "state"


@pytest.fixture
def digits_copy(tmp_path: pathlib.Path) -> pathlib.Path:
    """The digits example's config, copied with its folder under tmp_path: without ``--state`` its
    state is kept beside it (``.mlopsctl/state``), not in the example."""
    shutil.copytree(DIGITS.parent, tmp_path / "digits")
    return tmp_path / "digits" / "mlops.yaml"


def recorded(folder: pathlib.Path) -> State | None:
    """The state of the digits example in prod/us-central1 that the local store at ``folder`` holds."""
    return LocalStateStore(folder).read("digits", PROD)
