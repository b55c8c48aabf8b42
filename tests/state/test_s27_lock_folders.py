"""A local store's lock leaves no folder behind that only it made: an apply that fails before writing
a state (its cluster unreachable, say) leaves nothing beside the config."""

from __future__ import annotations

import pathlib

import pytest

from mlopsctl.config.target import Target
from mlopsctl.state.local import LocalStateStore

TARGET = Target("dev", "us-east1")


def test_a_lock_released_without_a_state_removes_the_folders_it_made(tmp_path: pathlib.Path) -> None:
    store = LocalStateStore(tmp_path / ".mlopsctl" / "state")
    with pytest.raises(RuntimeError), store.lock("churn", TARGET, "mlopsctl apply"):
        assert store.lock_path("churn", TARGET).exists()
        raise RuntimeError("cannot reach the Kubernetes API")
    assert list(tmp_path.iterdir()) == []


def test_folders_that_hold_a_state_or_were_there_stay(tmp_path: pathlib.Path) -> None:
    folder = tmp_path / "state"
    (folder / "churn").mkdir(parents=True)
    store = LocalStateStore(folder)
    with store.lock("churn", TARGET, "mlopsctl apply"):
        (folder / "churn" / "dev" / "us-east1.json").write_text("{}")
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == [
        "churn",
        "churn/dev",
        "churn/dev/us-east1.json",
    ]
    with store.lock("churn", Target("prod", "us-east1"), "mlopsctl apply"):
        pass
    assert not (folder / "churn" / "prod").exists() and (folder / "churn").is_dir()
