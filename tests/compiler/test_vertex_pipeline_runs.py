"""How runs of Vertex AI pipelines start: schedules and new-data triggers, with the config they pass."""

from __future__ import annotations

import base64
import json
import pathlib
from typing import Any

import fake_vertex_pipelines
import pytest
from helpers import OWNED_STAGED_DATA
from vertex_pipeline_cases import (
    ACCOUNT,
    DEV,
    LABELS,
    PIPELINE,
    ROOT_BUCKET,
    RUN_JOB_NAME,
    SCHEDULE,
    SCHEDULER_JOB_NAME,
    STAGE_KEYS,
    TRIGGERS,
    VERTEX,
    _address,
    _contexts,
    _graphs,
    _one,
    _spec,
)

from mlopsctl.compiler.iam import PROJECT_IAM_MEMBER
from mlopsctl.compiler.vertex_pipelines import (
    BUCKET_OBJECT,
    RUN_JOB,
    RUN_JOB_IAM_MEMBER,
    SCHEDULER_JOB,
    run_config,
)
from mlopsctl.graph import Graph


def test_a_schedule_posts_the_pipeline_job_as_the_pipeline_account(tmp_path: pathlib.Path) -> None:
    graph = _graphs(tmp_path, OWNED_STAGED_DATA + VERTEX + PIPELINE + SCHEDULE)[DEV]
    job = _one(graph, SCHEDULER_JOB, "train-schedule")
    target = job.inputs["httpTarget"]
    assert {k: v for k, v in job.inputs.items() if k != "httpTarget"} == {
        "name": "demo-dev-train-schedule",
        "project": "acme-demo-dev",
        "region": "us-central1",
        "description": "Starts a run of pipeline 'train' on Vertex AI Pipelines (mlopsctl).",
        "schedule": "0 3 * * *",
        "timeZone": "Europe/Paris",
    }
    assert {k: v for k, v in target.items() if k != "body"} == {
        "uri": "https://us-central1-aiplatform.googleapis.com/v1/projects/acme-demo-dev/locations/us-central1"
        "/pipelineJobs",
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json"},
        "oauthToken": {
            "serviceAccountEmail": ACCOUNT,
            "scope": "https://www.googleapis.com/auth/cloud-platform",
        },
    }
    assert json.loads(base64.b64decode(target["body"])) == {
        "displayName": "train",
        "pipelineSpec": _spec(graph),
        "runtimeConfig": {
            "gcsOutputDirectory": f"gs://{ROOT_BUCKET}/root",
            "parameterValues": {"lr": 0.5, "epochs": 3},
        },
        "serviceAccount": ACCOUNT,
        "labels": LABELS,
    }
    act_as = _one(graph, "gcp:serviceaccount/iAMMember:IAMMember", "pipeline-train-act-as-self")
    assert dict(act_as.inputs) == {
        "serviceAccountId": f"projects/acme-demo-dev/serviceAccounts/{ACCOUNT}",
        "role": "roles/iam.serviceAccountUser",
        "member": f"serviceAccount:{ACCOUNT}",
    }
    assert set(job.depends_on) == {
        _address(BUCKET_OBJECT, "pipeline-train"),
        act_as.address,
        _address(PROJECT_IAM_MEMBER, "pipeline-train-aiplatform-user"),
    }
    assert SCHEDULER_JOB_NAME.match(job.inputs["name"])


def _triggers(graph: Graph) -> list[Any]:
    return sorted((r for r in graph if r.type == RUN_JOB), key=lambda r: r.source)


def test_new_data_triggers_run_start_run_with_the_vertex_config_on_cloud_run(tmp_path: pathlib.Path) -> None:
    graph = _graphs(tmp_path, OWNED_STAGED_DATA + VERTEX + PIPELINE + TRIGGERS)[DEV]
    template = _one(graph, BUCKET_OBJECT, "pipeline-train").inputs
    jobs = _triggers(graph)
    assert [j.source for j in jobs] == [("pipelines", "train", "triggers", i, "newData") for i in range(3)]
    watched = [
        {"gcs": "gs://demo-dev-us-central1-raw/incoming/"},
        {"bigquery": {"table": "acme-demo-dev.features_dev_us_central1.events"}},
        {"bigquery": {"dataset": "acme-demo-dev.features_dev_us_central1"}},
    ]
    for job, when in zip(jobs, watched, strict=True):
        template_spec = job.inputs["template"]["template"]
        [container] = template_spec["containers"]
        assert container["image"] == "registry.example/stages:1"
        assert container["commands"] == ["mlopsctl-stage", "start-run"]
        flag, text = container["args"]
        config = json.loads(text)
        assert flag == "--config" and set(config) == STAGE_KEYS
        assert config == {
            "backend": "vertex",
            "project": "acme-demo-dev",
            "location": "us-central1",
            "pipelineSpecUri": f"gs://{ROOT_BUCKET}/{template['name']}",
            "pipelineRoot": f"gs://{ROOT_BUCKET}/root",
            "displayName": "train",
            "serviceAccount": ACCOUNT,
            "labels": LABELS,
            "parameters": {"lr": 0.1, "epochs": 3},
            "whenNewData": when,
        }
        assert template_spec["serviceAccount"] == ACCOUNT
        assert job.inputs["deletionProtection"] is False
        name = job.inputs["name"]
        assert name.startswith("demo-dev-train-on-") and RUN_JOB_NAME.match(name)
        invoker = _one(graph, RUN_JOB_IAM_MEMBER, f"{job.name}-invoker")
        assert dict(invoker.inputs) == {
            "project": "acme-demo-dev",
            "location": "us-central1",
            "name": name,
            "role": "roles/run.invoker",
            "member": f"serviceAccount:{ACCOUNT}",
        }
        poller = _one(graph, SCHEDULER_JOB, job.name)
        assert (poller.inputs["schedule"], poller.inputs["timeZone"]) == ("*/10 * * * *", "Etc/UTC")
        http = poller.inputs["httpTarget"]
        assert (
            http["uri"]
            == f"https://run.googleapis.com/v2/projects/acme-demo-dev/locations/us-central1/jobs/{name}:run"
        )
        assert http["oauthToken"]["serviceAccountEmail"] == ACCOUNT
        assert set(poller.depends_on) == {job.address, invoker.address}
        assert _address(BUCKET_OBJECT, "pipeline-train") in job.depends_on


def test_long_names_stay_valid_cloud_run_and_scheduler_names(tmp_path: pathlib.Path) -> None:
    long = "p" + "-abcdefgh" * 4  # 37 characters
    text = (OWNED_STAGED_DATA + VERTEX + PIPELINE + TRIGGERS).replace("  train:\n", f"  {long}:\n", 1)
    graph = _graphs(tmp_path, text)[DEV]
    names = [r.inputs["name"] for r in graph if r.type in (RUN_JOB, SCHEDULER_JOB)]
    assert len(names) == 6 and len(set(names)) == 3
    assert all(RUN_JOB_NAME.match(n) and SCHEDULER_JOB_NAME.match(n) for n in names), names


@pytest.mark.parametrize("keyed", [False, True], ids=["google-managed", "cmek"])
def test_the_stage_starts_the_same_pipeline_job_a_schedule_posts(
    tmp_path: pathlib.Path, local_root: pathlib.Path, monkeypatch: pytest.MonkeyPatch, keyed: bool
) -> None:
    """The compiled configs against the stage runtime itself: a new-data trigger's ``start-run`` reads
    the template and creates the PipelineJob that the schedule's request body holds (with the
    default key, both encrypted with it)."""
    from mlopsctl_stage.cli import main

    text = OWNED_STAGED_DATA + VERTEX + PIPELINE + SCHEDULE + TRIGGERS
    text += "security:\n  kms:\n    data: {}\n  defaultKmsKey: data\n" if keyed else ""
    graph = _graphs(tmp_path / "config", text)[DEV]
    template = _one(graph, BUCKET_OBJECT, "pipeline-train").inputs
    stored = local_root / "gcs" / template["bucket"] / template["name"]
    stored.parent.mkdir(parents=True)
    stored.write_text(template["content"])
    landed = local_root / "gcs" / "demo-dev-us-central1-raw" / "incoming" / "day=1.csv"
    landed.parent.mkdir(parents=True)
    landed.write_text("x\n")
    [container] = _triggers(graph)[0].inputs["template"]["template"]["containers"]
    scheduled = json.loads(
        base64.b64decode(_one(graph, SCHEDULER_JOB, "train-schedule").inputs["httpTarget"]["body"])
    )
    with fake_vertex_pipelines.serve() as vertex:
        monkeypatch.setenv("MLOPSCTL_VERTEX_ENDPOINT", vertex.url)
        main(["start-run", *container["args"]])
        config = json.loads(container["args"][1])
        del config["whenNewData"]
        main(["start-run", "--config", json.dumps({**config, "parameters": {"lr": 0.5, "epochs": 3}})])
    parent = "/v1/projects/acme-demo-dev/locations/us-central1/pipelineJobs"
    assert vertex.listed == [parent]  # the new-data trigger looked for the last run first
    [(path, _, triggered), (_, _, started)] = vertex.created
    assert path == parent
    assert triggered == {
        **scheduled,
        "runtimeConfig": {**scheduled["runtimeConfig"], "parameterValues": {"lr": 0.1, "epochs": 3}},
    }
    assert started == scheduled
    key = "projects/acme-demo-dev/locations/us-central1/keyRings/demo-dev/cryptoKeys/data"
    assert scheduled.get("encryptionSpec") == ({"kmsKeyName": key} if keyed else None)


def test_run_config_is_the_retrain_entry_of_a_monitor(tmp_path: pathlib.Path) -> None:
    ctx = _contexts(tmp_path, OWNED_STAGED_DATA + VERTEX + PIPELINE)[DEV]
    config = run_config(ctx, "train", {"lr": 1.0})
    assert set(config) == STAGE_KEYS - {"whenNewData"}
    assert config["parameters"] == {"lr": 1.0}
    assert (
        config["pipelineSpecUri"]
        == f"gs://{ROOT_BUCKET}/{_one(ctx.graph, BUCKET_OBJECT, 'pipeline-train').inputs['name']}"
    )
