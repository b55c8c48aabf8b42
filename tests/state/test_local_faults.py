"""Applies to a local store killed (SIGKILL) at each point leave state whole; a rerun completes them.

And of several processes taking the same lock at once, exactly one wins.
"""

from __future__ import annotations

import pathlib
import subprocess

import pytest
from killable import Child, completed, killed_at
from states import DEV, state_of

from mlopsctl.state import dump_state
from mlopsctl.state.local import LocalStateStore
from mlopsctl.state.locks import new_lock
from mlopsctl.state.store import LockHeldError

APPLY = """
import os
import pathlib

from mlopsctl.state import parse_state
from mlopsctl.state.store import StateStoreError
from mlopsctl.state.local import LocalStateStore

around(os, "link", lambda *a: "before the lock is linked", lambda *a: "after the lock is linked")
around(os, "replace", lambda *a: "after the temporary file is written", lambda *a: "after the rename")
store = LocalStateStore(pathlib.Path(sys.argv[1]))
new = parse_state(pathlib.Path(sys.argv[2]).read_text())
try:
    with store.lock(new.project, new.target, "mlopsctl apply"):
        pause("holding the lock")
        store.read(new.project, new.target)
        pause("before the state is written")
        store.write(new)
        pause("after the state is written")
except StateStoreError as exc:
    sys.exit(f"error: {exc}")
print("applied")
"""

OLD, NEW = state_of(DEV, "raw"), state_of(DEV, "raw", "features")


POINTS = [
    ("before the lock is linked", False, OLD),
    ("after the lock is linked", True, OLD),
    ("holding the lock", True, OLD),
    ("before the state is written", True, OLD),
    ("after the temporary file is written", True, OLD),
    ("after the rename", True, NEW),
    ("after the state is written", True, NEW),
]


@pytest.mark.parametrize(("point", "locked", "state"), POINTS, ids=[p[0] for p in POINTS])
def test_an_apply_killed_at_any_point_leaves_whole_state_and_a_rerun_completes_it(
    tmp_path: pathlib.Path, point: str, locked: bool, state: object
) -> None:
    store = LocalStateStore(tmp_path / "state")
    store.write(OLD)
    new = tmp_path / "new.json"
    new.write_text(dump_state(NEW))
    args = (str(store.folder), str(new))

    killed_at(APPLY, point, *args)

    assert store.read("demo", DEV) == state  # the old document or the new one, whole
    assert list(store.targets("demo")) == [DEV]  # temporary files are not states
    if locked:
        with pytest.raises(LockHeldError) as held, store.lock("demo", DEV, "mlopsctl apply"):
            pass
        assert (held.value.holder.who, held.value.holder.operation) == (new_lock("").who, "mlopsctl apply")
        code, _, err = completed(APPLY, *args)
        assert code == 1 and err == f"error: {held.value}\n"
        assert store.read("demo", DEV) == state  # the refused rerun changed nothing
        assert store.force_unlock("demo", DEV, held.value.holder.id) == held.value.holder
    assert completed(APPLY, *args) == (0, "applied\n", "")
    assert store.state_path("demo", DEV).read_text() == dump_state(NEW)  # as an uninterrupted apply
    assert not store.lock_path("demo", DEV).exists()


def test_an_uninterrupted_apply_writes_the_new_state(tmp_path: pathlib.Path) -> None:
    store = LocalStateStore(tmp_path / "state")
    (tmp_path / "new.json").write_text(dump_state(NEW))
    assert completed(APPLY, str(store.folder), str(tmp_path / "new.json")) == (0, "applied\n", "")
    assert store.state_path("demo", DEV).read_text() == dump_state(NEW)
    assert sorted(p.name for p in store.state_path("demo", DEV).parent.iterdir()) == ["us-central1.json"]


CONTEND = """
import pathlib

from mlopsctl.config.target import Target
from mlopsctl.state.store import LockHeldError
from mlopsctl.state.local import LocalStateStore

store = LocalStateStore(pathlib.Path(sys.argv[1]))
print("ready", flush=True)
sys.stdin.readline()  # the start signal, sent to all contenders at once
try:
    with store.lock("demo", Target("dev", "us-central1"), f"contender {sys.argv[2]}") as info:
        print(f"won {info.id}", flush=True)
        sys.stdin.read()  # hold the lock until every other contender has lost
except LockHeldError as exc:
    print(f"lost to {exc.holder.id} ({exc.holder.operation})", flush=True)
"""


def test_of_processes_taking_the_same_lock_exactly_one_wins(tmp_path: pathlib.Path) -> None:
    store = LocalStateStore(tmp_path / "state")
    contenders = [Child(CONTEND, "", str(store.folder), str(n)) for n in range(4)]
    for child in contenders:
        child.wait_for("ready")
    for child in contenders:
        assert child.proc.stdin is not None
        child.proc.stdin.write("go\n")
        child.proc.stdin.flush()
    lines = {n: _line(child.proc) for n, child in enumerate(contenders)}
    winners = [n for n, line in lines.items() if line.startswith("won ")]
    assert len(winners) == 1
    winner_id = lines[winners[0]].removeprefix("won ")
    assert {line for n, line in lines.items() if n != winners[0]} == {
        f"lost to {winner_id} (contender {winners[0]})"
    }
    assert all(child.finish()[0] == 0 for child in contenders)
    assert not store.lock_path("demo", DEV).exists()  # the winner released it


def _line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    return proc.stdout.readline().strip()
