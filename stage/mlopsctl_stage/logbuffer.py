"""Pairing KServe's request and response events into request-log rows, written in batches.

Everything runs on one asyncio loop: the HTTP handlers :meth:`LogBuffer.offer` events, and
:meth:`LogBuffer.run` writes the finished rows in the background (each batch in a worker thread,
so a slow write never stalls the handlers). Memory is bounded: at most ``max_pending`` events
are held (unpaired, or paired and not yet written); beyond that an event that would add to them
is refused, and the handler answers 503. A failed write is counted and retried with backoff
until it succeeds: rows leave the buffer only once written.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from time import monotonic
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from mlopsctl_stage.features import sampled

REQUEST, RESPONSE = "request", "response"
RETRY_FIRST, RETRY_MAX = 0.2, 30.0
"""Seconds before the first retry of a failed write, doubling up to the second."""
SHUTDOWN_SECONDS = 20.0
"""How long a shutdown keeps retrying the last writes (a pod's grace period is 30 s by default)."""


@dataclass(frozen=True)
class Settings:
    """The request logger's settings (the stage's ``--config``)."""

    endpoint: str
    sampling_rate: float = 1.0
    batch_size: int = 500
    flush_seconds: float = 5.0
    max_pending: int = 10_000
    pair_timeout: float = 60.0
    variants: dict[str, dict[str, str]] = field(default_factory=dict)
    """InferenceService name → ``{"model", "version"}`` it serves."""


@dataclass(frozen=True)
class Event:
    """One CloudEvent from KServe's logger: a request or a response, by the id they share."""

    kind: str
    id: str
    time: datetime
    body: str | None
    """The payload as JSON text."""
    service: str | None = None
    """The InferenceService that served it (``ce-inferenceservicename``)."""
    arrived: float = field(default_factory=monotonic)


class Metrics:
    """The logger's counters, exposed on ``/metrics``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "request_logger_events", "CloudEvents received, by type.", ["type"], registry=registry
        )
        self.sampled_out = Counter(
            "request_logger_sampled_out_events", "Events left out by sampling.", registry=registry
        )
        self.duplicates = Counter(
            "request_logger_duplicate_events",
            "Events whose id and type were already held.",
            registry=registry,
        )
        self.rejected = Counter(
            "request_logger_rejected_events",
            "Events refused with 503 while the buffer was full.",
            registry=registry,
        )
        self.unpaired = Counter(
            "request_logger_unpaired_events",
            "Events written without their request or response, by type.",
            ["type"],
            registry=registry,
        )
        self.rows = Counter("request_logger_rows_written", "Rows written to the table.", registry=registry)
        self.write_failures = Counter(
            "request_logger_write_failures", "Failed batch writes (each is retried).", registry=registry
        )
        self.lost = Counter(
            "request_logger_rows_lost", "Rows still unwritten when shutdown gave up.", registry=registry
        )
        self.held = Gauge("request_logger_held_events", "Events held in memory.", registry=registry)


class LogBuffer:
    def __init__(
        self, settings: Settings, write: Callable[[list[dict[str, Any]]], None], metrics: Metrics
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self._write = write
        self._pending: dict[str, Event] = {}
        """Unpaired events by id, in order of arrival."""
        self._rows: deque[tuple[dict[str, Any], int]] = deque()
        """Rows to write, each with the number of events it holds."""
        self._held = 0
        self._wake = asyncio.Event()
        self._closing = False

    def offer(self, event: Event) -> bool:
        """Take ``event``; False when the buffer is full (the caller answers 503)."""
        self.metrics.events.labels(event.kind).inc()
        if not sampled(event.id, self.settings.sampling_rate):
            self.metrics.sampled_out.inc()
            return True
        other = self._pending.get(event.id)
        if other is not None and other.kind == event.kind:
            self.metrics.duplicates.inc()
            return True
        if other is None and self._held >= self.settings.max_pending:
            self.metrics.rejected.inc()
            return False
        if other is None:
            self._pending[event.id] = event
            self._hold(1)
            return True
        del self._pending[event.id]
        request, response = (other, event) if event.kind == RESPONSE else (event, other)
        self._rows.append((self._row(request, response), 2))
        self._hold(1)
        if len(self._rows) >= self.settings.batch_size:
            self._wake.set()
        return True

    async def run(self) -> None:
        """Write batches until :meth:`close`: when ``batch_size`` rows are ready, or every
        ``flush_seconds``; then what is left, unpaired events included."""
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.flush_seconds)
            self._wake.clear()
            self._expire(monotonic() - self.settings.pair_timeout)
            while self._rows and await self._write_batch():
                if len(self._rows) < self.settings.batch_size:
                    break
        await self._drain()

    def close(self) -> None:
        self._closing = True
        self._wake.set()

    async def _drain(self) -> None:
        self._expire(float("inf"))
        deadline = monotonic() + SHUTDOWN_SECONDS
        while self._rows and await self._write_batch(deadline):
            pass
        if self._rows:
            self.metrics.lost.inc(len(self._rows))
            print(f"request-logger: {len(self._rows)} rows not written before shutdown", file=sys.stderr)

    async def _write_batch(self, deadline: float | None = None) -> bool:
        """Write the oldest rows, retrying with backoff; False if still failing at ``deadline``, or
        at a shutdown (without one)."""
        batch = [row for row, _ in itertools.islice(self._rows, self.settings.batch_size)]
        delay = RETRY_FIRST
        while True:
            try:
                await asyncio.to_thread(self._write, batch)
                break
            except Exception as error:  # any failure of the table's client: retried, never dropped
                self.metrics.write_failures.inc()
                print(
                    f"request-logger: writing {len(batch)} rows failed, will retry: {error}", file=sys.stderr
                )
                give_up = self._closing if deadline is None else monotonic() + delay > deadline
                if give_up:
                    return False
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
        for _ in batch:
            _, events = self._rows.popleft()
            self._hold(-events)
        self.metrics.rows.inc(len(batch))
        return True

    def _expire(self, before: float) -> None:
        """Unpaired events that arrived before ``before`` become rows of their own."""
        expired = list(itertools.takewhile(lambda e: e.arrived <= before, self._pending.values()))
        for event in expired:
            del self._pending[event.id]
            self.metrics.unpaired.labels(event.kind).inc()
            pair = (event, None) if event.kind == REQUEST else (None, event)
            self._rows.append((self._row(*pair), 1))

    def _row(self, request: Event | None, response: Event | None) -> dict[str, Any]:
        """A row of the request log (``mlopsctl.compiler.bigquery.REQUEST_LOG``)."""
        first = request or response
        assert first is not None
        variant = self.settings.variants.get(first.service or "", {})
        latency = None
        if request is not None and response is not None:
            latency = (response.time - request.time).total_seconds() * 1000
        return {
            "timestamp": first.time,
            "request_id": first.id,
            "endpoint": self.settings.endpoint,
            "variant": first.service,
            "model": variant.get("model"),
            "model_version": variant.get("version"),
            "request": request.body if request else None,
            "response": response.body if response else None,
            "latency_ms": latency,
            # KServe's logger sends a response only for a 200 answer.
            "status": 200 if response is not None else None,
        }

    def _hold(self, change: int) -> None:
        self._held += change
        self.metrics.held.set(self._held)


def json_text(payload: bytes) -> str | None:
    """The payload as JSON text for a JSON column: as sent when it is JSON, else as a JSON string."""
    if not payload:
        return None
    text = payload.decode("utf-8", errors="replace")
    try:
        json.loads(text)
    except ValueError:
        return json.dumps(text)
    return text
