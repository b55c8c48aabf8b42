"""The GCS store: conditional writes, lock objects, errors; and the fake it is tested with."""

from __future__ import annotations

import inspect
import json
import os
import pathlib
import subprocess
import sys

import pytest
from fake_gcs import FakeBlob, FakeBucket, FakeClient
from google.api_core.exceptions import Forbidden, NotFound, PreconditionFailed
from helpers import MINIMAL, write
from states import DEV, PROD, state_of

from mlopsctl.state.gcs import GcsStateStore
from mlopsctl.state.store import StateStoreError

BUCKET = "acme-state"
DEV_STATE = "mlops/demo/dev/us-central1.json"
DEV_LOCK = "mlops/demo/dev/us-central1.lock"


def two_stores() -> tuple[FakeClient, GcsStateStore, GcsStateStore]:
    """Two applies sharing one bucket."""
    client = FakeClient()
    return client, GcsStateStore(BUCKET, "/mlops/", client), GcsStateStore(BUCKET, "mlops", client)


@pytest.mark.parametrize(
    ("prefix", "name"),
    [("", "demo/dev/us-central1.json"), ("mlops", DEV_STATE), ("/a/b/", "a/b/demo/dev/us-central1.json")],
)
def test_object_names(prefix: str, name: str) -> None:
    client = FakeClient()
    GcsStateStore(BUCKET, prefix, client).write(state_of(DEV, "raw"))
    assert [key for key in client.objects] == [(BUCKET, name)]
    assert list(GcsStateStore(BUCKET, prefix, client).targets("demo")) == [DEV]


def test_a_write_after_a_concurrent_write_is_refused() -> None:
    _, mine, theirs = two_stores()
    mine.write(state_of(DEV, "raw"))
    assert mine.read("demo", DEV) == theirs.read("demo", DEV) == state_of(DEV, "raw")
    theirs.write(state_of(DEV, "raw", "theirs"))
    for change in (lambda: mine.write(state_of(DEV, "raw", "mine")), lambda: mine.delete("demo", DEV)):
        with pytest.raises(StateStoreError, match=r"changed since it was read \(another apply wrote it\)"):
            change()
        assert theirs.read("demo", DEV) == state_of(DEV, "raw", "theirs")
    assert mine.read("demo", DEV) == state_of(DEV, "raw", "theirs")  # read again: now it may write
    mine.write(state_of(DEV, "raw", "mine"))
    assert theirs.read("demo", DEV) == state_of(DEV, "raw", "mine")


def test_a_new_state_is_not_written_over_one_created_meanwhile() -> None:
    _, mine, theirs = two_stores()
    assert mine.read("demo", DEV) is None
    theirs.write(state_of(DEV, "theirs"))
    with pytest.raises(StateStoreError, match="changed since it was read"):
        mine.write(state_of(DEV, "mine"))


def test_each_write_is_conditional_on_the_last() -> None:
    client, store, _ = two_stores()
    store.write(state_of(DEV, "raw"))  # not read: conditional on what is there now (nothing)
    first = client.objects[BUCKET, DEV_STATE][1]
    store.write(state_of(DEV, "raw", "features"))
    assert client.objects[BUCKET, DEV_STATE][1] > first
    store.delete("demo", DEV)
    store.delete("demo", DEV)
    assert client.objects == {}


def test_the_lock_object_holds_the_lock_record() -> None:
    client, store, _ = two_stores()
    with store.lock("demo", DEV, "mlopsctl apply") as info:
        assert json.loads(client.text(BUCKET, DEV_LOCK)) == {
            "created": info.created,
            "id": info.id,
            "operation": "mlopsctl apply",
            "who": info.who,
        }
    assert client.objects == {}


def test_force_unlock_deletes_only_the_lock_it_read(monkeypatch: pytest.MonkeyPatch) -> None:
    client, store, other = two_stores()
    dead_apply = store.lock("demo", DEV, "mlopsctl apply")
    dead = dead_apply.__enter__()
    next_apply = other.lock("demo", DEV, "mlopsctl apply")
    real_delete = FakeBlob.delete

    def released_and_retaken(blob: FakeBlob, if_generation_match: int | None = None) -> None:
        monkeypatch.setattr(FakeBlob, "delete", real_delete)
        real_delete(blob)  # the dead apply's lock goes away and another apply takes it
        next_apply.__enter__()
        real_delete(blob, if_generation_match=if_generation_match)

    monkeypatch.setattr(FakeBlob, "delete", released_and_retaken)
    with pytest.raises(StateStoreError, match="changed while unlocking it; nothing was unlocked"):
        store.force_unlock("demo", DEV, dead.id)
    assert json.loads(client.text(BUCKET, DEV_LOCK))["id"] != dead.id


def test_storage_errors_are_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(bucket: FakeBucket, blob_name: str) -> None:
        raise Forbidden("caller does not have storage.objects.get access")

    monkeypatch.setattr(FakeBucket, "get_blob", denied)
    with pytest.raises(StateStoreError, match=r"^gs://acme-state/mlops: 403 caller does not have storage"):
        two_stores()[1].read("demo", PROD)


def test_without_credentials_the_cli_says_what_to_set(tmp_path: pathlib.Path) -> None:
    """The real client, with no credentials anywhere (and no metadata server lookup)."""
    config = write(tmp_path, MINIMAL)
    env = {k: v for k, v in os.environ.items() if k != "GOOGLE_APPLICATION_CREDENTIALS"}
    env.update(HOME=str(tmp_path), CLOUDSDK_CONFIG=str(tmp_path / "gcloud"), NO_GCE_CHECK="true")
    args = ["force-unlock", "an-id", str(config), "--env", "dev", "--region", "us-central1"]
    proc = subprocess.run(
        [sys.executable, "-m", "mlopsctl", *args, "--state", "gs://acme-state/mlops"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: no Google Cloud credentials for the state bucket: ")
    assert "set GOOGLE_APPLICATION_CREDENTIALS" in proc.stderr


def test_google_cloud_storage_is_imported_only_when_used() -> None:
    # google.cloud itself may be imported at start-up by a namespace package's .pth file.
    code = (
        "import sys, mlopsctl.cli, mlopsctl.state.backends, mlopsctl.state.gcs;"
        "print(sorted(m for m in sys.modules if m.startswith('google.cloud.storage')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    ("fake", "real", "method"),
    [
        (FakeClient, "Client", "bucket"),
        (FakeClient, "Client", "list_blobs"),
        (FakeBucket, "Bucket", "blob"),
        (FakeBucket, "Bucket", "get_blob"),
        (FakeBlob, "Blob", "upload_from_string"),
        (FakeBlob, "Blob", "download_as_bytes"),
        (FakeBlob, "Blob", "delete"),
    ],
)
def test_the_fake_takes_the_arguments_of_the_real_api(fake: type, real: str, method: str) -> None:
    """Each parameter of the fake exists, with the same default, in google.cloud.storage."""
    from google.cloud import storage

    real_params = inspect.signature(getattr(getattr(storage, real), method)).parameters
    for name, param in inspect.signature(getattr(fake, method)).parameters.items():
        assert name in real_params, f"{real}.{method} has no parameter {name}"
        assert param.default == real_params[name].default


def test_the_fake_enforces_generations() -> None:
    blob = FakeClient().bucket(BUCKET).blob("x")
    with pytest.raises(NotFound):
        blob.download_as_bytes()
    blob.upload_from_string("one", if_generation_match=0)
    first = blob.generation
    assert first is not None
    with pytest.raises(PreconditionFailed):
        blob.upload_from_string("two", if_generation_match=0)
    blob.upload_from_string("two", if_generation_match=first)
    assert blob.generation is not None and blob.generation > first
    with pytest.raises(PreconditionFailed):
        blob.delete(if_generation_match=first)
    assert blob.download_as_bytes(if_generation_match=blob.generation) == b"two"
    blob.delete()
    with pytest.raises(NotFound):
        blob.delete()


def test_a_state_replaced_while_it_is_read_is_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    _, mine, theirs = two_stores()
    theirs.write(state_of(DEV, "raw"))
    real_download = FakeBlob.download_as_bytes

    def replaced_first(blob: FakeBlob, if_generation_match: int | None = None) -> bytes:
        monkeypatch.setattr(FakeBlob, "download_as_bytes", real_download)
        theirs.write(state_of(DEV, "raw", "newer"))
        return real_download(blob, if_generation_match=if_generation_match)

    monkeypatch.setattr(FakeBlob, "download_as_bytes", replaced_first)
    assert mine.read("demo", DEV) == state_of(DEV, "raw", "newer")
    mine.write(state_of(DEV, "mine"))  # conditional on the generation it read: allowed
