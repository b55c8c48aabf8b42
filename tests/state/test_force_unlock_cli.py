"""``mlopsctl force-unlock`` of a state store's lock (of a deploy repository's: test_gitops_locks.py)."""

from __future__ import annotations

import pathlib

import pytest
from helpers import MINIMAL, run, write
from states import DEV

from mlopsctl.state.local import LocalStateStore


@pytest.mark.parametrize("flag", [None, "path", "file-url"])
def test_force_unlock_releases_only_the_named_lock(tmp_path: pathlib.Path, flag: str | None) -> None:
    config = write(tmp_path / "ml", MINIMAL)
    folder = tmp_path / "ml" / ".mlopsctl" / "state" if flag is None else tmp_path / "shared state"
    options = {None: [], "path": ["--state", str(folder)], "file-url": ["--state", folder.as_uri()]}[flag]
    store = LocalStateStore(folder)
    dead = store.lock("demo", DEV, "mlopsctl apply")
    holder = dead.__enter__()
    where = ["--env", "dev", "--region", "us-central1", *options]

    code, _, err = run("force-unlock", "wrong-id", config, *where)
    assert code == 1
    assert err == (
        f"error: the state of dev/us-central1 in {folder} is locked by {holder.describe()}, "
        "not by lock wrong-id; nothing was unlocked (check the id the failed apply printed)\n"
    )
    assert store.lock_path("demo", DEV).exists()
    code, out, _ = run("force-unlock", holder.id, config, *where)
    assert code == 0
    assert (
        out
        == f"Released the lock of the state of dev/us-central1 in {folder}, held by {holder.describe()}.\n"
    )
    assert not store.lock_path("demo", DEV).exists()
    code, _, err = run("force-unlock", holder.id, config, *where)
    assert (code, err) == (
        1,
        f"error: the state of dev/us-central1 in {folder} is not locked; nothing to unlock\n",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "dev"], "error: --env and --region name the locked state (or --repo DIR for a deploy"),
        (
            ["--env", "dev", "--region", "us-central1", "--state", "s3://b"],
            "error: s3://b: unsupported state",
        ),
    ],
)
def test_force_unlock_usage_errors(tmp_path: pathlib.Path, args: list[str], message: str) -> None:
    code, _, err = run("force-unlock", "an-id", write(tmp_path, MINIMAL), *args)
    assert code == 1 and err.startswith(message)
