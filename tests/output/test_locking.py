"""Applies to a target that keeps its state in a store hold the targets' locks from read to write."""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from helpers import MINIMAL, write

from mlopsctl import api
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.output import Locking, Outcome, Release
from mlopsctl.plan import Plan
from mlopsctl.state import State, state_from_graph
from mlopsctl.state.backends import hold_locks
from mlopsctl.state.local import LocalStateStore
from mlopsctl.state.store import LockHeldError, StateStore

DEV = Target("dev", "us-central1")
GONE = Target("dev", "asia-east1")
"""A target whose state is in the store but which left the config."""


class StoreTarget:
    """An apply target keeping its state in a store, as one applying to a cluster would."""

    def __init__(self, store: StateStore, check: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self.check = check
        """Runs while the apply reads state and while it applies."""

    def locked(
        self, project: str, targets: tuple[Target, ...], covers: Callable[[Target], bool], operation: str
    ) -> AbstractContextManager[object]:
        known = [t for t in self.store.targets(project) if covers(t)]
        return hold_locks(self.store, project, [*targets, *known], operation)

    def applied(self, project: str) -> dict[Target, State]:
        self.check()
        states = {t: self.store.read(project, t) for t in self.store.targets(project)}
        return {t: s for t, s in states.items() if s is not None}

    def apply(self, plan: Plan, release: Release, removed: tuple[Target, ...]) -> Outcome:
        self.check()
        for target, graph in release.graphs.items():
            config_hash = release.config_hashes[target]
            self.store.write(
                state_from_graph(graph, project="demo", source_commit=None, config_hash=config_hash)
            )
        for target in removed:
            self.store.delete("demo", target)
        return Outcome(True, "applied")


def _validation(tmp_path: pathlib.Path) -> api.Validation:
    validation = api.validate(
        ConfigSource(write(tmp_path, MINIMAL), "mlops.yaml", None), api.Selection(("dev",))
    )
    assert validation.ok
    return validation


def _apply(validation: api.Validation, target: StoreTarget) -> Outcome:
    graphs = api.compile_graphs(validation)
    return api.apply_graphs(validation, graphs, target, api.Selection(("dev",)), allow_destroy=True)[1]


def test_the_selected_targets_are_locked_while_state_is_read_and_written(tmp_path: pathlib.Path) -> None:
    store = LocalStateStore(tmp_path / "state")
    validation = _validation(tmp_path)
    store.write(State("demo", GONE, "acme-demo-dev", None, "sha256:old", {}))
    checked: list[Target] = []

    def all_locked() -> None:
        for target in (DEV, GONE, Target("prod", "us-central1")):
            try:
                with store.lock("demo", target, "another apply"):
                    pass
            except LockHeldError as held:
                assert held.holder.operation == "mlopsctl apply"
                checked.append(target)

    target = StoreTarget(store, all_locked)
    assert isinstance(target, Locking)
    assert _apply(validation, target).detail == "applied"
    assert checked == [DEV, GONE] * 2  # prod is not selected: not locked
    assert list(store.targets("demo")) == [DEV]
    with store.lock("demo", DEV, "next apply"), store.lock("demo", GONE, "next apply"):
        pass  # all released


def test_an_apply_finding_a_lock_held_reads_nothing(tmp_path: pathlib.Path) -> None:
    store = LocalStateStore(tmp_path / "state")

    def never() -> None:
        raise AssertionError("read or applied under another's lock")

    with store.lock("demo", DEV, "mlopsctl apply") as first, pytest.raises(LockHeldError) as held:
        _apply(_validation(tmp_path), StoreTarget(store, never))
    assert held.value.holder == first
