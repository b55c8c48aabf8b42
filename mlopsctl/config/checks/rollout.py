"""Rollouts split traffic in a way that can be carried out."""

from __future__ import annotations

from collections.abc import Iterator

from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.models.serving import ABTest, BlueGreen, Canary, Endpoint, Shadow
from mlopsctl.diagnostics import Diagnostic
from mlopsctl.sourcemap import Path


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
                f"endpoint '{name}' has {has}, but a {rollout.strategy} rollout splits traffic "
                f"between two variants",
                path=base,
                hint="declare a second variant under variants, or remove the rollout",
            )
            continue
        yield from _roles(endpoint, base)
