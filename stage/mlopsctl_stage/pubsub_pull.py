"""Pulling Pub/Sub subscriptions in the background, and reading Cloud Monitoring's notifications.

Each subscription is pulled by a thread of its own with unary pulls (``google.pubsub_v1``, REST
transport: alerts are rare, so the streaming pull's throughput buys nothing), and each message is
handed to the subscription's handler: acknowledged when it returns True, refused (its ack deadline set
to 0, so Pub/Sub redelivers it after the subscription's retry backoff) when it returns False or
raises. A failed pull is logged and retried with exponential backoff.

Clients talk to ``pubsub.googleapis.com`` with Application Default Credentials (Workload Identity in
the cluster), or, when ``MLOPSCTL_PUBSUB_ENDPOINT`` names a local stand-in (``http://127.0.0.1:PORT``),
to it with anonymous credentials.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

ENDPOINT_ENV = "MLOPSCTL_PUBSUB_ENDPOINT"
MAX_MESSAGES = 10
PULL_TIMEOUT = 60.0
"""Seconds a pull may wait for messages: Pub/Sub answers one as soon as it has any."""
IDLE = 0.2
"""Seconds between pulls that found nothing (a pull that returns at once must not spin)."""
BACKOFF = (1.0, 60.0)
"""The first and the longest wait after a failed pull."""

Handler = Callable[[bytes], bool]
"""Handles one message's data: True to acknowledge it, False to have it redelivered."""


def client() -> Any:
    """A ``google.pubsub_v1.SubscriberClient`` on the REST transport."""
    from google.pubsub_v1 import SubscriberClient

    override = os.environ.get(ENDPOINT_ENV)
    if override:
        from google.auth.credentials import AnonymousCredentials

        return SubscriberClient(
            transport="rest",
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": override},
        )
    return SubscriberClient(transport="rest")


def incident_state(data: bytes) -> str | None:
    """``open`` or ``closed``: the state of the incident a Cloud Monitoring notification reports (its
    Pub/Sub channel's JSON, schema version 1.2: ``{"incident": {"state", "policy_name", ...},
    "version": "1.2"}``); None for a message that reports no incident, as Model Monitoring's may."""
    try:
        message = json.loads(data)
    except ValueError:
        return None
    incident = message.get("incident") if isinstance(message, dict) else None
    state = incident.get("state") if isinstance(incident, dict) else None
    return state.lower() if isinstance(state, str) else None


def log_event(event: str, **fields: Any) -> None:
    """One JSON line on stdout: what the receiver did, for the cluster's log collector."""
    print(json.dumps({"event": event, **fields}), flush=True)


class Puller:
    """Pulls each subscription in a daemon thread until :meth:`stop`."""

    def __init__(self, handlers: Mapping[str, Handler]) -> None:
        self.handlers = dict(handlers)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Starts the pulls; a client that cannot be made (no library, no credentials) fails here."""
        for subscription, handle in sorted(self.handlers.items()):
            thread = threading.Thread(
                target=self._run,
                args=(client(), subscription, handle),
                name=f"pull {subscription}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Stops pulling; a pull under way is left to end (its messages are redelivered later)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _run(self, subscriber: Any, subscription: str, handle: Handler) -> None:
        from google.api_core.exceptions import DeadlineExceeded
        from requests.exceptions import Timeout  # type: ignore[import-untyped]

        wait = BACKOFF[0]
        while not self._stop.is_set():
            try:
                received = subscriber.pull(
                    subscription=subscription, max_messages=MAX_MESSAGES, timeout=PULL_TIMEOUT
                ).received_messages
            except (DeadlineExceeded, Timeout):
                continue  # nothing arrived while the pull waited
            except Exception as error:  # the API, credentials, the network: the loop must outlive them
                log_event("pull-failed", subscription=subscription, why=str(error), retryIn=wait)
                self._stop.wait(wait)
                wait = min(wait * 2, BACKOFF[1])
                continue
            wait = BACKOFF[0]
            for message in received:
                self._deliver(subscriber, subscription, handle, message)
            if not received:
                self._stop.wait(IDLE)

    @staticmethod
    def _deliver(subscriber: Any, subscription: str, handle: Handler, message: Any) -> None:
        """Hands one message to ``handle``, then acknowledges or refuses it."""
        from google.api_core.exceptions import GoogleAPICallError

        ack_ids = [message.ack_id]
        try:
            handled = handle(message.message.data)
        except Exception as error:  # a handler's bug must not stop the pull: redelivered, logged
            log_event("message-failed", subscription=subscription, why=f"{type(error).__name__}: {error}")
            handled = False
        try:
            if handled:
                subscriber.acknowledge(subscription=subscription, ack_ids=ack_ids)
            else:
                subscriber.modify_ack_deadline(
                    subscription=subscription, ack_ids=ack_ids, ack_deadline_seconds=0
                )
        except (GoogleAPICallError, OSError) as error:  # redelivered once its deadline passes
            log_event("ack-failed", subscription=subscription, why=str(error))
