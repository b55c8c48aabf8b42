"""Submitted runs (``api.submit_run``, ``mlopsctl run NAME --env E`` without ``--local``): what is refused
before any client is built, on either target (the submissions themselves: test_submit_vertex.py,
test_submit_kfp.py)."""

from __future__ import annotations

import pathlib
import sys

import pytest
from api_helpers import refusal, submitted
from helpers import run
from run_projects import HEAD, SCORER, project

from mlopsctl import api

PROJECT = (
    HEAD
    + """\
  prod:
    gcpProject: acme-demo-prod
    regions: [europe-west4, us-central1]
    overrides:
      placement: {pipelines: vertex}
data:
  buckets:
    models: {}
    scores: {}
  datasets:
    features: {}
"""
    + SCORER
    + """\
pipelines:
  train:
    parameters: {lr: 0.1, epochs: 3, tag: base}
    steps:
      fit:
        image: reg/trainer:1
        command: [python, train.py]
        inputs: {lr: params.lr, epochs: params.epochs, tag: params.tag}
        outputs: {model: model}
batchJobs:
  nightly:
    model: scorer
    version: v1
    input:
      bigquery: {dataset: features, table: unlabelled}
    output:
      gcs: scores/nightly/
"""
)
"""``dev`` places its pipelines on GKE (the default), ``prod`` on Vertex AI (an override)."""


def write_project(folder: pathlib.Path) -> pathlib.Path:
    return project(folder, PROJECT, code={})


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    """No KFP host; a Vertex AI endpoint any request to which fails to connect."""
    monkeypatch.delenv("MLOPSCTL_KFP_HOST", raising=False)
    monkeypatch.setenv("MLOPSCTL_VERTEX_ENDPOINT", "http://127.0.0.1:9")


@pytest.mark.usefixtures("unreachable")
@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("trian", {}, "trian: no pipeline of that name (did you mean 'train'?)"),
        ("scorer", {}, "scorer: no pipeline of that name (declared: train)"),
        (
            "nightly",
            {},
            "batch job nightly: mlopsctl run submits pipelines only; a batch job runs on its "
            "schedule (add --local to run it on this machine)",
        ),
        ("train", {"lr": "fast"}, "--param lr=fast: must be a number"),
        ("train", {"lr": "1e400"}, "--param lr=1e400: must be a number"),  # inf: not JSON
        ("train", {"lr": "NaN"}, "--param lr=NaN: must be a number"),
        ("train", {"lr": "-Infinity"}, "--param lr=-Infinity: must be a number"),
        (
            "train",
            {"rate": "0.2"},
            "--param rate: pipeline train has no such parameter (declared: epochs, lr, tag)",
        ),
    ],
)
def test_refused_before_anything_is_submitted(
    tmp_path: pathlib.Path, env: str, name: str, params: dict[str, str], message: str
) -> None:
    config = write_project(tmp_path)
    found = refusal(lambda: submitted(config, name, env=env, params=params))
    assert found.startswith(message), found


def test_a_gke_run_without_a_kfp_host_says_how_to_reach_the_api(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLOPSCTL_KFP_HOST", raising=False)
    config = write_project(tmp_path)
    assert refusal(lambda: submitted(config, "train", env="dev")) == (
        "a run on Kubeflow Pipelines needs its API, reachable from this machine: for example "
        "`kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8080:80`, then --kfp-host "
        "http://localhost:8080 (or MLOPSCTL_KFP_HOST)"
    )


@pytest.mark.parametrize("region", ["asia-east1", "us-east1"])
def test_a_region_the_environment_lacks_is_refused(tmp_path: pathlib.Path, region: str) -> None:
    selection = api.Selection(("prod",), (region,))
    with api.open_config(write_project(tmp_path), selection=selection) as validation:
        assert not validation.ok
    assert [d.code for d in validation.diagnostics if d.is_error] == ["E307"]


@pytest.mark.parametrize(
    ("env", "module", "extra"),
    [("prod", "google.cloud.aiplatform_v1", "vertex"), ("dev", "kfp_server_api", "kfp")],
)
def test_without_the_client_library_the_extra_to_install_is_named(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, env: str, module: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed: importing it fails
    parent, _, name = module.rpartition(".")
    if parent in sys.modules:  # 'from parent import name' reads an attribute set by an earlier import
        monkeypatch.delattr(sys.modules[parent], name, raising=False)
    monkeypatch.setenv("MLOPSCTL_KFP_HOST", "http://127.0.0.1:9")
    config = write_project(tmp_path)
    found = refusal(lambda: submitted(config, "train", env=env))
    assert found.endswith(f"pip install 'mlopsctl[{extra}]' (or 'mlopsctl[all]')"), found


# The CLI: flags a submitted run refuses itself, and a refusal from the library as one line, exit 1.


@pytest.mark.usefixtures("unreachable")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("train", "--param", "lr"), "error: --param lr: expected K=V"),
        (("train", "--out", "o"), "error: --out is for --local runs"),
        (("train", "--data", "d"), "error: --data is for --local runs"),
        (("train", "--act"), "error: --act is for --local runs"),
        (("train", "--local-trials", "4"), "error: --local-trials is for --local runs"),
        (("trian",), "error: trian: no pipeline of that name (did you mean 'train'?)"),
    ],
)
def test_cli_refusals_are_one_line(tmp_path: pathlib.Path, args: tuple[str, ...], message: str) -> None:
    code, stdout, stderr = run("run", *args, write_project(tmp_path), "--env", "prod")
    assert (code, stdout) == (1, "")
    assert stderr.startswith(message), stderr
    assert stderr.count("\n") == 1


@pytest.mark.parametrize("region", ["asia-east1", "us-east1"])
def test_cli_a_region_the_environment_lacks_is_a_config_error(tmp_path: pathlib.Path, region: str) -> None:
    code, stdout, stderr = run("run", "train", write_project(tmp_path), "--env", "prod", "--region", region)
    assert (code, stdout) == (1, "")
    assert stderr.startswith("error E307: "), stderr
