"""mlops.lock is read only from the config's folder: a link that leads out of it (to a credentials
file, whose keys and values would come back in error messages or as pins in plans) is refused
unread, and an unreadable lock gets a hint about the lock, not about mlops.yaml."""

from __future__ import annotations

import os
import pathlib

from helpers import MINIMAL, run, write

from mlopsctl import api

SECRET = "environments:\n  prod:\n    us-central1:\n      password: HOST-SECRET-VALUE\n"


def test_a_lock_linked_out_of_the_project_is_refused_unread(tmp_path: pathlib.Path) -> None:
    host = tmp_path / "host" / "credentials.yaml"
    host.parent.mkdir()
    host.write_text(SECRET)
    config = write(tmp_path / "ml", MINIMAL)
    (tmp_path / "ml" / "mlops.lock").symlink_to(host)
    with api.open_config(config) as validation:
        errors = [d.to_text() for d in validation.diagnostics]
    assert errors == [
        f"{tmp_path}/ml/mlops.lock:1:1: error E101: {tmp_path}/ml/mlops.lock links outside the folder of the "
        f"config (to {host}), so it is not read\n"
        "  hint: put the lock file itself beside the config, not a link to it (mlopsctl promote writes it)"
    ]
    code, out, err = run("plan", config)
    assert (code, out) == (1, "")
    assert "HOST-SECRET-VALUE" not in err and "password" not in err


def test_a_lock_linked_inside_the_project_is_read(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path / "ml", MINIMAL)
    (tmp_path / "ml" / "locks").mkdir()
    (tmp_path / "ml" / "locks" / "mlops.lock").write_text("lockVersion: 1\nenvironments: {}\n")
    (tmp_path / "ml" / "mlops.lock").symlink_to(pathlib.Path("locks", "mlops.lock"))
    with api.open_config(config) as validation:
        assert [d.to_text() for d in validation.diagnostics] == []


def test_a_lock_that_is_a_fifo_gets_a_hint_about_the_lock(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path / "ml", MINIMAL)
    os.mkfifo(tmp_path / "ml" / "mlops.lock")
    with api.open_config(config) as validation:
        [error] = [d.to_text() for d in validation.diagnostics]
    assert error == (
        f"{tmp_path}/ml/mlops.lock:1:1: error E101: cannot read {tmp_path}/ml/mlops.lock: it is a FIFO, "
        "not a regular file\n  hint: mlops.lock is written by 'mlopsctl promote': make it a regular file, "
        "or delete it to pin nothing"
    )


def test_a_lock_link_that_leads_nowhere_is_a_located_error(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, MINIMAL)
    (tmp_path / "mlops.lock").symlink_to(tmp_path / "mlops.lock")  # a loop
    code, _, err = run("validate", config)
    assert code == 1 and "Traceback" not in err
    assert (
        f"{tmp_path}/mlops.lock:1:1: error E101: {tmp_path}/mlops.lock is a link that leads to no file" in err
    )


def test_an_empty_lock_is_told_how_to_recover(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, MINIMAL)
    (tmp_path / "mlops.lock").write_text("")
    code, _, err = run("validate", config)
    assert code == 1
    assert "mlops.lock:1:1: error E109" in err
    assert "hint: mlops.lock is written by 'mlopsctl promote': restore it from Git, or delete it" in err
