"""The bundled examples show what their READMEs say they show."""

from __future__ import annotations

import pathlib

import pytest
from conftest import EXAMPLES, ROOT

from mlopsctl.api import Validation, validate
from mlopsctl.config.models.serving import ABTest, Canary
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target

PROJECTS = ROOT / "examples" / "projects"


def _load(name: str) -> Validation:
    path = PROJECTS / name / "mlops.yaml"
    validation = validate(ConfigSource(path, str(path), None))
    assert validation.ok and not validation.diagnostics
    return validation


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_every_example_has_a_readme_and_dev_and_prod(example: pathlib.Path) -> None:
    assert (example.parent / "README.md").is_file()
    envs = {t.env for t in _load(example.parent.name).targets}
    assert {"dev", "prod"} <= envs


def test_digits_serves_triton_on_l4_over_http_and_grpc_with_a_5_percent_canary() -> None:
    config = _load("digits").targets[Target("prod", "us-central1")].config
    [endpoint] = config.endpoints.values()
    assert endpoint.runtime == "triton" and set(endpoint.protocols) == {"http", "grpc"}
    assert isinstance(endpoint.rollout, Canary) and endpoint.rollout.steps[0] == 5
    pools = {v.node_pool for v in endpoint.variants.values()}
    assert all(config.accelerators[p].type == "gpu" for p in pools)
    assert {config.accelerators[p].accelerator for p in pools} == {"nvidia-l4"}  # type: ignore[union-attr]


def test_sensor_anomaly_is_scheduled_and_retrains_on_drift() -> None:
    config = _load("sensor-anomaly").targets[Target("prod", "europe-west1")].config
    assert set(config.pipelines) == {"anomaly", "sensor-profile"}  # sensor-profile reads the feature view
    name, pipeline = "anomaly", config.pipelines["anomaly"]
    assert pipeline.schedule is not None
    assert {s.kind for s in pipeline.steps.values()} >= {
        "ingest",
        "validate",
        "transform",
        "train",
        "evaluate",
        "push",
    }
    assert any(s.source and s.source.bigquery for s in pipeline.steps.values())
    drift = [m for m in config.monitors.values() if m.type == "drift"]
    assert drift and all(m.actions.retrain == name for m in drift)


def test_fraud_trains_on_tpu_serves_ab_50_50_in_two_regions_and_is_promoted_in_order() -> None:
    validation = _load("fraud-tpu")
    prod = validation.targets[Target("prod", "us-central1")].config
    assert [r for r in prod.environments["prod"].regions] == ["us-central1", "europe-west4"]
    assert any(p.type == "tpu" for p in prod.accelerators.values())
    ab = [e.rollout for e in prod.endpoints.values() if isinstance(e.rollout, ABTest)]
    assert ab and sorted(ab[0].weights.values()) == [50, 50]
    chain = {env: spec.promotion.from_env for env, spec in prod.environments.items()}
    assert chain == {"dev": None, "staging": "dev", "prod": "staging"}
