"""Force-unlock of a state store's lock (``api.force_unlock``; a deploy repository's: test_gitops_locks.py),
and what ``mlopsctl force-unlock`` prints and exits with."""

from __future__ import annotations

import pathlib
import shlex

import pytest
from api_helpers import refusal
from helpers import MINIMAL, run, write
from states import DEV

from mlopsctl import api
from mlopsctl.state.local import LocalStateStore


def _unlock(config: pathlib.Path, lock_id: str, state: str | None) -> api.Unlocked:
    return api.force_unlock(config, lock_id, env="dev", region="us-central1", state=state)


@pytest.mark.parametrize("flag", [None, "path", "file-url"])
def test_force_unlock_releases_only_the_named_lock(tmp_path: pathlib.Path, flag: str | None) -> None:
    config = write(tmp_path / "ml", MINIMAL)
    folder = tmp_path / "ml" / ".mlopsctl" / "state" if flag is None else tmp_path / "shared state"
    state = {None: None, "path": str(folder), "file-url": folder.as_uri()}[flag]
    store = LocalStateStore(folder)
    dead = store.lock("demo", DEV, "mlopsctl apply")  # an apply that died holding it (kept referenced)
    holder = dead.__enter__()

    assert refusal(lambda: _unlock(config, "wrong-id", state)) == (
        f"the state of dev/us-central1 in {folder} is locked by {holder.describe()}, "
        "not by lock wrong-id; nothing was unlocked (check the id the failed apply printed)"
    )
    assert store.lock_path("demo", DEV).exists()
    unlocked = _unlock(config, holder.id, state)
    assert (unlocked.what, unlocked.holder) == (f"the state of dev/us-central1 in {folder}", holder)
    assert not store.lock_path("demo", DEV).exists()
    assert refusal(lambda: _unlock(config, holder.id, state)) == (
        f"the state of dev/us-central1 in {folder} is not locked; nothing to unlock"
    )


@pytest.mark.parametrize(
    ("region", "state", "message"),
    [
        (None, None, "--env and --region name the locked state (or --repo DIR for a deploy"),
        ("us-central1", "s3://b", "s3://b: unsupported state"),
    ],
)
def test_force_unlock_names_one_state(
    tmp_path: pathlib.Path, region: str | None, state: str | None, message: str
) -> None:
    config = write(tmp_path, MINIMAL)
    found = refusal(lambda: api.force_unlock(config, "an-id", env="dev", region=region, state=state))
    assert found.startswith(message)


def test_cli_force_unlock_prints_what_it_released_and_exits_1_when_refused(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, MINIMAL)
    dead = LocalStateStore(tmp_path / ".mlopsctl" / "state").lock("demo", DEV, "mlopsctl apply")
    holder = dead.__enter__()
    where = ("--env", "dev", "--region", "us-central1")
    code, out, err = run("force-unlock", holder.id, config, *where)
    assert (code, err) == (0, "")
    assert out.startswith("Released the lock of the state of dev/us-central1 in ") and out.endswith(
        f", held by {holder.describe()}.\n"
    )
    code, out, err = run("force-unlock", holder.id, config, *where)
    assert (code, out) == (1, "")
    assert err.startswith("error: the state of dev/us-central1 in ") and err.endswith(
        " is not locked; nothing to unlock\n"
    )


def test_a_refused_apply_prints_a_force_unlock_that_finds_the_same_store(tmp_path: pathlib.Path) -> None:
    """The command to paste names the config and ``--state`` as the apply was given them."""
    from kubefake import write_kubeconfig

    config = write(tmp_path / "ml", MINIMAL)
    folder = tmp_path / "shared state"
    dead = LocalStateStore(folder).lock("demo", DEV, "mlopsctl apply")
    holder = dead.__enter__()
    spec = api.TargetSpec(
        api.TargetKind.kubernetes,
        kubeconfig=str(write_kubeconfig(tmp_path, context="c")),
        context="c",
        state=folder.as_uri(),
    )
    dev = api.Selection(("dev",), ("us-central1",))
    with api.open_config(config, selection=dev) as validation:
        message = refusal(lambda: api.apply(validation, config, dev, spec))
    command = f"mlopsctl force-unlock {holder.id} {shlex.quote(str(config))} --state {folder.as_uri()}"
    assert message.endswith(f"run '{command} --env dev --region us-central1'")
    code, _, err = run(*shlex.split(message.rpartition("run ")[2].strip("'"))[1:])
    assert (code, err) == (0, "") and not LocalStateStore(folder).lock_path("demo", DEV).exists()
