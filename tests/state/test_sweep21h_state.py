"""Unseen-config sweep: lock and state files that are not UTF-8, and credentials that are named but
unusable, are clear errors rather than tracebacks."""

from __future__ import annotations

import pathlib

import pytest

from mlopsctl.config.target import Target
from mlopsctl.state.gcs import NO_CREDENTIALS, default_client
from mlopsctl.state.local import LocalStateStore
from mlopsctl.state.store import StateStoreError

TARGET = Target("dev", "us-central1")


def test_a_lock_file_that_is_not_utf8_is_not_an_mlopsctl_lock(tmp_path: pathlib.Path) -> None:
    store = LocalStateStore(tmp_path)
    lock = store.lock_path("demo", TARGET)
    lock.parent.mkdir(parents=True)
    lock.write_bytes(b"\xff\xfe")
    with pytest.raises(StateStoreError, match="is not a lock written by mlopsctl; if no apply is running"):
        store.force_unlock("demo", TARGET, "some-id")
    with (
        pytest.raises(StateStoreError, match="is not a lock written by mlopsctl"),
        store.lock("demo", TARGET, "op"),
    ):
        pass
    assert lock.read_bytes() == b"\xff\xfe"


def test_a_state_file_that_is_not_utf8_is_named(tmp_path: pathlib.Path) -> None:
    store = LocalStateStore(tmp_path)
    path = store.state_path("demo", TARGET)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xff")
    with pytest.raises(
        StateStoreError, match=r"cannot read the state in .*us-central1\.json: not UTF-8 text"
    ):
        store.read("demo", TARGET)


@pytest.mark.parametrize(
    ("content", "expected"), [(None, "was not found"), (b"{}", "does not have a valid type")]
)
def test_named_credentials_that_cannot_be_used_say_why(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, content: bytes | None, expected: str
) -> None:
    key = tmp_path / "key.json"
    if content is not None:
        key.write_bytes(content)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    with pytest.raises(StateStoreError) as caught:
        default_client()
    message = str(caught.value)
    assert message.startswith(f"the credentials in GOOGLE_APPLICATION_CREDENTIALS ({key}) cannot be used")
    assert expected in message and message != NO_CREDENTIALS
