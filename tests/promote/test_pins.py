from __future__ import annotations

import pathlib

from helpers import run, write
from releases import CHAIN

from mlopsctl.config.load import load_bytes
from mlopsctl.config.pins import release_pins
from mlopsctl.config.resolve import overlaid
from mlopsctl.config.target import Target

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


def test_a_prod_plan_compiles_the_pinned_version(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, CHAIN.replace("version: v1", "version: v2"))
    write(tmp_path, PINNED.format(version="v1"), "mlops.lock")
    code, out, _ = run("plan", config, "--env", "prod")
    uris = [line.split("= ")[1] for line in out.splitlines() if "storageUri" in line]
    assert code == 0 and uris == ['"gs://demo-models/clf/v1"', '"gs://demo-models/clf/v2"']
    code, out, _ = run("plan", config, "--env", "staging")
    assert '"gs://demo-models/clf/v2"' in out and "clf/v1" not in out


def test_a_pin_of_a_removed_version_is_an_error_at_its_line(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, CHAIN)
    write(tmp_path, PINNED.format(version="v9"), "mlops.lock")
    code, _, err = run("validate", config)
    assert code == 1
    assert err.splitlines()[:2] == [
        f"{tmp_path}/mlops.lock:6:48: error E313: endpoints.score.variants.main.version is pinned to "
        "version 'v9' of model 'clf', which is not declared (in prod/us-central1)",
        "  hint: promote a release that fits the config (mlopsctl promote), or restore what the pin names",
    ]


def test_a_pin_without_a_place_is_ignored_with_a_warning(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, CHAIN)
    write(tmp_path, PINNED.format(version="v1").replace("variants.main", "variants.gone"), "mlops.lock")
    code, _, err = run("validate", config)
    assert code == 0
    assert err.splitlines()[0] == (
        f"{tmp_path}/mlops.lock:6:48: warning W302: the pin endpoints.score.variants.gone.version "
        "has no place in the config: ignored (in prod/us-central1)"
    )
