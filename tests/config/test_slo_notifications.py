"""With platform.metrics: in-cluster, an SLO monitor's notify channels are delivered by nothing mlopsctl
emits (its alert goes to the cluster's Alertmanager): validate warns at notify (W406)."""

from __future__ import annotations

import pathlib

import pytest
from helpers import CLF_API, MINIMAL, diagnostics

SLO = """\
monitors:
  slow: {type: latency, endpoint: api, objective: 300, actions: {notify: [team]}}
alertChannels:
  team: {type: email, address: ml@acme.example}
"""


@pytest.mark.parametrize(("platform", "warned"), [("in-cluster", True), ("managed", False)])
def test_slo_notifications_without_a_route_are_warned_about(
    tmp_path: pathlib.Path, platform: str, warned: bool
) -> None:
    text = MINIMAL + CLF_API + SLO + f"platform: {{metrics: {platform}}}\n"
    found = [(m, h) for m, h in diagnostics(tmp_path, text) if " W406: " in m]
    if not warned:
        assert found == []
        return
    line = text.splitlines().index(
        "  slow: {type: latency, endpoint: api, objective: 300, actions: {notify: [team]}}"
    )
    [(message, hint)] = found
    assert message.startswith(f"{line + 1}:")
    assert "monitor 'slow' notifies team, but with platform.metrics: in-cluster" in message
    assert hint is not None and hint.startswith("route alerts with label monitor=slow to those channels")
