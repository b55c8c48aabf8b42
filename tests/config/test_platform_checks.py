"""Checks of the ``platform`` section: pinned add-on versions, and metrics the platform collects."""

from __future__ import annotations

import pathlib

import pytest
from helpers import STAGED, write

from mlopsctl.api import validate
from mlopsctl.config.source import ConfigSource

ENDPOINT = """\
models:
  m: {framework: sklearn, versions: {v1: {artifactUri: gs://acme-models/m/1}}}
endpoints:
  score:
    variants:
      main: {model: m, version: v1, autoscaling: {metric: METRIC}}
"""


def _found(tmp_path: pathlib.Path, text: str) -> list[str]:
    result = validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None))
    return [d.to_text() for d in result.diagnostics]


@pytest.mark.parametrize(
    ("metric", "pins", "expected"),
    [
        (
            "rps",
            "{kserve: v0.14.1}",
            "mlops.yaml:20:22: error E406: kserve v0.14.1 lacks KEDA autoscaling of raw deployments "
            "(from v0.15.0), which endpoints.score.variants.main.autoscaling.metric uses\n"
            "  hint: pin v0.15.0 or later, or remove the pin to get v0.20.0",
        ),
        (
            "cpu",
            "{kserve: v0.14.1}",
            "mlops.yaml:20:22: warning W402: kserve is pinned to v0.14.1: "
            "mlopsctl 0.1.0 is tested with v0.20.0\n"
            "  hint: check the upgrade notes in docs/platform.md, or remove the pin",
        ),
        (
            "cpu",
            "{istiod: 1.21.0}",
            "mlops.yaml:20:22: error E406: istiod 1.21.0 lacks the v1 APIs of networking.istio.io and "
            "security.istio.io (from 1.22.0), which endpoints.score uses\n"
            "  hint: pin 1.22.0 or later, or remove the pin to get 1.30.3",
        ),
    ],
)
def test_a_pinned_version_must_have_what_the_workloads_use(
    tmp_path: pathlib.Path, metric: str, pins: str, expected: str
) -> None:
    text = STAGED + ENDPOINT.replace("METRIC", metric) + f"platform:\n  versions: {pins}\n"
    assert _found(tmp_path, text) == [expected]


def test_the_tested_version_pinned_is_silent(tmp_path: pathlib.Path) -> None:
    text = STAGED + ENDPOINT.replace("METRIC", "rps") + "platform:\n  versions: {kserve: v0.20.0}\n"
    assert _found(tmp_path, text) == []


def test_gpu_duty_cycle_needs_managed_prometheus(tmp_path: pathlib.Path) -> None:
    text = STAGED + ENDPOINT.replace("METRIC", "gpu-duty-cycle") + "platform: {metrics: in-cluster}\n"
    found = [f for f in _found(tmp_path, text) if "E315" in f]
    assert found == [
        "mlops.yaml:18:59: error E315: endpoint 'score' (main) scales on gpu-duty-cycle, a GKE system "
        "metric that the in-cluster Prometheus does not collect\n"
        "  hint: scale on concurrency or rps, or use platform.metrics: managed"
    ]
