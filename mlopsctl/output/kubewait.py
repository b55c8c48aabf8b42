"""Waiting for what a cluster is not ready for yet, within bounds.

- A request the API server refuses for a passing reason is retried with capped exponential
  backoff, for at most ``RETRY_BUDGET`` seconds in all (a dry run's objects share one budget):
  an admission or conversion webhook that is not serving yet (its add-on's pods are starting:
  ``500 InternalError``, *failed calling webhook … connection refused*, *no endpoints available
  for service …*, *context deadline exceeded*), throttling (``429``, whose ``Retry-After`` is honoured) and an
  unavailable or overloaded server (``503``, ``504``). Other refusals fail at once, and so does
  any webhook's denial (*denied the request*) or a conversion webhook's refusal, whatever status
  it carries: those are answers, not an absence.
- A CustomResourceDefinition just applied is waited for, at most ``CRD_TIMEOUT`` seconds,
  until its conditions ``NamesAccepted`` and ``Established`` are ``True`` and the API
  server's discovery serves its kind in every served version: until then a real server
  answers 404 to its custom resources.

The clock and sleeping are a :class:`Clock`, so tests wait no real time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mlopsctl.graph import JSON

RETRY_BUDGET = 120.0
"""Seconds a transient refusal is retried for, in all, before the request fails."""
FIRST_DELAY = 1.0
MAX_DELAY = 16.0
"""The backoff between retries: 1, 2, 4, 8, 16, 16… seconds (unless the server says how long)."""
CRD_TIMEOUT = 60.0
"""Seconds a CustomResourceDefinition may take to be established and served."""
POLL_INTERVAL = 1.0
"""Seconds between two looks at a CustomResourceDefinition that is not established yet."""

_T = TypeVar("_T")

WEBHOOK_DOWN = (
    "no endpoints available for service",
    "connection refused",
    "context deadline exceeded",
    "i/o timeout",
    "x509: certificate signed by unknown authority",
)
"""What the API server says when a webhook it called did not answer: its pods are not ready, or its
certificate is not yet injected. Only such a failure of a webhook call is transient."""
DENIED = "denied the request"
"""A webhook's answer: it refused the object, whatever status it chose (never retried)."""


@dataclass(frozen=True)
class Clock:
    """Monotonic seconds and sleeping: the seam tests replace."""

    now: Callable[[], float] = field(default=time.monotonic)
    sleep: Callable[[float], None] = field(default=time.sleep)


REAL_CLOCK = Clock()


class RequestError(Exception):
    """The API server refused one request; ``message`` is its own words."""

    def __init__(
        self, status: int, message: str, details: Mapping[str, JSON], retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.retry_after = retry_after
        """Seconds the server asks to wait before trying again (``Retry-After``), if it says."""


def transient(exc: RequestError) -> str | None:
    """Why ``exc`` may pass if the request is sent again, or None if it will not. A webhook's denial,
    and a conversion webhook's refusal to convert, are its answers and never pass."""
    if DENIED in exc.message:
        return None
    if exc.status == 429:
        return "the API server is throttling requests"
    if exc.status in (503, 504):
        return "the API server is unavailable or overloaded"
    if exc.status == 500 and "webhook" in exc.message and any(m in exc.message for m in WEBHOOK_DOWN):
        return "a webhook is not serving: check that the pods of the add-on that runs it are ready"
    return None


@dataclass
class Budget:
    """Seconds of retrying that requests may still spend: each request gets its own, and a dry run
    shares one among all its objects, so a webhook that stays down costs it ``RETRY_BUDGET`` once, not
    once per object."""

    seconds: float = RETRY_BUDGET
    scope: str = "request"
    """What the budget is for, as the message of a refusal names it."""
    left: float = field(init=False)

    def __post_init__(self) -> None:
        self.left = self.seconds


def retrying(request: Callable[[], _T], clock: Clock, budget: Budget | None = None) -> _T:
    """``request()``, sent again while the server refuses it for a passing reason, while ``budget``
    (a fresh one if None) lasts; the last refusal, saying how it was retried, when it is spent."""
    budget = budget if budget is not None else Budget()
    start = mark = clock.now()
    delay = FIRST_DELAY
    attempts = 0
    while True:
        try:
            found = request()
        except RequestError as exc:
            attempts += 1
            why = transient(exc)
            if why is None:
                raise
            now = clock.now()
            budget.left -= now - mark
            mark = now
            wait = exc.retry_after if exc.retry_after is not None else min(delay, budget.left)
            if budget.left <= 0 or wait > budget.left:
                asked = wait if wait > budget.left else None
                raise _gave_up(exc, why, attempts, now - start, budget, asked) from None
            clock.sleep(wait)
            delay = min(delay * 2, MAX_DELAY)
        else:
            if attempts:
                budget.left -= clock.now() - mark
            return found


def _gave_up(
    exc: RequestError, why: str, attempts: int, seconds: float, budget: Budget, asked: float | None
) -> RequestError:
    tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
    waited = f" and asked to wait {asked:.0f}s more" if asked is not None else ""
    message = (
        f"{exc.message} (the API server answered {exc.status} to {tries} over {seconds:.0f}s{waited}, "
        f"retried with backoff for at most {budget.seconds:.0f}s per {budget.scope}: {why})"
    )
    return RequestError(exc.status, message, exc.details)


def retry_after(headers: Any, details: Mapping[str, JSON]) -> float | None:
    """The seconds of a ``Retry-After`` header (or of the Status's ``details.retryAfterSeconds``)."""
    found = None
    if headers:
        found = next((v for k, v in dict(headers).items() if str(k).lower() == "retry-after"), None)
    found = found if found is not None else details.get("retryAfterSeconds")
    try:
        seconds = float(str(found))
    except ValueError:
        return None  # absent, or an HTTP date (the API server sends seconds)
    return max(seconds, 0.0) if math.isfinite(seconds) else None


class NotEstablished(Exception):
    """A CustomResourceDefinition was not established and served in time, or cannot be: ``problem``
    says what the server reports, ``remedy`` what to do."""

    def __init__(self, problem: str, remedy: str) -> None:
        super().__init__(f"{problem}: {remedy}")
        self.problem = problem
        self.remedy = remedy


def served_versions(crd: Mapping[str, Any]) -> list[str]:
    """The ``group/version`` of every version a CustomResourceDefinition serves."""
    spec = crd["spec"]
    return [f"{spec['group']}/{v['name']}" for v in spec.get("versions") or [] if v.get("served", True)]


def wait_established(
    crd: Mapping[str, Any],
    read: Callable[[], Mapping[str, Any] | None],
    serves: Callable[[str], bool],
    clock: Clock,
    timeout: float = CRD_TIMEOUT,
) -> None:
    """Poll ``read()`` (the CRD as the server has it) until it is established, then ``serves(group/version)``
    (discovery) until every served version of its kind is served; :class:`NotEstablished` past ``timeout``."""
    name, kind = crd["metadata"]["name"], crd["spec"]["names"]["kind"]
    deadline = clock.now() + timeout
    conditions: dict[str, Mapping[str, Any]] = {}
    while True:
        found = read()
        conditions = _conditions(found)
        names = conditions.get("NamesAccepted", {})
        if names.get("status") == "False":
            raise NotEstablished(
                f"the API server does not accept the names of CustomResourceDefinition {name} "
                f"({_shown(conditions)})",
                "rename its kind or plural so that no other CustomResourceDefinition of the group uses them",
            )
        if all(conditions.get(c, {}).get("status") == "True" for c in ("NamesAccepted", "Established")):
            break
        if clock.now() >= deadline:
            raise NotEstablished(
                f"CustomResourceDefinition {name} is not established after {timeout:.0f}s "
                f"({_shown(conditions) if found else 'it is not on the server'})",
                f"see why in its conditions ('kubectl get customresourcedefinition {name} -o yaml'), "
                "then apply again",
            )
        clock.sleep(POLL_INTERVAL)
    missing = served_versions(crd)
    while True:
        missing = [v for v in missing if not serves(v)]
        if not missing:
            return
        if clock.now() >= deadline:
            raise NotEstablished(
                f"CustomResourceDefinition {name} is established, but the API server's discovery does not "
                f"serve {kind} of {', '.join(missing)} after {timeout:.0f}s",
                f"check with 'kubectl api-resources --api-group {crd['spec']['group']}', then apply again",
            )
        clock.sleep(POLL_INTERVAL)


def _conditions(crd: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    found = ((crd or {}).get("status") or {}).get("conditions") or []
    return {str(c.get("type")): c for c in found if isinstance(c, Mapping)}


def _shown(conditions: Mapping[str, Mapping[str, Any]]) -> str:
    """``Established=False (Installing: the initial names have been accepted); …``, or that there is none."""
    if not conditions:
        return "no conditions yet"
    parts = []
    for kind, c in sorted(conditions.items()):
        why = ": ".join(str(c[k]) for k in ("reason", "message") if c.get(k))
        parts.append(f"{kind}={c.get('status')}" + (f" ({why})" if why else ""))
    return "; ".join(parts)
