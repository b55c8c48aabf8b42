"""``retrain-receiver``: an Alertmanager webhook receiver that starts the retraining runs SLO alerts ask for.

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

Config: ``{"namespace": NS?, "retrain": {MONITOR: {PIPELINE: START_RUN_CONFIG}}}``.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from dataclasses import dataclass
from types import FrameType
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from mlopsctl_stage import runs
from mlopsctl_stage.errors import StageError

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

    def __init__(self, namespace: str | None, retrain: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.namespace = namespace
        self.retrain = retrain
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
        return cls(namespace, retrain)

    def handle(self, payload: Any) -> tuple[int, list[Result]]:
        """The HTTP status and the result of each alert of an Alertmanager payload."""
        alerts = _alerts(payload)
        with self._lock:
            results: list[Result] = []
            done: dict[str, Result] = {}  # pipeline → what this payload did: alerts may share one
            for alert in alerts:
                results.append(self._one(alert, done))
        for result in results:
            print(json.dumps({"event": f"retrain-{result.outcome}", **result.to_json()}), flush=True)
        return (502 if any(r.outcome == "failed" for r in results) else 200), results

    def _one(self, alert: dict[str, Any], done: dict[str, Result]) -> Result:
        labels = alert["labels"]
        monitor, pipeline = labels.get("monitor"), labels.get("retrain_pipeline")
        entry = self.retrain.get((monitor, pipeline))
        if entry is None or (self.namespace is not None and labels.get("namespace") != self.namespace):
            return Result("ignored", monitor, pipeline, why="no such monitor and pipeline in this namespace")
        if alert.get("status") != "firing":
            return Result("resolved", monitor, pipeline)
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
    """The receiver's ASGI app: ``POST /alerts`` and ``GET /healthz``."""

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
        routes=[Route(PATH, alerts, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])]
    )
