"""``request-logger``: receive KServe's logger CloudEvents and append one row per request to its table.

KServe's logger posts each request and each (200) response as a CloudEvent in HTTP binary mode:
the payload is the body, the attributes are headers (``ce-id``, shared by a request and its
response, ``ce-type``, ``ce-time``, and the extensions ``ce-inferenceservicename``,
``ce-namespace``, ``ce-component``, ``ce-endpoint``). The stage pairs them by ``ce-id`` in
:class:`~mlopsctl_stage.logbuffer.LogBuffer` and writes the rows through
:func:`mlopsctl_stage.storage.append_rows`. ``GET /metrics`` serves its counters in Prometheus'
text format, ``GET /healthz`` answers 200 while it runs.

Config: ``table``, ``endpoint``, ``samplingRate``, and optionally ``batchSize``, ``flushSeconds``,
``maxPending``, ``pairTimeoutSeconds`` and ``variants`` (InferenceService name → ``{"model",
"version"}``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from mlopsctl_stage import storage
from mlopsctl_stage.errors import StageError
from mlopsctl_stage.logbuffer import REQUEST, RESPONSE, Event, LogBuffer, Metrics, Settings, json_text

EVENT_TYPES = {
    "org.kubeflow.serving.inference.request": REQUEST,
    "org.kubeflow.serving.inference.response": RESPONSE,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8080, help="The port to listen on (default 8080).")
    parser.add_argument("--host", default="0.0.0.0", help="The address to listen on (default all).")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    import uvicorn

    table = _required(config, "table")
    app = create_app(settings(config), lambda rows: storage.append_rows(table, rows))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


def settings(config: dict[str, Any]) -> Settings:
    """The logger's settings from its config, each checked."""
    defaults = Settings(endpoint="")
    variants = config.get("variants") or {}
    if not isinstance(variants, dict) or not all(isinstance(v, dict) for v in variants.values()):
        raise StageError("variants", 'must map InferenceService names to {"model", "version"}')
    return Settings(
        endpoint=_required(config, "endpoint"),
        sampling_rate=_number(config, "samplingRate", defaults.sampling_rate, upper=1.0),
        batch_size=int(_number(config, "batchSize", defaults.batch_size, integer=True)),
        flush_seconds=_number(config, "flushSeconds", defaults.flush_seconds),
        max_pending=int(_number(config, "maxPending", defaults.max_pending, integer=True)),
        pair_timeout=_number(config, "pairTimeoutSeconds", defaults.pair_timeout),
        variants={str(k): {str(a): str(b) for a, b in v.items()} for k, v in variants.items()},
    )


def _required(config: dict[str, Any], key: str) -> str:
    value = config.get(key)
    if not isinstance(value, str) or not value:
        raise StageError(key, "missing from --config")
    return value


def _number(
    config: dict[str, Any], key: str, default: float, *, upper: float | None = None, integer: bool = False
) -> float:
    value = config.get(key, default)
    kinds = int if integer else int | float
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0 or (upper and value > upper):
        bound = f"in (0, {upper:g}]" if upper else "above 0"
        raise StageError(key, f"must be {'an integer' if integer else 'a number'} {bound}, not {value!r}")
    return float(value)


def create_app(settings: Settings, write: Callable[[list[dict[str, Any]]], None]) -> Starlette:
    """The logger's ASGI app; its buffer writes through ``write`` from startup until shutdown."""
    registry = CollectorRegistry()
    buffer = LogBuffer(settings, write, Metrics(registry))

    async def receive(request: Request) -> Response:
        kind = EVENT_TYPES.get(request.headers.get("ce-type", ""))
        event_id = request.headers.get("ce-id")
        if kind is None or not event_id:
            return PlainTextResponse(
                "expected a KServe inference CloudEvent in binary mode (ce-id, ce-type headers)\n", 400
            )
        event = Event(
            kind=kind,
            id=event_id,
            time=_time(request.headers.get("ce-time")),
            body=json_text(await request.body()),
            service=request.headers.get("ce-inferenceservicename"),
        )
        if not buffer.offer(event):
            return PlainTextResponse("buffer full, retry later\n", 503, headers={"Retry-After": "1"})
        return Response(status_code=200)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        writer = asyncio.create_task(buffer.run())
        try:
            yield
        finally:
            buffer.close()
            await writer

    return Starlette(
        routes=[
            Route("/metrics", metrics, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/{path:path}", receive, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


def _time(text: str | None) -> datetime:
    """A CloudEvent's ``time`` (RFC 3339), or now when it has none."""
    if text:
        with contextlib.suppress(ValueError):
            found = datetime.fromisoformat(text)
            return found if found.tzinfo else found.replace(tzinfo=UTC)
    return datetime.now(UTC)
