"""Experiment tracking of ``evaluate`` and ``train-job``: the real google-cloud-aiplatform REST clients
against a fake Vertex AI API; idempotent per pipeline run; best effort."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib  # type: ignore[import-untyped]
import numpy as np
import pyarrow as pa
import pytest
import vertex_stage_fake
from sklearn.linear_model import LogisticRegression
from vertex_stage_fake import Failure, FakeVertex

from mlopsctl_stage.cli import main
from mlopsctl_stage.tables import write_examples

STORE = "projects/proj/locations/europe-west4/metadataStores/default"
EXPERIMENT = f"{STORE}/contexts/fraud-train"
TENSORBOARD = "projects/proj/locations/europe-west4/tensorboards/42"
KFP_RUN = "3f2b6c1e-8a4d-4e2f-9b1a-0c5d7e9f1a2b"


@pytest.fixture
def vertex(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeVertex]:
    for fake in vertex_stage_fake.serve():
        fake.add_context(EXPERIMENT)
        monkeypatch.setenv("MLOPSCTL_VERTEX_ENDPOINT", fake.url)
        monkeypatch.setenv("MLOPSCTL_EXPERIMENT", EXPERIMENT)
        monkeypatch.delenv("MLOPSCTL_TENSORBOARD", raising=False)
        yield fake


@pytest.fixture
def model(local_root: Path) -> Path:
    """Examples and a fitted model.joblib under ``local_root``."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(300, 2))
    y = (x[:, 0] + rng.normal(scale=0.5, size=300) > 0).astype(np.int64)
    table = pa.table({"f0": x[:, 0], "f1": x[:, 1], "y": y})
    write_examples(
        local_root / "examples", {"train": table.slice(0, 200), "eval": table.slice(200)}, {"label": "y"}
    )
    (local_root / "model").mkdir()
    joblib.dump(LogisticRegression().fit(x[:200], y[:200]), local_root / "model/model.joblib")
    return local_root


def evaluate(root: Path, *extra: str, metrics: Path | None = None) -> dict[str, float]:
    """Run ``evaluate`` (metrics under ``metrics``, else ``root/metrics``); returns metrics.json."""
    metrics = metrics or root / "metrics"
    flags = ["--model", str(root / "model"), "--examples", str(root / "examples"), "--metrics", str(metrics)]
    main(["evaluate", "--config", "{}", *flags, *extra])
    values: dict[str, float] = json.loads((metrics / "metrics.json").read_text())
    return values


def run_contexts(fake: FakeVertex) -> dict[str, dict[str, Any]]:
    return {n: c for n, c in fake.contexts.items() if c.get("schemaTitle") == "system.ExperimentRun"}


def test_evaluate_logs_its_metrics_as_an_experiment_run(
    model: Path, vertex: FakeVertex, capsys: pytest.CaptureFixture[str]
) -> None:
    values = evaluate(model, "--run-id", "Fraud Train 2025-03-01")
    name = f"{STORE}/contexts/fraud-train-fraud-train-2025-03-01"
    assert list(run_contexts(vertex)) == [name]
    context = vertex.contexts[name]
    assert context["displayName"] == "fraud-train-2025-03-01"
    assert context["schemaVersion"] == "0.0.1"
    assert context["metadata"] == {"_params": {}, "_metrics": values, "_state": "COMPLETE"}
    assert "accuracy" in values
    assert vertex.children == {EXPERIMENT: [name]}
    assert [f"{c.method} {c.path.rsplit('/', 1)[-1]} {c.query.get('contextId')}" for c in vertex.calls] == [
        "POST contexts fraud-train",  # 409: the experiment exists
        "POST contexts fraud-train-fraud-train-2025-03-01",
        "POST fraud-train:addContextChildren None",
        "PATCH fraud-train-fraud-train-2025-03-01 None",
    ]
    assert f"Logged {len(values)} metric(s) to experiment run {name}" in capsys.readouterr().err


def test_logging_again_updates_the_same_run(model: Path, vertex: FakeVertex) -> None:
    """A retried step, or another step of the run: one run, its earlier metrics and parameters kept."""
    name = f"{STORE}/contexts/fraud-train-{KFP_RUN}"
    vertex.contexts[name] = {
        "name": name,
        "displayName": KFP_RUN,
        "schemaTitle": "system.ExperimentRun",
        "metadata": {
            "_params": {"lr": 0.1},
            "_metrics": {"train_loss": 0.3, "accuracy": 0.5},
            "_state": "RUNNING",
        },
    }
    metrics = model / "gcs/root/fraud-train" / KFP_RUN / "evaluate/metrics"
    first = evaluate(model, metrics=metrics)
    second = evaluate(model, metrics=metrics)
    assert first == second
    assert list(run_contexts(vertex)) == [name]
    assert vertex.children == {EXPERIMENT: [name]}
    assert vertex.contexts[name]["metadata"] == {
        "_params": {"lr": 0.1},
        "_metrics": {"train_loss": 0.3, **first},
        "_state": "COMPLETE",
    }


@pytest.mark.parametrize(
    ("flags", "path", "run"),
    [
        (["--run-id", "Train_2025-03-01 12:00"], "out/metrics", "train-2025-03-01-12-00"),
        ([], f"gcs/root/fraud-train/{KFP_RUN}/evaluate/7/metrics", KFP_RUN),
        ([], "out/metrics", r"run-[0-9a-f]{16}"),
    ],
)
def test_the_run_is_named_for_the_pipeline_run(
    model: Path, vertex: FakeVertex, flags: list[str], path: str, run: str
) -> None:
    evaluate(model, *flags, metrics=model / path)
    evaluate(model, *flags, metrics=model / path)
    [name] = run_contexts(vertex)
    assert re.fullmatch(f"{STORE}/contexts/fraud-train-{run}", name)


@pytest.mark.parametrize(
    ("setup", "warning"),
    [
        ("denied", "403 POST"),
        ("not-linked", "404 POST"),
        ("unreachable", "Connection refused"),
        ("bad-name", "MLOPSCTL_EXPERIMENT is not projects/P/locations/L/metadataStores/S/contexts/E"),
        ("no-run-id", "no run id: pass --run-id, or an artifact output"),
    ],
)
def test_a_failure_to_log_only_warns(
    model: Path,
    vertex: FakeVertex,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    setup: str,
    warning: str,
) -> None:
    if setup == "denied":
        vertex.failures.append(Failure(403, "Permission 'aiplatform.contexts.create' denied", "POST"))
    elif setup == "not-linked":
        vertex.failures.append(Failure(404, "not found", ":addContextChildren"))
    elif setup == "unreachable":
        monkeypatch.setenv("MLOPSCTL_VERTEX_ENDPOINT", "http://127.0.0.1:9")
    elif setup == "bad-name":
        monkeypatch.setenv("MLOPSCTL_EXPERIMENT", "fraud-train")
    flags = ["--model", str(model / "model"), "--examples", str(model / "examples")]
    flags += [] if setup == "no-run-id" else ["--run-id", "r1"]
    main(["evaluate", "--config", "{}", *flags, "--blessed", str(model / "blessed")])
    assert (model / "blessed").read_text() == "true"
    [line] = capsys.readouterr().err.splitlines()[-1:]
    assert line.startswith("mlopsctl-stage: warning: metrics not logged to ") and warning in line


def test_tensorboard_gets_the_metrics_as_scalars(
    model: Path, vertex: FakeVertex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPSCTL_TENSORBOARD", TENSORBOARD)
    values = evaluate(model, "--run-id", "r1")
    evaluate(model, "--run-id", "r1")
    run = f"{TENSORBOARD}/experiments/fraud-train/runs/r1"
    assert {f"{run}/timeSeries/{metric.replace('_', '-')}" for metric in values} | {
        f"{TENSORBOARD}/experiments/fraud-train",
        run,
    } == set(vertex.tensorboard)
    assert vertex.tensorboard[f"{run}/timeSeries/accuracy"]["displayName"] == "accuracy"
    first = vertex.points[: len(values)]
    assert {
        p["tensorboardTimeSeriesId"]: (p["values"][0]["scalar"]["value"], p["values"][0]["step"])
        for p in first
    } == {metric.replace("_", "-"): (value, "1") for metric, value in values.items()}
    assert {p["run"] for p in vertex.points} == {run}


def test_without_the_variable_nothing_is_logged_or_imported(model: Path, vertex: FakeVertex) -> None:
    code = (
        "import sys\n"
        "from mlopsctl_stage.cli import main\n"
        f"main(['evaluate', '--model', {str(model / 'model')!r}, '--examples', {str(model / 'examples')!r},"
        f" '--metrics', {str(model / 'metrics')!r}, '--run-id', 'r1'])\n"
        "print(sorted(m for m in sys.modules if 'aiplatform' in m))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MLOPSCTL_EXPERIMENT"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert (model / "metrics/metrics.json").exists()
    assert vertex.calls == []


TRAIN_SCRIPT = """\
import argparse, json, pathlib
parser = argparse.ArgumentParser()
for flag in ("--examples", "--epochs", "--lr", "--optimizer", "--model", "--metrics"):
    parser.add_argument(flag)
args = parser.parse_args()
pathlib.Path(args.model).mkdir(parents=True)
pathlib.Path(args.model, "model.json").write_text("{}")
pathlib.Path(args.metrics).mkdir(parents=True)
metrics = {"loss": 0.25, "converged": True, "note": "x"}
pathlib.Path(args.metrics, "metrics.json").write_text(json.dumps(metrics))
"""


def test_train_job_logs_what_its_replicas_wrote_and_its_hyperparameters(
    tmp_path: Path, vertex: FakeVertex, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(TRAIN_SCRIPT)
    settings = {"root": str(tmp_path / "data"), "code": {"trainer:1": str(code)}}
    (tmp_path / "local.json").write_text(json.dumps(settings))
    monkeypatch.setenv("MLOPSCTL_STAGE_LOCAL", str(tmp_path / "local.json"))
    container = {"name": "pytorch", "image": "trainer:1", "command": ["python", "train.py"]}
    job = {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": {"name": "fraud-train", "namespace": "team"},
        "spec": {
            "pytorchReplicaSpecs": {
                "Master": {"replicas": 1, "template": {"spec": {"containers": [container]}}}
            }
        },
    }
    roles = [
        "--input",
        "examples",
        "gs://root/run/examples",
        "--input",
        "epochs",
        "5",
        "--input",
        "lr",
        "0.01",
    ]
    roles += [
        "--input",
        "optimizer",
        "adam",
        "--output",
        "model",
        f"gs://root/fraud-train/{KFP_RUN}/train/model",
    ]
    roles += ["--output", "metrics", f"gs://root/fraud-train/{KFP_RUN}/train/metrics"]
    main(["train-job", "--config", json.dumps({"job": job}), *roles])
    name = f"{STORE}/contexts/fraud-train-{KFP_RUN}"
    assert vertex.contexts[name]["metadata"] == {
        "_params": {"epochs": 5, "lr": 0.01, "optimizer": "adam"},
        "_metrics": {"loss": 0.25},
        "_state": "COMPLETE",
    }
