"""``mlopsctl run NAME --env E`` without ``--local``: what is refused before any client is built, on
either target (the submissions themselves: test_submit_vertex.py, test_submit_kfp.py)."""

from __future__ import annotations

import pathlib
import sys

import pytest
from helpers import run
from run_projects import HEAD, SCORER, project

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


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("trian",), "error: trian: no pipeline of that name (did you mean 'train'?)"),
        (("scorer",), "error: scorer: no pipeline of that name (declared: train)"),
        (
            ("nightly",),
            "error: batch job nightly: mlopsctl run submits pipelines only; a batch job runs on its "
            "schedule (add --local to run it on this machine)",
        ),
        (
            ("train", "--param", "lr=fast"),
            "error: --param lr=fast: must be a number",
        ),
        (
            ("train", "--param", "rate=0.2"),
            "error: --param rate: pipeline train has no such parameter (declared: epochs, lr, tag)",
        ),
        (("train", "--param", "lr"), "error: --param lr: expected K=V"),
        (("train", "--out", "o"), "error: --out is for --local runs"),
        (("train", "--data", "d"), "error: --data is for --local runs"),
        (("train", "--act"), "error: --act is for --local runs"),
    ],
)
def test_refused_before_anything_is_submitted(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, env: str, args: tuple[str, ...], message: str
) -> None:
    monkeypatch.delenv("MLOPSCTL_KFP_HOST", raising=False)
    # Neither client may be reached: any request would fail to connect.
    monkeypatch.setenv("MLOPSCTL_VERTEX_ENDPOINT", "http://127.0.0.1:9")
    code, stdout, stderr = run("run", *args, write_project(tmp_path), "--env", env)
    assert (code, stdout) == (1, "")
    assert stderr.startswith(message), stderr
    assert "Traceback" not in stderr


def test_a_gke_run_without_a_kfp_host_says_how_to_reach_the_api(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLOPSCTL_KFP_HOST", raising=False)
    code, stdout, stderr = run("run", "train", write_project(tmp_path), "--env", "dev")
    assert (code, stdout) == (1, "")
    assert stderr == (
        "error: a run on Kubeflow Pipelines needs its API, reachable from this machine: for example "
        "`kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8080:80`, then --kfp-host "
        "http://localhost:8080 (or MLOPSCTL_KFP_HOST)\n"
    )


@pytest.mark.parametrize("region", ["asia-east1", "us-east1"])
def test_a_region_the_environment_lacks_is_refused(tmp_path: pathlib.Path, region: str) -> None:
    code, stdout, stderr = run("run", "train", write_project(tmp_path), "--env", "prod", "--region", region)
    assert (code, stdout) == (1, "")
    assert stderr.startswith("error E307: "), stderr


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
    code, stdout, stderr = run("run", "train", write_project(tmp_path), "--env", env)
    assert (code, stdout) == (1, "")
    assert stderr.startswith("error: ") and stderr.endswith(
        f"pip install 'mlopsctl[{extra}]' (or 'mlopsctl[all]')\n"
    ), stderr
