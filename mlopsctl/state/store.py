"""Where targets without a state of their own (the kubernetes target) keep what they applied.

One state document per environment/region (see :mod:`mlopsctl.state`), written
atomically, and a lock per environment/region that serializes applies and says
who holds it.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from mlopsctl.config.target import Target
from mlopsctl.state import State


@dataclass(frozen=True)
class LockInfo:
    """Who holds a lock: shown when another apply finds it held, and by force-unlock."""

    id: str
    who: str
    """``user@host`` of the holder."""
    operation: str
    """What the holder is doing, e.g. ``mlopsctl apply``."""
    created: str
    """When the lock was taken (ISO 8601, UTC)."""

    def describe(self) -> str:
        return f"{self.who} ({self.operation}, since {self.created}, lock id {self.id})"


class StateStoreError(Exception):
    """A store that cannot be used (no credentials, unreadable state, wrong lock id); says what to do."""


class LockHeldError(StateStoreError):
    """Another apply holds the lock of a target."""

    def __init__(self, target: Target, holder: LockInfo) -> None:
        self.target = target
        self.holder = holder
        super().__init__(self.advice())

    def advice(self, *given: str) -> str:
        """The message, with the ``force-unlock`` command to paste; ``given`` are the arguments that
        found this store (the config file, ``--state URL``), which the command needs too."""
        command = ["mlopsctl", "force-unlock", self.holder.id, *given]
        command += ["--env", self.target.env, "--region", self.target.region]
        return (
            f"the state of {self.target} is locked by {self.holder.describe()}; wait for it to finish, "
            f"or if it died, run '{shlex.join(command)}'"
        )


class StateStore(Protocol):
    def targets(self, project: str) -> Iterator[Target]:
        """Every target with a state of ``project`` in the store."""
        ...

    def read(self, project: str, target: Target) -> State | None: ...

    def lock(self, project: str, target: Target, operation: str) -> AbstractContextManager[LockInfo]:
        """Hold the target's lock for the ``with`` block; raise :class:`LockHeldError` if taken."""
        ...

    def write(self, state: State) -> None:
        """Replace the target's state atomically (a reader sees the old or the new one, whole)."""
        ...

    def delete(self, project: str, target: Target) -> None: ...

    def force_unlock(self, project: str, target: Target, lock_id: str) -> LockInfo:
        """Release a lock left by a dead apply; ``lock_id`` must match (as Terraform's force-unlock)."""
        ...
