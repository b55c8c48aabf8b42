"""KServe: an InferenceService per endpoint variant, an InferenceGraph per serial endpoint."""

from __future__ import annotations

from mlopsctl.build.context import BuildContext


def build(ctx: BuildContext) -> None:
    """Adds nothing yet."""
