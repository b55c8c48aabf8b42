"""Submitted runs (``api.submit_run``) where the environment places its pipelines on GKE: one run of the
published PipelineVersion, created by kfp-server-api against a fake KFP API (tests/kfp_fake_api.py);
and what ``mlopsctl run NAME --env E`` prints."""

from __future__ import annotations

import json
import pathlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from api_helpers import refusal, submitted
from helpers import compile_text, run
from kfp_fake_api import FakeKfpApi, serving
from run_projects import project
from test_submit import PROJECT, write_project

from mlopsctl.compiler.pipelines import PIPELINE_VERSION
from mlopsctl.config.target import Target

DEV = Target("dev", "us-central1")
ACCOUNT = "pipeline-train-dev-usc1"
DISPLAY_NAME = re.compile(r"^train \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


@pytest.fixture
def kfp(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKfpApi]:
    monkeypatch.delenv("MLOPSCTL_KFP_HOST", raising=False)
    monkeypatch.delenv("MLOPSCTL_KFP_TOKEN", raising=False)
    with serving() as fake:
        yield fake


def _version(tmp_path: pathlib.Path, text: str = PROJECT, target: Target = DEV) -> Any:
    """The PipelineVersion of ``train`` in the compiled graph: what ``mlopsctl apply`` publishes."""
    graph = compile_text(tmp_path / "compiled", text)[target]
    [version] = [
        r
        for r in graph
        if r.type == PIPELINE_VERSION
        and r.inputs["metadata"]["labels"]["pipelines.kubeflow.org/pipeline"] == "train"
    ]
    return version


def _refusal(tmp_path: pathlib.Path, host: str) -> str:
    """Why a run of ``train`` in dev submitted to the KFP API at ``host`` was refused."""
    config = write_project(tmp_path)
    return refusal(lambda: submitted(config, "train", env="dev", kfp_host=host))


def _created_run(kfp: FakeKfpApi) -> dict[str, Any]:
    [request] = [r for r in kfp.requests if r.route == "create_run"]
    assert isinstance(request.body, dict)
    return request.body


def test_a_run_of_the_published_version_in_the_pipelines_experiment(
    tmp_path: pathlib.Path, kfp: FakeKfpApi
) -> None:
    version = _version(tmp_path).inputs["metadata"]
    ids = kfp.publish("demo", "train", "train-0123456789", version["name"])
    result = submitted(write_project(tmp_path), "train", env="dev", params={"epochs": "7"}, kfp_host=kfp.url)
    assert kfp.routes() == [
        "get_pipeline",
        "list_versions",
        "list_experiments",
        "create_experiment",
        "create_run",
    ]
    assert kfp.requests[0].query == {"namespace": "demo"}
    [experiment] = kfp.experiments
    assert (experiment["display_name"], experiment["namespace"]) == ("train", "demo")
    body = _created_run(kfp)
    assert DISPLAY_NAME.match(body.pop("display_name"))
    assert body == {
        "experiment_id": experiment["experiment_id"],
        "pipeline_version_reference": {
            "pipeline_id": ids["pipeline_id"],
            "pipeline_version_id": ids[version["name"]],
        },
        "runtime_config": {"parameters": {"lr": 0.1, "epochs": 7, "tag": "base"}},
        "service_account": ACCOUNT,
    }
    assert kfp.requests[-1].query == {"experiment_id": experiment["experiment_id"]}
    [created] = kfp.runs
    assert (result.target, result.env, result.region) == ("gke", "dev", "us-central1")
    assert result.run_id == created["run_id"]
    assert result.link == f"{kfp.url}/#/runs/details/{created['run_id']}"
    assert result.summary() == (
        f"Submitted run {created['run_id']} of pipeline train (demo/{version['name']}) "
        "to Kubeflow Pipelines in dev/us-central1."
    )
    assert {r.authorization for r in kfp.requests} == {None}


def test_the_run_is_the_one_a_schedule_starts(tmp_path: pathlib.Path, kfp: FakeKfpApi) -> None:
    """Namespace, version, experiment and account are those of the schedule's ``start-run`` config."""
    scheduled = PROJECT.replace(
        "    parameters: {lr: 0.1, epochs: 3, tag: base}\n",
        '    parameters: {lr: 0.1, epochs: 3, tag: base}\n    schedule: {cron: "0 3 * * *"}\n',
    )
    graph = compile_text(tmp_path / "compiled", scheduled)[DEV]
    cronjob = graph.resources[f"{DEV}/kubernetes:batch/v1:CronJob/train-schedule"].inputs
    container = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    starter = json.loads(container["args"][container["args"].index("--config") + 1])
    ids = kfp.publish(starter["namespace"], starter["pipeline"], starter["pipelineVersion"])
    submitted(project(tmp_path, scheduled, code={}), "train", env="dev", kfp_host=kfp.url)
    body = _created_run(kfp)
    assert body["pipeline_version_reference"]["pipeline_version_id"] == ids[starter["pipelineVersion"]]
    assert body["service_account"] == starter["serviceAccount"]
    assert body["runtime_config"]["parameters"] == starter["parameters"]
    assert [(e["display_name"], e["namespace"]) for e in kfp.experiments] == [
        (starter["experiment"], starter["namespace"])
    ]


def test_host_and_token_from_the_environment_and_an_existing_experiment(
    tmp_path: pathlib.Path, kfp: FakeKfpApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = _version(tmp_path).inputs["metadata"]["name"]
    kfp.publish("demo", "train", version)
    experiment = kfp.add_experiment("demo", "train")
    kfp.add_experiment("other", "train")
    monkeypatch.setenv("MLOPSCTL_KFP_HOST", kfp.url.removeprefix("http://") + "/")
    monkeypatch.setenv("MLOPSCTL_KFP_TOKEN", "token-for-pipelines")
    result = submitted(write_project(tmp_path), "train", env="dev")
    assert "create_experiment" not in kfp.routes()
    assert _created_run(kfp)["experiment_id"] == experiment
    assert {r.authorization for r in kfp.requests} == {"Bearer token-for-pipelines"}
    document = result.to_json()
    run_id = kfp.runs[0]["run_id"]
    display_name = document.pop("displayName")
    assert isinstance(display_name, str) and DISPLAY_NAME.match(display_name)
    assert document == {
        "pipeline": "train",
        "target": "gke",
        "env": "dev",
        "region": "us-central1",
        "runId": run_id,
        "link": f"{kfp.url}/#/runs/details/{run_id}",
        "parameters": {"lr": 0.1, "epochs": 3, "tag": "base"},
        "source": f"demo/{version}",
    }


def test_a_pipeline_not_published_yet(tmp_path: pathlib.Path, kfp: FakeKfpApi) -> None:
    assert _refusal(tmp_path, kfp.url) == (
        f"pipeline train in namespace demo is not published on {kfp.url}: "
        "apply the environment first (mlopsctl apply)"
    )
    assert "create_run" not in kfp.routes()


def test_a_version_not_applied_yet(tmp_path: pathlib.Path, kfp: FakeKfpApi) -> None:
    version = _version(tmp_path).inputs["metadata"]["name"]
    kfp.publish("demo", "train", "train-0123456789")
    assert _refusal(tmp_path, kfp.url) == (
        f"pipeline train in namespace demo on {kfp.url} has no version {version}: apply the "
        "environment first (mlopsctl apply), so that the cluster has the version this config compiles to"
    )
    assert kfp.runs == []


TOKEN_HINT = (
    " (multi-user Kubeflow Pipelines wants a token: set MLOPSCTL_KFP_TOKEN to one for the audience "
    "pipelines.kubeflow.org, e.g. from `kubectl create token`)"
)


@pytest.mark.parametrize(
    ("route", "status", "message", "subject", "token", "hint"),
    [
        ("create_run", 403, "User is not authorized to create runs", "run 'train ", None, TOKEN_HINT),
        ("create_run", 403, "User is not authorized to create runs", "run 'train ", "t0ken", ""),
        ("list_experiments", 400, "Invalid filter", "experiment train in namespace demo: ", None, ""),
        ("get_pipeline", 500, "database is locked", "pipeline train in namespace demo: ", None, ""),
    ],
)
def test_an_api_error_is_one_line(
    tmp_path: pathlib.Path,
    kfp: FakeKfpApi,
    monkeypatch: pytest.MonkeyPatch,
    route: str,
    status: int,
    message: str,
    subject: str,
    token: str | None,
    hint: str,
) -> None:
    kfp.publish("demo", "train", _version(tmp_path).inputs["metadata"]["name"])
    kfp.fail(route, status, message)
    if token:
        monkeypatch.setenv("MLOPSCTL_KFP_TOKEN", token)
    found = _refusal(tmp_path, kfp.url)
    assert found.startswith(subject), found
    assert found.endswith(f": KFP API at {kfp.url}: {status} {message}{hint}"), found
    assert "\n" not in found
    assert kfp.runs == []


def test_an_unreachable_api_is_one_line(tmp_path: pathlib.Path, kfp: FakeKfpApi) -> None:
    found = _refusal(tmp_path, "http://127.0.0.1:9")
    assert found.startswith(
        "pipeline train in namespace demo: KFP API at http://127.0.0.1:9 is unreachable "
        "(is the port-forward running?): "
    ), found
    assert "\n" not in found


# The CLI: the run's link on stdout and what was submitted on stderr (or one JSON document); a
# refusal is one line, exit 1.


def test_cli_prints_the_link_and_the_summary(tmp_path: pathlib.Path, kfp: FakeKfpApi) -> None:
    version = _version(tmp_path).inputs["metadata"]["name"]
    kfp.publish("demo", "train", version)
    code, stdout, stderr = run("run", "train", write_project(tmp_path), "--env", "dev", "--kfp-host", kfp.url)
    assert code == 0, stderr
    [created] = kfp.runs
    assert stdout == f"{kfp.url}/#/runs/details/{created['run_id']}\n"
    assert stderr == (
        f"Submitted run {created['run_id']} of pipeline train (demo/{version}) "
        "to Kubeflow Pipelines in dev/us-central1.\n"
    )


def test_cli_json_is_the_submitted_run_alone(
    tmp_path: pathlib.Path, kfp: FakeKfpApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    kfp.publish("demo", "train", _version(tmp_path).inputs["metadata"]["name"])
    monkeypatch.setenv("MLOPSCTL_KFP_HOST", kfp.url)
    code, stdout, stderr = run("run", "train", write_project(tmp_path), "--env", "dev", "-f", "json")
    assert (code, stderr) == (0, "")
    document = json.loads(stdout)
    assert (document["target"], document["runId"]) == ("gke", kfp.runs[0]["run_id"])


def test_cli_a_refused_run_is_one_line(tmp_path: pathlib.Path, kfp: FakeKfpApi) -> None:
    code, stdout, stderr = run("run", "train", write_project(tmp_path), "-e", "dev", "--kfp-host", kfp.url)
    assert (code, stdout) == (1, "")
    assert stderr.startswith("error: pipeline train in namespace demo is not published on "), stderr
    assert stderr.count("\n") == 1
