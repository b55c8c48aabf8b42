"""Submitted runs (``api.submit_run``) where the environment places its pipelines on Vertex AI: one
PipelineJob, created by google-cloud-aiplatform's REST client against the fake Vertex AI (fixture
``fake``); and what ``mlopsctl run NAME --env E`` prints."""

from __future__ import annotations

import base64
import json
import pathlib
import re
from typing import Any

import google.auth.compute_engine._metadata
import pytest
from api_helpers import refusal, submitted
from helpers import compile_text, run
from run_projects import project
from test_submit import PROJECT, write_project
from vertex_fake import PROJECT_NUMBER, FakeVertex

from mlopsctl import api
from mlopsctl.api import open_config
from mlopsctl.compiler.vertex_pipelines import BUCKET_OBJECT, SCHEDULER_JOB
from mlopsctl.config.target import Target

PROD = Target("prod", "europe-west4")
ACCOUNT = re.compile(r"^pl-train-prod-[a-z0-9]+@acme-demo-prod\.iam\.gserviceaccount\.com$")
LABELS = {
    "managed-by": "mlopsctl",
    "mlops-env": "prod",
    "mlops-pipeline": "train",
    "mlops-project": "demo",
    "mlops-region": "europe-west4",
}
JOB_ID = re.compile(r"^train-\d{14}$")


def _template(tmp_path: pathlib.Path, text: str = PROJECT, target: Target = PROD) -> tuple[str, Any]:
    """The template object the graph publishes for ``train``: its ``gs://`` URI and its PipelineSpec."""
    graph = compile_text(tmp_path / "compiled", text)[target]
    obj = graph.resources[f"{target}/{BUCKET_OBJECT}/pipeline-train"].inputs
    return f"gs://{obj['bucket']}/{obj['name']}", json.loads(obj["content"])


def _refusal(tmp_path: pathlib.Path) -> str:
    """Why a run of ``train`` in prod was refused."""
    config = write_project(tmp_path)
    return refusal(lambda: submitted(config, "train", env="prod"))


def _created(fake: FakeVertex) -> tuple[dict[str, str], dict[str, Any]]:
    [call] = [c for c in fake.calls if c.route == "create_pipeline_job"]
    return call.query, call.body


def test_a_run_is_a_pipeline_job_of_the_published_template(tmp_path: pathlib.Path, fake: FakeVertex) -> None:
    uri, spec = _template(tmp_path)
    result = submitted(write_project(tmp_path), "train", env="prod", params={"lr": "0.5", "tag": "nightly"})
    query, body = _created(fake)
    job_id = query["pipelineJobId"]
    assert JOB_ID.match(job_id), job_id
    assert [c.raw for c in fake.calls] == ["/v1/projects/acme-demo-prod/locations/europe-west4/pipelineJobs"]
    assert body["displayName"] == "train"
    assert body["pipelineSpec"] == spec
    assert body["runtimeConfig"] == {
        "gcsOutputDirectory": "gs://demo-prod-europe-west4-pipeline-root/root",
        "parameterValues": {"lr": 0.5, "epochs": 3, "tag": "nightly"},
    }
    assert ACCOUNT.match(body["serviceAccount"]), body["serviceAccount"]
    assert body["labels"] == LABELS
    assert f"projects/{PROJECT_NUMBER}/locations/europe-west4/pipelineJobs/{job_id}" in fake.pipeline_jobs
    assert (result.target, result.region, result.run_id, result.source) == (
        "vertex",
        "europe-west4",
        job_id,
        uri,
    )
    assert result.parameters == {"lr": 0.5, "epochs": 3, "tag": "nightly"}
    assert result.link == (
        f"https://console.cloud.google.com/vertex-ai/locations/europe-west4/pipelines/runs/{job_id}"
        "?project=acme-demo-prod"
    )
    assert result.summary() == (
        f"Submitted run {job_id} of pipeline train ({uri}) to Vertex AI Pipelines in prod/europe-west4."
    )


def test_the_run_is_the_one_a_schedule_starts(tmp_path: pathlib.Path, fake: FakeVertex) -> None:
    """Spec, pipeline root, service account and labels are the Cloud Scheduler job's, parameters aside."""
    scheduled = PROJECT.replace(
        "    parameters: {lr: 0.1, epochs: 3, tag: base}\n",
        '    parameters: {lr: 0.1, epochs: 3, tag: base}\n    schedule: {cron: "0 3 * * *"}\n',
    )
    graph = compile_text(tmp_path / "compiled", scheduled)[PROD]
    target = graph.resources[f"{PROD}/{SCHEDULER_JOB}/train-schedule"].inputs["httpTarget"]
    posted = json.loads(base64.b64decode(target["body"]))
    submitted(project(tmp_path, scheduled, code={}), "train", env="prod")
    _, body = _created(fake)
    assert {k: v for k, v in body.items() if k != "runtimeConfig"} == {
        k: v for k, v in posted.items() if k != "runtimeConfig"
    }
    assert body["runtimeConfig"] == posted["runtimeConfig"]
    assert target["uri"].endswith("/v1/projects/acme-demo-prod/locations/europe-west4/pipelineJobs")


def test_a_region_other_than_the_first(tmp_path: pathlib.Path, fake: FakeVertex) -> None:
    central = Target("prod", "us-central1")
    uri, _ = _template(tmp_path, target=central)
    result = submitted(write_project(tmp_path), "train", env="prod", region="us-central1")
    query, body = _created(fake)
    job_id = query["pipelineJobId"]
    assert result.to_json() == {
        "pipeline": "train",
        "target": "vertex",
        "env": "prod",
        "region": "us-central1",
        "runId": job_id,
        "displayName": "train",
        "link": "https://console.cloud.google.com/vertex-ai/locations/us-central1/pipelines/runs/"
        f"{job_id}?project=acme-demo-prod",
        "parameters": {"lr": 0.1, "epochs": 3, "tag": "base"},
        "source": uri,
    }
    assert body["runtimeConfig"]["gcsOutputDirectory"] == "gs://demo-prod-us-central1-pipeline-root/root"
    assert body["labels"]["mlops-region"] == "us-central1"


def test_a_config_validated_whole_submits_in_the_environment_asked(
    tmp_path: pathlib.Path, fake: FakeVertex
) -> None:
    with open_config(write_project(tmp_path)) as validation:  # every environment, not only prod
        found = api.submit_run(validation, "train", env="prod", params={"epochs": "5"})
    assert isinstance(found, api.SubmittedRun)
    assert (found.target, found.region) == ("vertex", "europe-west4")
    assert found.parameters == {"lr": 0.1, "epochs": 5, "tag": "base"}
    assert f"/pipelineJobs/{found.run_id}" in next(iter(fake.pipeline_jobs))


@pytest.mark.parametrize(
    ("status", "message", "shown"),
    [
        (
            "PERMISSION_DENIED",
            "Permission 'aiplatform.pipelineJobs.create' denied on resource",
            "403 PERMISSION_DENIED: Permission 'aiplatform.pipelineJobs.create' denied on resource",
        ),
        (
            "INVALID_ARGUMENT",
            "Service account pl-train is not allowed to act as itself",
            "400 INVALID_ARGUMENT: Service account pl-train is not allowed to act as itself",
        ),
    ],
)
def test_an_api_error_is_one_line(
    tmp_path: pathlib.Path, fake: FakeVertex, status: str, message: str, shown: str
) -> None:
    fake.fail("create_pipeline_job", status, message)
    assert _refusal(tmp_path) == (
        f"Vertex AI did not start pipeline train in projects/acme-demo-prod/locations/europe-west4: {shown}"
    )
    assert fake.pipeline_jobs == {}


def test_an_unreachable_api_is_one_line(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPSCTL_VERTEX_ENDPOINT", "http://127.0.0.1:9")
    found = _refusal(tmp_path)
    assert found.startswith(
        "Vertex AI did not start pipeline train in projects/acme-demo-prod/locations/europe-west4: "
        "the Vertex AI API is unreachable: "
    ), found
    assert "\n" not in found


@pytest.mark.parametrize("adc", ["none", "missing file"])
def test_without_credentials_it_says_how_to_log_in(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, adc: str
) -> None:
    monkeypatch.delenv("MLOPSCTL_VERTEX_ENDPOINT", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))  # no gcloud ADC file
    monkeypatch.setattr(google.auth.compute_engine._metadata, "_NO_GCE_CHECK", True)  # not on GCE
    if adc == "none":
        monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    else:
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    found = _refusal(tmp_path)
    assert found.startswith("no Google credentials for Vertex AI ("), found
    assert found.endswith("): run `gcloud auth application-default login`"), found


# The CLI: the run's link on stdout and what was submitted on stderr (or one JSON document); a
# refusal is one line, exit 1.


def test_cli_prints_the_link_and_the_summary(tmp_path: pathlib.Path, fake: FakeVertex) -> None:
    uri, _ = _template(tmp_path)
    code, stdout, stderr = run("run", "train", write_project(tmp_path), "--env", "prod", "-p", "lr=0.5")
    assert code == 0, stderr
    job_id = _created(fake)[0]["pipelineJobId"]
    assert stdout == (
        f"https://console.cloud.google.com/vertex-ai/locations/europe-west4/pipelines/runs/{job_id}"
        "?project=acme-demo-prod\n"
    )
    assert stderr == (
        f"Submitted run {job_id} of pipeline train ({uri}) to Vertex AI Pipelines in prod/europe-west4.\n"
    )


def test_cli_json_is_the_submitted_run_alone(tmp_path: pathlib.Path, fake: FakeVertex) -> None:
    config = write_project(tmp_path)
    code, stdout, stderr = run("run", "train", config, "-e", "prod", "-r", "us-central1", "-f", "json")
    assert (code, stderr) == (0, "")
    document = json.loads(stdout)
    assert (document["target"], document["region"]) == ("vertex", "us-central1")
    assert document["runId"] == _created(fake)[0]["pipelineJobId"]


def test_cli_a_refused_run_is_one_line(tmp_path: pathlib.Path, fake: FakeVertex) -> None:
    fake.fail("create_pipeline_job", "PERMISSION_DENIED", "denied")
    code, stdout, stderr = run("run", "train", write_project(tmp_path), "--env", "prod")
    assert (code, stdout) == (1, "")
    assert stderr == (
        "error: Vertex AI did not start pipeline train in projects/acme-demo-prod/locations/europe-west4: "
        "403 PERMISSION_DENIED: denied\n"
    )
