"""What the fake Vertex AI keeps, its long-running operations, and the errors it answers with."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

PROJECT_NUMBER = "123456789012"
_CODES = {
    "INVALID_ARGUMENT": (400, 3),
    "FAILED_PRECONDITION": (400, 9),
    "PERMISSION_DENIED": (403, 7),
    "NOT_FOUND": (404, 5),
    "ALREADY_EXISTS": (409, 6),
    "UNAUTHENTICATED": (401, 16),
}
V1_TYPE = "type.googleapis.com/google.cloud.aiplatform.v1."
_EMPTY = "type.googleapis.com/google.protobuf.Empty"
LOCATION = r"projects/[^/]+/locations/[^/]+"


class ApiError(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Call:
    route: str
    method: str
    raw: str
    """The path as requested: ``/ui/`` prefix and ``%40`` as sent."""
    path: str
    query: dict[str, str]
    body: dict[str, Any]


@dataclass
class VertexState:
    """What the fake Vertex AI holds: its resources, the calls it got, the failures it is told to answer."""

    url: str = ""
    models: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """Model name → version id → the version (a Model in JSON)."""
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    monitors: dict[str, dict[str, Any]] = field(default_factory=dict)
    schedules: dict[str, dict[str, Any]] = field(default_factory=dict)
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    pipeline_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Name → the PipelineJob as created (the request's body, with its name and state)."""
    metadata_stores: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Name (with the project number) → the MetadataStore, as Vertex AI made it (``add_metadata_store``)."""
    calls: list[Call] = field(default_factory=list)
    pending_polls: int = 0
    """How many polls a new operation answers 'not done' before it is done."""
    _failures: list[tuple[str, str, str, bool, str | None]] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1001))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _operation(self, resource: str, response: Any = None, *, error: Any = None) -> dict[str, Any]:
        name = f"{resource}/operations/{next(self._ids)}"
        done: dict[str, Any] = {"name": name, "done": True}
        if error is not None:
            done["error"] = {"code": _CODES[error[0]][1], "message": error[1]}
        else:
            done["response"] = response or {"@type": _EMPTY}
        self.operations[name] = {"polls": self.pending_polls, "done": done}
        return done if not self.pending_polls else {"name": name, "done": False}

    def _get_operation(self, name: str, **_: Any) -> dict[str, Any]:
        operation = self.operations.get(name) or refuse("NOT_FOUND", name)
        operation["polls"] -= 1
        return operation["done"] if operation["polls"] < 0 else {"name": name, "done": False}


def canonical(name: str) -> str:
    """A resource name with the project number, as Vertex AI answers with."""
    return re.sub(r"^projects/[^/]+/", f"projects/{PROJECT_NUMBER}/", name)


def refuse(status: str, message: str) -> Any:
    raise ApiError(status, message)


def error_answer(status: str, message: str, reason: str | None = None) -> tuple[int, dict[str, Any]]:
    """Google's error body; with ``reason`` (``SERVICE_DISABLED``), the ErrorInfo detail that names it."""
    code = _CODES[status][0]
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if reason is not None:
        info = {
            "reason": reason,
            "domain": "googleapis.com",
            "metadata": {"service": "aiplatform.googleapis.com"},
        }
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", **info}]
    return code, {"error": error}
