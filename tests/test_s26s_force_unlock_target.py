"""force-unlock of an environment or region the config does not declare is refused, naming those it
does, instead of reporting that the (nonexistent) state "is not locked"."""

from __future__ import annotations

import pathlib

import pytest
from api_helpers import refusal
from helpers import MINIMAL, run, write

from mlopsctl import api
from mlopsctl.config.target import Target
from mlopsctl.state import State
from mlopsctl.state.local import LocalStateStore


@pytest.mark.parametrize(
    ("env", "region", "message"),
    [
        (
            "dev",
            "nope",
            "--region nope: environment dev of {config} has no region nope; it has us-central1; "
            "nothing was unlocked",
        ),
        (
            "prod",
            "europe-west1",
            "--region europe-west1: environment prod of {config} has no region europe-west1; it has "
            "us-central1, europe-west4 (did you mean 'europe-west4'?); nothing was unlocked",
        ),
        (
            "prdo",
            "us-central1",
            "--env prdo: {config} declares no environment prdo; it has dev, prod (did you mean 'prod'?); "
            "nothing was unlocked",
        ),
    ],
)
def test_an_undeclared_target_is_refused_naming_what_the_config_has(
    tmp_path: pathlib.Path, env: str, region: str, message: str
) -> None:
    config = write(tmp_path, MINIMAL)
    found = refusal(lambda: api.force_unlock(config, "an-id", env=env, region=region))
    assert found == message.format(config=config)


def test_the_cli_refuses_an_unknown_region_with_exit_1(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, MINIMAL)
    code, out, err = run("force-unlock", "an-id", config, "--env", "dev", "--region", "nope")
    assert (code, out) == (1, "")
    assert err == (
        f"error: --region nope: environment dev of {config} has no region nope; it has us-central1; "
        "nothing was unlocked\n"
    )


def test_a_target_that_left_the_config_but_has_a_state_can_still_be_unlocked(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, MINIMAL)
    store = LocalStateStore(tmp_path / ".mlopsctl" / "state")
    gone = Target("dev", "asia-east1")
    store.write(State("demo", gone, "acme-demo-dev", None, "sha256:x", {}))
    dead = store.lock("demo", gone, "mlopsctl apply")  # an apply that died holding it (kept referenced)
    holder = dead.__enter__()
    unlocked = api.force_unlock(config, holder.id, env="dev", region="asia-east1")
    assert unlocked.holder == holder
    assert not store.lock_path("demo", gone).exists()
