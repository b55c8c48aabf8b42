"""An SLO counts what clients are served: a shadow variant's Service is left out of the expression,
as Istio discards the responses to the requests it mirrors there."""

from __future__ import annotations

import pathlib

import pytest
from helpers import STAGED, write

from mlopsctl.api import validate
from mlopsctl.compiler.slo import promql, served_by
from mlopsctl.config.models.monitoring import SloMonitor
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target

CONFIG = STAGED + (
    "models:\n"
    "  m: {framework: sklearn, versions: {v1: {artifactUri: gs://acme-m/1}, v2: {artifactUri: gs://acme-m/2}}}\n"
    "endpoints:\n"
    "  api:\n"
    "    variants: {main: {model: m, version: v1}, next: {model: m, version: v2}}\n"
    "    rollout: ROLLOUT\n"
    "monitors:\n"
    "  failing: {type: error-rate, endpoint: api, objective: 1}\n"
)


@pytest.mark.parametrize(
    ("rollout", "services"),
    [
        ("{strategy: shadow, primary: main, shadow: next}", ["api-main-predictor"]),
        ("{strategy: ab, weights: {main: 50, next: 50}}", ["api-main-predictor", "api-next-predictor"]),
    ],
    ids=["shadow", "ab"],
)
def test_the_slo_counts_only_the_variants_clients_are_served_by(
    tmp_path: pathlib.Path, rollout: str, services: list[str]
) -> None:
    path = write(tmp_path, CONFIG.replace("ROLLOUT", rollout))
    validation = validate(ConfigSource(path, "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    config = validation.targets[Target("dev", "us-central1")].config
    assert served_by(config, "api") == services
    monitor = config.monitors["failing"]
    assert isinstance(monitor, SloMonitor)
    expression = promql(config, monitor)
    assert f'destination_service_name=~"{"|".join(services)}"' in expression
    assert ("api-next-predictor" in expression) is (len(services) == 2)
