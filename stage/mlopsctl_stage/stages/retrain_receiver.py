"""``retrain-receiver``: starts the retraining runs that SLO alerts of Alertmanager, and the notifications
of monitors on Vertex AI pulled from Pub/Sub, ask for.

Alertmanager POSTs its webhook payload (version 4: ``status``, ``alerts[]`` each with ``status``,
``labels``, ``startsAt``, ``fingerprint``, and ``groupLabels``, ``commonLabels``) to ``/alerts``. Each
*firing* alert whose ``monitor`` and ``retrain_pipeline`` labels (and ``namespace``, when the config
names one) match an entry of the config starts one run of that entry, a ``start-run`` config on either
backend (:mod:`mlopsctl_stage.runs`), unless the pipeline has a run that is not over yet: at most one
run per pipeline at a time, however often Alertmanager repeats the alert. Alerts are handled one
payload at a time, so two deliveries cannot both start a run.

Answers: 200 with one result per alert (``started``, ``running``: a run is not over yet, ``resolved``
and ``ignored``: an alert of no configured monitor and pipeline, logged and left alone: the route may
carry other alerts); 400 for a payload that is not Alertmanager's; 502 when a backend refused or could
not be reached, which Alertmanager retries (a retry starts nothing twice: the first run is active).
``GET /healthz`` answers 200 while the server runs; SIGTERM stops it gracefully, exit 0.

While it serves, it also pulls each subscription of ``subscriptions`` (:mod:`mlopsctl_stage.pubsub_pull`),
each the subscription of one monitor's Cloud Monitoring notification channel: a message that reports
an incident that closed starts nothing; any other (an incident that opened, or a notification of Model
Monitoring) starts one run of each of the monitor's pipelines, as a firing alert does. The message is
acknowledged once handled, and redelivered when a backend failed.

Config: ``{"namespace": NS?, "retrain": {MONITOR: {PIPELINE: START_RUN_CONFIG}},
"subscriptions": {"projects/P/subscriptions/S": MONITOR}?}``.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from types import FrameType
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from mlopsctl_stage import runs
from mlopsctl_stage.errors import StageError
from mlopsctl_stage.pubsub_pull import Puller, incident_state, log_event

PATH = "/alerts"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8080, help="The port to listen on (default 8080).")
    parser.add_argument("--host", default="0.0.0.0", help="The address to listen on (default all).")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    import uvicorn

    # uvicorn stops gracefully on SIGTERM, then raises it again under the handler it found: exit 0.
    signal.signal(signal.SIGTERM, _exit)
    uvicorn.run(create_app(Receiver.from_config(config)), host=args.host, port=args.port, log_level="warning")


def _exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


@dataclass(frozen=True)
class Result:
    """What became of one alert of a payload."""

    outcome: str
    monitor: str | None
    pipeline: str | None
    run: str | None = None
    why: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class Receiver:
    """Starts the run of a monitor's pipeline when its alert fires, unless one is not over yet."""

    def __init__(
        self,
        namespace: str | None,
        retrain: dict[tuple[str, str], dict[str, Any]],
        subscriptions: dict[str, str] | None = None,
    ) -> None:
        self.namespace = namespace
        self.retrain = retrain
        self.subscriptions = subscriptions or {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Receiver:
        """The receiver of ``config``, every run target checked now (a bad one fails at startup)."""
        namespace = config.get("namespace")
        if namespace is not None and (not isinstance(namespace, str) or not namespace):
            raise StageError("namespace", "must be a non-empty string")
        monitors = config.get("retrain")
        if not isinstance(monitors, dict) or not all(isinstance(p, dict) for p in monitors.values()):
            raise StageError("retrain", "must map monitors to {PIPELINE: start-run config}")
        retrain: dict[tuple[str, str], dict[str, Any]] = {}
        for monitor, pipelines in monitors.items():
            for pipeline, entry in pipelines.items():
                runs.from_config(entry, subject=f"retrain.{monitor}.{pipeline}")
                retrain[(monitor, pipeline)] = entry
        subscriptions = config.get("subscriptions", {})
        if not isinstance(subscriptions, dict):
            raise StageError("subscriptions", "must map subscriptions to the monitor each notifies")
        for subscription, monitor in subscriptions.items():
            if not isinstance(monitor, str) or not monitors.get(monitor):
                raise StageError(f"subscriptions.{subscription}", f"names no monitor of retrain: {monitor!r}")
        return cls(namespace, retrain, subscriptions)

    def handle(self, payload: Any) -> tuple[int, list[Result]]:
        """The HTTP status and the result of each alert of an Alertmanager payload."""
        alerts = _alerts(payload)
        with self._lock:
            results: list[Result] = []
            done: dict[str, Result] = {}  # pipeline → what this payload did: alerts may share one
            for alert in alerts:
                results.append(self._one(alert, done))
        _log(results)
        return (502 if any(r.outcome == "failed" for r in results) else 200), results

    def notified(self, monitor: str, data: bytes) -> bool:
        """Handles a notification of ``monitor`` pulled from Pub/Sub: True to acknowledge it, False when
        a backend failed (it is redelivered: a retry starts nothing twice)."""
        pipelines = sorted((p, entry) for (m, p), entry in self.retrain.items() if m == monitor)
        closed = incident_state(data) == "closed"
        with self._lock:
            done: dict[str, Result] = {}
            results = [
                Result("resolved", monitor, p) if closed else self._start(monitor, p, entry, done)
                for p, entry in pipelines
            ]
        _log(results)
        return all(r.outcome != "failed" for r in results)

    def _one(self, alert: dict[str, Any], done: dict[str, Result]) -> Result:
        labels = alert["labels"]
        monitor, pipeline = labels.get("monitor"), labels.get("retrain_pipeline")
        entry = self.retrain.get((monitor, pipeline))
        if entry is None or (self.namespace is not None and labels.get("namespace") != self.namespace):
            return Result("ignored", monitor, pipeline, why="no such monitor and pipeline in this namespace")
        if alert.get("status") != "firing":
            return Result("resolved", monitor, pipeline)
        return self._start(monitor, pipeline, entry, done)

    def _start(self, monitor: str, pipeline: str, entry: dict[str, Any], done: dict[str, Result]) -> Result:
        """One run of ``entry`` unless the pipeline has one not over, or this delivery started it."""
        if pipeline in done:
            return done[pipeline]
        target = runs.from_config(entry, subject=f"retrain.{monitor}.{pipeline}")
        try:
            active = target.active_run()
            if active is not None:
                result = Result("running", monitor, pipeline, run=active)
            else:
                result = Result("started", monitor, pipeline, run=target.start().run_id)
        except StageError as error:
            result = Result("failed", monitor, pipeline, why=str(error))
        done[pipeline] = result
        return result


def _log(results: list[Result]) -> None:
    for result in results:
        log_event(f"retrain-{result.outcome}", **result.to_json())


def _alerts(payload: Any) -> list[dict[str, Any]]:
    """The alerts of a webhook payload, each with a ``labels`` object of strings."""
    alerts = payload.get("alerts") if isinstance(payload, dict) else None
    if not isinstance(alerts, list):
        raise StageError("payload", "not an Alertmanager webhook payload (no alerts list)")
    for index, alert in enumerate(alerts):
        labels = alert.get("labels") if isinstance(alert, dict) else None
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise StageError(f"alerts[{index}].labels", "must be an object of strings")
    return alerts


def create_app(receiver: Receiver) -> Starlette:
    """The receiver's ASGI app: ``POST /alerts`` and ``GET /healthz``; it pulls the receiver's
    subscriptions while it serves."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        puller = Puller({s: partial(receiver.notified, m) for s, m in receiver.subscriptions.items()})
        puller.start()
        try:
            yield
        finally:
            puller.stop()

    async def alerts(request: Request) -> Response:
        try:
            payload = json.loads(await request.body())
            status, results = await run_in_threadpool(receiver.handle, payload)
        except (ValueError, StageError) as error:
            return PlainTextResponse(f"{error}\n", 400)
        return JSONResponse({"results": [r.to_json() for r in results]}, status)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    return Starlette(
        routes=[Route(PATH, alerts, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])],
        lifespan=lifespan,
    )
