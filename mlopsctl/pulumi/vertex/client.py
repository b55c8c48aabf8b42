"""Vertex AI REST clients for the providers, and their failures as one-line errors.

Clients are built per call from plain inputs (project, location), never kept on a provider:
Pulumi pickles providers into the state. The API host is the region's,
``{location}-aiplatform.googleapis.com``; the environment variable ``MLOPSCTL_VERTEX_ENDPOINT``
replaces it (``http://127.0.0.1:PORT`` for a local fake, which is then called without
credentials). Otherwise the clients take Application Default Credentials (``google.auth.default()``).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

ENDPOINT_ENV = "MLOPSCTL_VERTEX_ENDPOINT"

TIMEOUT = 1800.0
"""Seconds to wait for a long-running operation (upload, delete, monitor changes)."""
DEPLOY_TIMEOUT = 3600.0
"""Seconds to wait for a model deployment: replicas start, images are pulled."""

C = TypeVar("C")
T = TypeVar("T")


class VertexError(RuntimeError):
    """A Vertex AI call that failed: what was being done, the status, and the server's message."""


def api_endpoint(location: str) -> str:
    return os.environ.get(ENDPOINT_ENV) or f"{location}-aiplatform.googleapis.com"


def client(cls: Callable[..., C], location: str) -> C:
    """A GAPIC client (``aiplatform_v1.ModelServiceClient``, ...) on the REST transport for ``location``."""
    from google.auth.credentials import AnonymousCredentials

    endpoint = api_endpoint(location)
    local = endpoint.startswith("http://")
    credentials = AnonymousCredentials() if local else None  # type: ignore[no-untyped-call]
    return cls(transport="rest", credentials=credentials, client_options={"api_endpoint": endpoint})


def location_path(project: str, location: str) -> str:
    return f"projects/{project}/locations/{location}"


@contextlib.contextmanager
def calling(what: str) -> Iterator[None]:
    """Turns a failed API call inside into a ``VertexError`` that starts with ``what``."""
    from google.api_core import exceptions

    try:
        yield
    except exceptions.GoogleAPICallError as error:
        raise VertexError(f"{what}: {describe(error)}") from error
    except exceptions.RetryError as error:
        raise VertexError(f"{what}: gave up retrying: {error.cause or error}") from error


def describe(error: Exception) -> str:
    """``404 NOT_FOUND: the server's message``, without the request line the REST transport prepends."""
    code = getattr(error, "code", None)
    status = getattr(getattr(error, "grpc_status_code", None), "name", None) or _status(error)
    message = str(getattr(error, "message", error))
    head, separator, rest = message.partition(": ")
    if separator and head.split(" ", 1)[0] in {"GET", "POST", "PATCH", "DELETE", "PUT"}:
        message = rest
    return " ".join(str(part) for part in (code, status) if part) + f": {message}"


def _status(error: Exception) -> str | None:
    """The ``status`` of a REST error's JSON body (``INVALID_ARGUMENT``), where it has one."""
    try:
        status = getattr(error, "response", None).json()["error"]["status"]  # type: ignore[union-attr]
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    return str(status)


def wait(operation: Any, what: str, timeout: float = TIMEOUT) -> Any:
    """The result of a long-running operation, or a ``VertexError`` naming it."""
    with calling(what):
        try:
            return operation.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            name = operation.operation.name
            raise VertexError(f"{what}: not done after {timeout:.0f}s (operation {name})") from None


def missing_ok(call: Callable[[], T], what: str) -> T | None:
    """``call()``, or None when what it names does not exist (any other failure is an error)."""
    from google.api_core import exceptions

    try:
        with calling(what):
            return call()
    except VertexError as error:
        if isinstance(error.__cause__, exceptions.NotFound):
            return None
        raise
