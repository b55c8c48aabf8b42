"""Where an endpoint's requests go under each rollout form, before any Istio syntax.

A :class:`Route` names the Kubernetes Services that answer (KServe's predictor of each
variant, or an inference graph's own); :mod:`mlopsctl.compiler.mesh` turns it into
VirtualService routes, one per protocol port.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlopsctl.config.models.serving import ABTest, BlueGreen, Canary, Endpoint, HeaderMatch, Shadow
from mlopsctl.config.naming import predictor_service
from mlopsctl.graph import JSON

RE2_SPECIAL = frozenset("\\.+*?()|[]{}^$")


@dataclass(frozen=True)
class Route:
    """Requests that satisfy ``match`` (any one of them; None: all) split by ``weights``
    (Service → percent, in the order written), and copied to ``mirror`` (Service, percent)."""

    name: str
    weights: tuple[tuple[str, int], ...]
    match: tuple[dict[str, JSON], ...] | None = None
    mirror: tuple[str, float] | None = None


def live_weight(rollout: Canary) -> int:
    """The candidate's percent of traffic at ``currentStep`` (checks keep it in range)."""
    return rollout.steps[min(rollout.current_step, len(rollout.steps) - 1)]


def routes(name: str, endpoint: Endpoint) -> list[Route]:
    """The routes of endpoint ``name``, most specific first."""
    rollout = endpoint.rollout

    def svc(variant: str) -> str:
        return predictor_service(name, variant)

    if isinstance(rollout, Canary):
        weight = live_weight(rollout)
        return [Route("canary", ((svc(rollout.baseline), 100 - weight), (svc(rollout.candidate), weight)))]
    if isinstance(rollout, ABTest):
        matched = [
            Route(f"match-{m.variant}", ((svc(m.variant), 100),), (header_match(m),)) for m in rollout.match
        ]
        return [*matched, Route("ab", tuple((svc(v), w) for v, w in rollout.weights.items()))]
    if isinstance(rollout, Shadow):
        return [
            Route(
                "shadow", ((svc(rollout.primary), 100),), mirror=(svc(rollout.shadow), rollout.mirror_percent)
            )
        ]
    if isinstance(rollout, BlueGreen):
        active, idle = (
            (rollout.blue, rollout.green) if rollout.active == "blue" else (rollout.green, rollout.blue)
        )
        return [Route("blue-green", ((svc(active), 100), (svc(idle), 0)))]
    only = svc(next(iter(endpoint.variants))) if endpoint.variants else name
    return [Route("default", ((only, 100),))]


def header_match(match: HeaderMatch) -> dict[str, JSON]:
    """An Istio HTTPMatchRequest for a header value, or a cookie in the Cookie header.

    Header names are lowercased (Istio refuses upper case; HTTP ignores case). A cookie is
    matched with an RE2 expression in which the user's name and value are literals.
    """
    if match.header is not None:
        return {"headers": {match.header.lower(): {"exact": match.value}}}
    pair = re2_literal(f"{match.cookie}={match.value}")
    return {"headers": {"cookie": {"regex": f"^(.*?;\\s*)?({pair})(;.*)?$"}}}


def re2_literal(text: str) -> str:
    """``text`` as an RE2 expression that matches exactly it."""
    return "".join(f"\\{c}" if c in RE2_SPECIAL else c for c in text)
