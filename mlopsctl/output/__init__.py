"""Apply targets: where a plan is carried out. Each keeps the state the next plan diffs against."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from mlopsctl.config.target import Target
from mlopsctl.graph import Graph
from mlopsctl.plan import Plan
from mlopsctl.state import State


@dataclass(frozen=True)
class Release:
    """What is being applied: the graphs, and where they came from."""

    project: str
    graphs: Mapping[Target, Graph]
    config_hashes: Mapping[Target, str]
    source_commit: str | None


@dataclass(frozen=True)
class Outcome:
    changed: bool
    detail: str
    """A line for the user: the commit made, or why nothing was done."""


class ApplyTarget(Protocol):
    def applied(self, project: str) -> dict[Target, State]:
        """The state of every target this apply target knows for ``project``."""
        ...

    def apply(self, plan: Plan, release: Release, removed: tuple[Target, ...]) -> Outcome: ...


@runtime_checkable
class Previewing(Protocol):
    """An apply target that can also say what its own engine would change (without changing it)."""

    def preview(self, release: Release) -> Outcome: ...


@runtime_checkable
class Scoped(Protocol):
    """An apply target that applies only part of each graph: plans made for it cover only that part."""

    def scope(self, graph: Graph) -> Graph: ...


@runtime_checkable
class Locking(Protocol):
    """An apply target that serializes applies with a lock held from reading state to recording it."""

    def locked(
        self, project: str, targets: tuple[Target, ...], covers: Callable[[Target], bool], operation: str
    ) -> AbstractContextManager[object]:
        """Hold the lock(s) of ``targets`` (the config's selected targets) and of the selected
        targets (``covers``) that only the state still knows; raise if another apply holds one."""
        ...


class ApplyError(Exception):
    """The apply target cannot be used (not configured, not reachable); the message says what to do."""
