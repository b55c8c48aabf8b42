"""What every state store does, run against the local folder and GCS (through a faithful fake)."""

from __future__ import annotations

import pathlib

import pytest
from fake_gcs import FakeClient
from states import DEV, PROD, state_of

from mlopsctl.state import dump_state
from mlopsctl.state.backends import hold_locks
from mlopsctl.state.gcs import GcsStateStore
from mlopsctl.state.local import LocalStateStore
from mlopsctl.state.store import LockHeldError, StateStore, StateStoreError


@pytest.fixture(params=["local", "gcs"])
def store(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> StateStore:
    if request.param == "local":
        return LocalStateStore(tmp_path / "state")
    return GcsStateStore("acme-state", "mlops/", client=FakeClient())


def test_write_read_delete(store: StateStore) -> None:
    assert store.read("demo", DEV) is None
    store.write(state_of(DEV, "raw"))
    store.write(state_of(PROD, "raw", "models"))
    store.write(state_of(DEV, "raw", "features"))
    assert store.read("demo", DEV) == state_of(DEV, "raw", "features")
    assert list(store.targets("demo")) == [DEV, PROD]
    assert list(store.targets("other")) == []
    store.delete("demo", DEV)
    assert store.read("demo", DEV) is None
    assert list(store.targets("demo")) == [PROD]


def test_state_of_another_target_is_refused(store: StateStore) -> None:
    store.write(state_of(DEV, "raw"))
    if isinstance(store, LocalStateStore):
        store.state_path("demo", PROD).parent.mkdir()
        store.state_path("demo", DEV).replace(store.state_path("demo", PROD))
    else:
        assert isinstance(store, GcsStateStore) and isinstance(store._client, FakeClient)
        objects = store._client.objects
        objects["acme-state", "mlops/demo/prod/europe-west4.json"] = objects.pop(
            ("acme-state", "mlops/demo/dev/us-central1.json")
        )
    with pytest.raises(StateStoreError, match=r"holds the state of demo dev/us-central1"):
        store.read("demo", PROD)


def test_a_held_lock_names_its_holder_and_is_released_after_the_block(store: StateStore) -> None:
    with store.lock("demo", DEV, "mlopsctl apply") as mine:
        with pytest.raises(LockHeldError) as held, store.lock("demo", DEV, "mlopsctl apply"):
            pass
        assert held.value.holder == mine and held.value.target == DEV
        assert f"lock id {mine.id}" in str(held.value)
        assert f"'mlopsctl force-unlock {mine.id} --env dev --region us-central1'" in str(held.value)
        with store.lock("demo", PROD, "mlopsctl apply"):  # another target is not blocked
            pass
    with store.lock("demo", DEV, "mlopsctl apply"):  # released
        pass


def test_a_lock_is_released_when_the_block_fails(store: StateStore) -> None:
    with pytest.raises(RuntimeError), store.lock("demo", DEV, "mlopsctl apply"):
        raise RuntimeError("apply failed")
    with store.lock("demo", DEV, "mlopsctl apply"):
        pass


def test_force_unlock_needs_the_holders_id(store: StateStore) -> None:
    with pytest.raises(StateStoreError, match=r"dev/us-central1 .*is not locked; nothing to unlock"):
        store.force_unlock("demo", DEV, "some-id")
    with store.lock("demo", DEV, "mlopsctl apply") as dead:
        with pytest.raises(StateStoreError) as wrong:
            store.force_unlock("demo", DEV, "some-id")
        assert f"is locked by {dead.describe()}, not by lock some-id; nothing was unlocked" in str(
            wrong.value
        )
        assert store.force_unlock("demo", DEV, dead.id) == dead
        with store.lock("demo", DEV, "mlopsctl apply") as successor:
            assert successor.id != dead.id


def test_the_release_of_a_broken_lock_leaves_the_next_holders_lock(store: StateStore) -> None:
    outer = store.lock("demo", DEV, "mlopsctl apply")
    dead = outer.__enter__()
    store.force_unlock("demo", DEV, dead.id)
    with store.lock("demo", DEV, "mlopsctl apply") as successor:
        outer.__exit__(None, None, None)  # the broken holder finishes after all
        with pytest.raises(LockHeldError) as held, store.lock("demo", DEV, "mlopsctl apply"):
            pass
        assert held.value.holder == successor


def test_hold_locks_takes_all_or_none(store: StateStore) -> None:
    with store.lock("demo", PROD, "mlopsctl apply") as other:
        with pytest.raises(LockHeldError) as held, hold_locks(store, "demo", [PROD, DEV], "mlopsctl apply"):
            pass
        assert held.value.holder == other
        with store.lock("demo", DEV, "mlopsctl apply"):  # the lock of dev was taken, then released
            pass
    with hold_locks(store, "demo", [PROD, DEV, PROD], "mlopsctl apply") as infos:
        assert len(infos) == 2


def test_writes_are_deterministic(store: StateStore, tmp_path: pathlib.Path) -> None:
    store.write(state_of(DEV, "raw"))
    if isinstance(store, LocalStateStore):
        text = store.state_path("demo", DEV).read_text()
    else:
        assert isinstance(store, GcsStateStore) and isinstance(store._client, FakeClient)
        text = store._client.text("acme-state", "mlops/demo/dev/us-central1.json")
    assert text == dump_state(state_of(DEV, "raw"))
