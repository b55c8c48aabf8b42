"""``start-run`` and the retrain action of ``drift`` with ``backend: vertex``: the real
google-cloud-aiplatform REST client against a fake Vertex AI API, the compiled spec read from a fake
Cloud Storage (or the local backend) and sent inline."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fake_gcs_api
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import vertex_stage_fake
from fake_gcs_api import FakeGcs
from vertex_stage_fake import FakeVertex

from mlopsctl_stage.cli import main

PARENT = "projects/proj/locations/europe-west4"
SPEC = {
    "pipelineInfo": {"name": "fraud-train"},
    "root": {"inputDefinitions": {"parameters": {"epochs": {"parameterType": "NUMBER_INTEGER"}}}},
    "schemaVersion": "2.1.0",
    "sdkVersion": "kfp-2.17.0",
}
LABELS = {"mlopsctl-env": "prod", "mlopsctl-pipeline": "fraud-train"}
NOW = datetime.now(UTC).replace(microsecond=0)
HOUR = timedelta(hours=1)


def vertex_config(**extra: Any) -> dict[str, Any]:
    return {
        "backend": "vertex",
        "project": "proj",
        "location": "europe-west4",
        "pipelineSpecUri": "gs://specs/fraud-train/0123abcd.json",
        "pipelineRoot": "gs://proj-prod-pipeline-root/root",
        "displayName": "fraud-train",
        "serviceAccount": "pipeline-fraud@proj.iam.gserviceaccount.com",
        "labels": LABELS,
        "parameters": {"epochs": 3, "lr": 0.1, "mode": "full"},
        **extra,
    }


def start(config: dict[str, Any]) -> None:
    main(["start-run", "--config", json.dumps(config)])


@pytest.fixture
def vertex(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeVertex]:
    for fake in vertex_stage_fake.serve():
        monkeypatch.setenv("MLOPSCTL_VERTEX_ENDPOINT", fake.url)
        yield fake


@pytest.fixture
def gcs(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGcs]:
    monkeypatch.delenv("MLOPSCTL_STAGE_LOCAL", raising=False)
    with fake_gcs_api.serve() as fake:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake.url)
        fake.put("specs", "fraud-train/0123abcd.json", json.dumps(SPEC).encode())
        yield fake


def test_starts_a_pipeline_job_with_the_spec_inline(
    vertex: FakeVertex, gcs: FakeGcs, capsys: pytest.CaptureFixture[str]
) -> None:
    start(vertex_config())
    [call] = vertex.created_jobs()
    assert call.path == f"/v1/{PARENT}/pipelineJobs"
    job_id = call.query["pipelineJobId"]
    assert re.fullmatch(r"fraud-train-\d{14}", job_id)
    assert call.body == {
        "displayName": "fraud-train",
        "pipelineSpec": SPEC,
        "runtimeConfig": {
            "gcsOutputDirectory": "gs://proj-prod-pipeline-root/root",
            "parameterValues": {"epochs": 3, "lr": 0.1, "mode": "full"},
        },
        "serviceAccount": "pipeline-fraud@proj.iam.gserviceaccount.com",
        "labels": LABELS,
    }
    assert "templateUri" not in call.body
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"Started pipeline job {PARENT}/pipelineJobs/{job_id} (fraud-train) of gs://specs/fraud-train/0123abcd.json.",
        "Console: https://console.cloud.google.com/vertex-ai/locations/europe-west4/pipelines/runs/"
        f"{job_id}?project=proj",
    ]


def test_without_service_account_labels_or_parameters(vertex: FakeVertex, gcs: FakeGcs) -> None:
    config = vertex_config()
    for key in ("serviceAccount", "labels", "parameters"):
        del config[key]
    start(config)
    [call] = vertex.created_jobs()
    assert call.body["runtimeConfig"] == {"gcsOutputDirectory": "gs://proj-prod-pipeline-root/root"}
    assert not {"serviceAccount", "labels"} & set(call.body)


def test_a_customer_managed_key_encrypts_the_pipeline_job(vertex: FakeVertex, gcs: FakeGcs) -> None:
    key = "projects/proj/locations/europe-west4/keyRings/proj-prod/cryptoKeys/data"
    start(vertex_config(kmsKeyName=key))
    [call] = vertex.created_jobs()
    assert call.body["encryptionSpec"] == {"kmsKeyName": key}


def test_a_key_that_names_no_key_is_refused_before_anything_starts(
    vertex: FakeVertex, gcs: FakeGcs, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        start(vertex_config(kmsKeyName="data"))
    assert "kmsKeyName: must be a key's resource name" in capsys.readouterr().err
    assert vertex.created_jobs() == []


@pytest.mark.parametrize(
    ("last_run", "changed", "starts"),
    [
        (None, NOW - 5 * HOUR, True),  # no run yet
        (NOW - 2 * HOUR, NOW - HOUR, True),  # changed after the last run
        (NOW - HOUR, NOW - 2 * HOUR, False),  # nothing since the last run
        (NOW - HOUR, None, False),  # nothing there at all
    ],
)
def test_when_new_data_the_last_job_of_the_pipeline_is_the_marker(
    vertex: FakeVertex,
    gcs: FakeGcs,
    capsys: pytest.CaptureFixture[str],
    last_run: datetime | None,
    changed: datetime | None,
    starts: bool,
) -> None:
    if last_run is not None:
        vertex.add_job(PARENT, "fraud-train", last_run - 3 * HOUR, LABELS)
        vertex.add_job(PARENT, "fraud-train", last_run, LABELS)
    # Newer jobs that are not the marker: another pipeline, another environment's labels, another region.
    vertex.add_job(PARENT, "churn-train", NOW, LABELS)
    vertex.add_job(PARENT, "fraud-train", NOW, {**LABELS, "mlopsctl-env": "dev"})
    vertex.add_job("projects/proj/locations/us-central1", "fraud-train", NOW, LABELS)
    if changed is not None:
        gcs.objects["landing", "events/day=1/part-0.csv"] = (b"x\n", changed - HOUR)
        gcs.objects["landing", "events/day=2/part-0.csv"] = (b"x\n", changed)
    gcs.objects["landing", "elsewhere.csv"] = (b"x\n", NOW)  # outside the prefix

    start(vertex_config(whenNewData={"gcs": "gs://landing/events/"}))

    [listed] = [c for c in vertex.calls if c.method == "GET"]
    assert listed.query["filter"].split(" AND ") == [
        'pipeline_name="fraud-train"',
        'labels.mlopsctl-env="prod"',
        'labels.mlopsctl-pipeline="fraud-train"',
    ]
    assert listed.query["pageSize"] == "1"
    assert len(vertex.created_jobs()) == int(starts)
    out = capsys.readouterr().out
    assert ("Started pipeline job" in out) == starts
    assert ("no run started" in out) != starts


@pytest.mark.parametrize(
    ("setup", "config", "message"),
    [
        ("no-spec", {}, "pipelineSpecUri (gs://specs/fraud-train/0123abcd.json): "),
        ("not-json", {}, "not a compiled PipelineSpec in JSON"),
        ("no-name", {}, "not a compiled PipelineSpec: no pipelineInfo.name"),
        ("denied", {}, "Vertex AI API: 403 "),
        ("", {"pipelineRoot": "/tmp/root"}, "--config.pipelineRoot: must be a gs:// folder"),
        ("", {"labels": {"team": 1}}, "--config.labels: must be an object of strings"),
        ("", {"project": "", "displayName": None}, "--config: missing project, displayName"),
        ("", {"backend": "sagemaker"}, "--config.backend: must be one of kfp, vertex, not 'sagemaker'"),
    ],
)
def test_failures_are_one_line(
    vertex: FakeVertex,
    gcs: FakeGcs,
    capsys: pytest.CaptureFixture[str],
    setup: str,
    config: dict[str, Any],
    message: str,
) -> None:
    spec = ("specs", "fraud-train/0123abcd.json")
    if setup == "no-spec":
        del gcs.objects[spec]
    elif setup == "not-json":
        gcs.put(*spec, b"pipelineInfo: {name: fraud-train}\n")
    elif setup == "no-name":
        gcs.put(*spec, json.dumps({"root": {}}).encode())
    elif setup == "denied":
        vertex.failures.append(
            vertex_stage_fake.Failure(403, "Permission 'aiplatform.pipelineJobs.create' denied")
        )
    with pytest.raises(SystemExit) as exit_info:
        start(vertex_config(**config))
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("mlopsctl-stage start-run: ") and message in err
    assert len(err.strip().splitlines()) == 1
    if setup != "denied":
        assert vertex.calls == []


def test_the_cli_help_imports_no_aiplatform() -> None:
    code = (
        "import sys\n"
        "from mlopsctl_stage.cli import main\n"
        "for stage in ('start-run', 'drift', 'evaluate', 'train-job'):\n"
        "    try:\n"
        "        main([stage, '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in sys.modules if 'aiplatform' in m or m.startswith('kfp_server_api')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def _request_log(count: int, mean: float, end: datetime) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    return [
        {
            "timestamp": (end - timedelta(minutes=i)).isoformat(),
            "request_id": f"req-{i}",
            "request": json.dumps({"instances": [{"amount": float(rng.normal(mean, 10))}]}),
            "response": json.dumps({"predictions": [0.1]}),
        }
        for i in range(count)
    ]


def test_drift_retrains_on_vertex(
    local_root: Path, vertex: FakeVertex, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In a local run the spec is read from ``$ROOT/gcs``; the retrain is reported like a KFP one."""
    spec = local_root / "gcs/specs/fraud-train/0123abcd.json"
    spec.parent.mkdir(parents=True)
    spec.write_text(json.dumps(SPEC))
    (local_root / "bigquery").mkdir()
    amounts = np.random.default_rng(1).normal(100, 10, 1000)
    pq.write_table(pa.table({"amount": amounts}), local_root / "bigquery/proj.training.baseline.parquet")
    rows = _request_log(300, 160, NOW)
    (local_root / "bigquery/proj.logs.requests.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    monitor = {
        "monitor": "fraud-drift",
        "type": "drift",
        "serving": {"table": "proj.logs.requests", "samplingRate": 1.0},
        "baseline": {"table": "proj.training.baseline"},
        "windowSeconds": 86400,
        "features": {"amount": {"kind": "numeric", "threshold": 0.1}},
        "output": {"statistics": "proj.mon.statistics", "alerts": "proj.mon.alerts"},
        "retrain": [vertex_config(parameters={"reason": "drift"})],
    }
    summary = tmp_path / "summary.json"
    main(["drift", "--config", json.dumps(monitor), "--summary", str(summary)])

    [call] = vertex.created_jobs()
    assert call.body["pipelineSpec"] == SPEC
    assert call.body["runtimeConfig"]["parameterValues"] == {"reason": "drift"}
    job_id = call.query["pipelineJobId"]
    link = f"https://console.cloud.google.com/vertex-ai/locations/europe-west4/pipelines/runs/{job_id}?project=proj"
    [_, retrain] = json.loads(summary.read_text())["actions"]
    assert retrain == {
        "type": "retrain",
        "pipeline": "fraud-train",
        "pipelineVersion": "gs://specs/fraud-train/0123abcd.json",
        "runId": job_id,
        "link": link,
        "done": True,
    }
    out = capsys.readouterr().out
    assert f"Started run {job_id} of gs://specs/fraud-train/0123abcd.json to retrain." in out
    assert f"Console: {link}" in out
