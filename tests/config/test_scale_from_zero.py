"""On GKE a variant that KEDA scales from zero replicas would never start: its metric comes from its
own pods. validate refuses it at minReplicas; an HPA metric (cpu, memory) keeps one replica."""

from __future__ import annotations

import pathlib

import pytest
from helpers import CLF_API, WITH_DATA, diagnostics, owned


def _variant(spec: str) -> str:
    return owned(WITH_DATA) + CLF_API.replace("{model: clf, version: v1}", spec)


@pytest.mark.parametrize("metric", ["rps", "concurrency", None])
def test_a_keda_metric_from_zero_replicas_is_refused_at_min_replicas(
    tmp_path: pathlib.Path, metric: str | None
) -> None:
    scaling = "" if metric is None else f", autoscaling: {{metric: {metric}}}"
    text = _variant("{model: clf, version: v1, minReplicas: 0" + scaling + "}")
    found = diagnostics(tmp_path, text)
    errors = [(m, h) for m, h in found if " E315: " in m]
    shown = metric or "concurrency"  # the default metric
    assert len(errors) == 1, found
    message, hint = errors[0]
    assert f"endpoint 'api' (main) scales on {shown} from minReplicas 0" in message
    assert "every request would fail with 503" in message
    assert hint == "set minReplicas to 1 or more"
    lines = text.splitlines()
    line = next(i for i, found_line in enumerate(lines, 1) if "main: {model: clf" in found_line)
    assert message.startswith(
        f"{line}:{lines[line - 1].index('minReplicas: 0') + len('minReplicas: ') + 1}: "
    ), message


@pytest.mark.parametrize(
    "spec",
    [
        "{model: clf, version: v1, minReplicas: 0, autoscaling: {metric: cpu}}",
        "{model: clf, version: v1, minReplicas: 1, autoscaling: {metric: rps}}",
    ],
)
def test_an_hpa_metric_or_one_replica_is_accepted(tmp_path: pathlib.Path, spec: str) -> None:
    assert not [m for m, _ in diagnostics(tmp_path, _variant(spec)) if " E315: " in m]
