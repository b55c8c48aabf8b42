"""Lock records: who holds a lock, as the JSON kept in a lock file or object."""

from __future__ import annotations

import datetime
import getpass
import json
import socket
import uuid
from dataclasses import asdict

from mlopsctl.state.store import LockInfo, StateStoreError


def new_lock(operation: str) -> LockInfo:
    """A lock record for this process: a fresh id, ``user@host``, and the time (UTC)."""
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    return LockInfo(str(uuid.uuid4()), f"{_user()}@{socket.gethostname()}", operation, now.isoformat())


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in the environment nor the password database
        return "unknown"


def dump_lock(info: LockInfo) -> str:
    return json.dumps(asdict(info), sort_keys=True) + "\n"


def parse_lock(text: str, where: str) -> LockInfo:
    """The record of a lock file or object; ``where`` names it in errors."""
    try:
        doc = json.loads(text)
        return LockInfo(**{k: _text(doc[k]) for k in ("id", "who", "operation", "created")})
    except (ValueError, TypeError, KeyError):
        raise StateStoreError(
            f"{where} is not a lock written by mlopsctl; if no apply is running, delete it"
        ) from None


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def check_id(info: LockInfo, lock_id: str, what: str) -> None:
    """Refuse to release a lock by the id of another: force-unlock must name the lock it breaks."""
    if info.id != lock_id:
        raise StateStoreError(
            f"{what} is locked by {info.describe()}, not by lock {lock_id}; "
            f"nothing was unlocked (check the id the failed apply printed)"
        )
