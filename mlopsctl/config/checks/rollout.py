"""Rollouts split traffic in a way that can be carried out."""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlopsctl.config import naming
from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.diagnostics import Diagnostic
from mlopsctl.config.models.serving import ABTest, BlueGreen, Canary, Endpoint, Shadow
from mlopsctl.config.sourcemap import Path
from mlopsctl.config.wording import with_article


def _weights(rollout: ABTest, base: Path) -> Iterator[Diagnostic]:
    total = sum(rollout.weights.values())
    if total != 100:
        shown = " + ".join(str(w) for w in rollout.weights.values())
        yield Diagnostic(
            "E303",
            f"A/B weights add up to {total} ({shown}), not 100",
            path=(*base, "weights"),
            hint="adjust the percentages so that they add up to exactly 100",
        )


def _canary(rollout: Canary, base: Path) -> Iterator[Diagnostic]:
    steps = rollout.steps
    for i in range(1, len(steps)):
        if steps[i] <= steps[i - 1]:
            yield Diagnostic(
                "E303",
                f"canary step {i} ({steps[i]}%) is not above the step before it ({steps[i - 1]}%)",
                path=(*base, "steps", i),
                hint="list candidate percentages in strictly rising order",
            )
    if steps[-1] != 100:
        yield Diagnostic(
            "E303",
            f"canary steps end at {steps[-1]}%, not 100%",
            path=(*base, "steps", len(steps) - 1),
            hint="end the steps with 100 so that the candidate takes all traffic at the end",
        )
    if rollout.current_step >= len(steps):
        yield Diagnostic(
            "E303",
            f"currentStep {rollout.current_step} is past the last canary step (index {len(steps) - 1})",
            path=(*base, "currentStep"),
            hint=f"use an index from 0 to {len(steps) - 1}",
        )


def _distinct(first: tuple[str, str], second: tuple[str, str], base: Path) -> Iterator[Diagnostic]:
    """Two roles of a rollout (e.g. baseline and candidate) must be played by different variants."""
    (role_a, variant_a), (role_b, variant_b) = first, second
    if variant_a == variant_b:
        yield Diagnostic(
            "E303",
            f"{role_b} and {role_a} are the same variant '{variant_a}'",
            path=(*base, role_b),
            hint=f"name a different variant as {role_b}",
        )


def _roles(endpoint: Endpoint, base: Path) -> Iterator[Diagnostic]:
    rollout = endpoint.rollout
    if isinstance(rollout, Canary):
        yield from _distinct(("baseline", rollout.baseline), ("candidate", rollout.candidate), base)
        yield from _canary(rollout, base)
    elif isinstance(rollout, Shadow):
        yield from _distinct(("primary", rollout.primary), ("shadow", rollout.shadow), base)
    elif isinstance(rollout, BlueGreen):
        yield from _distinct(("blue", rollout.blue), ("green", rollout.green), base)
    elif isinstance(rollout, ABTest):
        yield from _weights(rollout, base)


@check
def rollouts(ctx: CheckContext) -> Iterator[Diagnostic]:
    for name, endpoint in ctx.config.endpoints.items():
        rollout = endpoint.rollout
        if rollout is None:
            continue
        base: Path = ("endpoints", name, "rollout")
        if len(endpoint.variants) < 2:
            has = "an inference graph" if endpoint.graph is not None else "a single variant"
            yield Diagnostic(
                "E303",
                f"endpoint '{name}' has {has}, but {with_article(rollout.strategy)} rollout splits traffic "
                f"between two variants",
                path=base,
                hint="declare a second variant under variants, or remove the rollout",
            )
            continue
        yield from _roles(endpoint, base)


HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
MESH_SUFFIX = ".svc.cluster.local"
COOKIE_OCTETS = re.compile(r"^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$")
"""RFC 6265 cookie-value characters: printable ASCII but space, '"', ',', ';' and '\\'."""
HEADER_VALUE = re.compile(r"^[^\x00-\x08\x0a-\x1f\x7f]*$")
"""What an HTTP header value can hold: no control characters (tab aside)."""


@check
def hosts(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Public hosts are DNS names outside the cluster's own domain, one endpoint each."""
    seen: dict[str, str] = {}
    for name, endpoint in ctx.config.endpoints.items():
        host = naming.endpoint_host(ctx.config, name)
        path: Path = ("endpoints", name, "host") if endpoint.host else ("endpoints", name)
        if not HOST.match(host) or host.endswith(MESH_SUFFIX):
            yield Diagnostic(
                "E304",
                f"host '{host}' of endpoint '{name}' is not a DNS name the ingress gateway can serve",
                path=path,
                hint="use a lowercase fully qualified name such as scorer.ml.example.com "
                "(letters, digits, '-' and '.', not under .svc.cluster.local)",
            )
        elif host in seen:
            yield Diagnostic(
                "E310",
                f"endpoints '{seen[host]}' and '{name}' both use the host '{host}'",
                path=path,
                hint="give each endpoint its own host",
            )
        seen.setdefault(host, name)


def mesh_services(name: str, endpoint: Endpoint) -> list[str]:
    """The Kubernetes Services an endpoint's requests pass through: its own, Flagger's copies
    of it for an analysed canary, and KServe's predictors."""
    own = [name]
    if endpoint.analysed:
        own += [f"{name}-primary", f"{name}-canary"]
    return own + [naming.predictor_service(name, v) for v in endpoint.variants]


@check
def service_names(ctx: CheckContext) -> Iterator[Diagnostic]:
    owners: dict[str, str] = {}
    for name, endpoint in ctx.config.endpoints.items():
        for service in mesh_services(name, endpoint):
            owner = owners.setdefault(service, name)
            if owner != name:
                yield Diagnostic(
                    "E310",
                    f"endpoints '{owner}' and '{name}' would both use the Kubernetes Service '{service}'",
                    path=("endpoints", name),
                    hint="rename one of the endpoints: an endpoint's Services are '<endpoint>', "
                    "'<endpoint>-<variant>-predictor' and, for a canary with analysis, "
                    "'<endpoint>-primary' and '<endpoint>-canary'",
                )


def _match_values(rollout: ABTest, base: Path) -> Iterator[Diagnostic]:
    for i, match in enumerate(rollout.match):
        path: Path = (*base, "match", i, "value")
        if match.cookie is not None and not COOKIE_OCTETS.match(match.value):
            yield Diagnostic(
                "E312",
                f"cookie value {match.value!r} cannot appear in a Cookie header",
                path=path,
                hint="use printable ASCII without spaces, quotes, ',', ';' or '\\'",
            )
        elif not HEADER_VALUE.match(match.value):
            yield Diagnostic(
                "E312",
                f"header value {match.value!r} holds control characters (such as a line break)",
                path=path,
                hint="HTTP header values are one line of printable text",
            )


@check
def mesh_rollouts(ctx: CheckContext) -> Iterator[Diagnostic]:
    """What the Istio routes and Flagger can carry out."""
    for name, endpoint in ctx.config.endpoints.items():
        rollout = endpoint.rollout
        base: Path = ("endpoints", name, "rollout")
        if isinstance(rollout, ABTest):
            yield from _match_values(rollout, base)
        if endpoint.analysed and len(endpoint.protocols) > 1:
            yield Diagnostic(
                "E312",
                f"endpoint '{name}' serves {' and '.join(endpoint.protocols)}, but a canary with "
                "analysis is routed by Flagger, which shifts traffic on one port",
                path=(*base, "analysis"),
                hint="serve one protocol from this endpoint, or drop 'analysis' and move "
                "'currentStep' by hand",
            )
