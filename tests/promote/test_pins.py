"""Release pins in mlops.lock: read after overlays, compiled into the plan, and checked against the config."""

from __future__ import annotations

import pathlib

import pytest
from helpers import planned, run, selected, write
from releases import CHAIN

from mlopsctl import api
from mlopsctl.config.load import load_bytes
from mlopsctl.config.pins import release_pins
from mlopsctl.config.resolve import overlaid
from mlopsctl.config.target import Target
from mlopsctl.graph import JSON

INFERENCE_SERVICE = "kubernetes:serving.kserve.io/v1beta1:InferenceService"
PINNED = """\
lockVersion: 1
environments:
  prod:
    us-central1:
      pins:
        endpoints.score.variants.main.version: {version}
"""

PIPELINES = """\
apiVersion: mlopsctl.dev/v1alpha1
kind: MLOpsProject
project: {name: demo, stageImage: "registry.example/${env}/stages:1"}
environments:
  dev: {gcpProject: acme-demo-dev, regions: [us-central1]}
  prod:
    gcpProject: acme-demo-prod
    regions: [us-central1]
    overrides:
      batchJobs: {nightly: {version: v0}}
pipelines:
  train:
    steps:
      fit: {kind: custom, image: "registry.example/fit@sha256:abc"}
      push: {kind: push, model: clf}
batchJobs:
  nightly: {model: clf, version: v1, input: {gcs: raw}, output: {gcs: raw/out}}
endpoints:
  graph:
    graph:
      steps:
        a: {model: clf, version: v1}
"""


def test_release_pins_are_read_as_written_after_overlays() -> None:
    document, _ = load_bytes(PIPELINES.encode(), "mlops.yaml", pathlib.Path("."))
    assert document is not None
    data, _, _ = overlaid(document, Target("prod", "us-central1"))
    assert release_pins(data) == {
        "batchJobs.nightly.version": "v0",
        "endpoints.graph.graph.steps.a.version": "v1",
        "pipelines.train.steps.fit.image": "registry.example/fit@sha256:abc",
        "project.stageImage": "registry.example/${env}/stages:1",
    }


def _served(config: pathlib.Path, env: str) -> dict[str, JSON]:
    """Per region of ``env``, the model the plan of ``config`` (against empty state) serves."""
    plan = planned(config, selection=selected([env])).plan
    served: dict[str, JSON] = {}
    for change in plan.changes:
        if change.type == INFERENCE_SERVICE and change.after is not None:
            spec = change.after["spec"]
            assert isinstance(spec, dict) and isinstance(spec["predictor"], dict)
            model = spec["predictor"]["model"]
            assert isinstance(model, dict)
            served[change.target.region] = model["storageUri"]
    return served


def _diagnostics(config: pathlib.Path) -> tuple[bool, list[str]]:
    """Whether ``config`` is valid, and its diagnostics as text."""
    with api.open_config(config) as validation:
        return validation.ok, [d.to_text() for d in validation.diagnostics]


def test_a_prod_plan_compiles_the_pinned_version(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, CHAIN.replace("version: v1", "version: v2"))
    write(tmp_path, PINNED.format(version="v1"), "mlops.lock")
    assert _served(config, "prod") == {
        "us-central1": "gs://demo-models/clf/v1",
        "europe-west4": "gs://demo-models/clf/v2",
    }
    assert _served(config, "staging") == {"us-central1": "gs://demo-models/clf/v2"}


def test_a_pin_of_a_removed_version_is_an_error_at_its_line(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, CHAIN)
    write(tmp_path, PINNED.format(version="v9"), "mlops.lock")
    ok, found = _diagnostics(config)
    assert not ok
    assert found[0] == (
        f"{tmp_path}/mlops.lock:6:48: error E313: endpoints.score.variants.main.version is pinned to "
        "version 'v9' of model 'clf', which is not declared (in prod/us-central1)\n"
        "  hint: promote a release that fits the config (mlopsctl promote), or restore what the pin names"
    )


def test_a_pin_without_a_place_is_ignored_with_a_warning(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, CHAIN)
    write(tmp_path, PINNED.format(version="v1").replace("variants.main", "variants.gone"), "mlops.lock")
    ok, found = _diagnostics(config)
    assert ok
    assert found[0].splitlines()[0] == (
        f"{tmp_path}/mlops.lock:6:48: warning W302: the pin endpoints.score.variants.gone.version "
        "has no place in the config: ignored (in prod/us-central1)"
    )


# The CLI: a pin's error fails validate, its warning does not.


@pytest.mark.parametrize(("pin", "code"), [("main.version: v9", 1), ("gone.version: v1", 0)])
def test_cli_validate_exits_1_on_a_pin_error_only(tmp_path: pathlib.Path, pin: str, code: int) -> None:
    config = write(tmp_path, CHAIN)
    write(tmp_path, PINNED.format(version="v1").replace("main.version: v1", pin), "mlops.lock")
    exit_code, _, err = run("validate", config)
    assert exit_code == code
    assert err.startswith(f"{tmp_path}/mlops.lock:6:48: ")


def test_an_entry_for_an_undeclared_region_is_warned_of_at_its_key(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, CHAIN)
    write(tmp_path, PINNED.format(version="v1").replace("us-central1:", "asia-east1:"), "mlops.lock")
    ok, found = _diagnostics(config)
    assert ok
    [warning] = [f for f in found if " W302: " in f]
    assert warning.splitlines()[0] == (
        f"{tmp_path}/mlops.lock:4:5: warning W302: {tmp_path}/mlops.lock has an entry for prod/asia-east1, "
        "which the config does not declare: ignored"
    )
