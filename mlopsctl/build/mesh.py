"""Istio: gateway, routing, traffic policy and mTLS per endpoint; Flagger canaries with analysis."""

from __future__ import annotations

from mlopsctl.build.context import BuildContext


def build(ctx: BuildContext) -> None:
    """Adds nothing yet."""
