"""The compiled retraining workflow (Cloud Workflows), executed: an alert's Pub/Sub message, as Eventarc
delivers it, through :mod:`workflows_fake` against a fake of Vertex AI's PipelineService."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from google.cloud.aiplatform_v1 import PipelineJob
from google.protobuf import json_format  # type: ignore[import-untyped, unused-ignore]
from helpers import compile_text
from pipeline_jobs_fake import FakeVertex, answer
from vertex_retrain_cases import PIPELINE_ACCOUNT, RETRAINING, TOPIC
from workflows_fake import STEP_LIMIT, DefinitionError, Request, Response, Workflow, WorkflowError

from mlopsctl.config.target import Target
from mlopsctl.graph import Graph

DEV = Target("dev", "us-central1")
WORKFLOW = "gcp:workflows/workflow:Workflow"
TEMPLATE = "gcp:storage/bucketObject:BucketObject"
LABELS = {
    "managed-by": "mlopsctl",
    "mlops-env": "dev",
    "mlops-project": "demo",
    "mlops-region": "us-central1",
}
REFRESH = """\
  refresh:
    parameters: {lr: 0.2, full: false}
    triggers:
      - monitor: shift
    steps:
      fit:
        image: trainer:1
        command: [python, refresh.py]
"""
TWO_PIPELINES = RETRAINING.replace("pipelines:\n", "pipelines:\n" + REFRESH, 1)
"""Monitor 'shift' retrains 'train' (actions.retrain) and 'refresh' (its trigger)."""


@pytest.fixture(scope="module")
def graphs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Graph]:
    return {
        name: compile_text(tmp_path_factory.mktemp(name), text)[DEV]
        for name, text in (("one", RETRAINING), ("two", TWO_PIPELINES))
    }


def _source(graph: Graph, monitor: str) -> str:
    return str(graph.resources[f"{DEV}/{WORKFLOW}/monitor-{monitor}-retrain"].inputs["sourceContents"])


def _event(data: str) -> dict[str, Any]:
    """The CloudEvent of a Pub/Sub message, as Eventarc passes it to a workflow (its runtime argument)."""
    return {
        "data": {
            "message": {"data": data, "messageId": "1", "publishTime": "2025-05-01T03:00:00Z"},
            "subscription": "projects/acme-demo-dev/subscriptions/eventarc-us-central1-retrain-sub-1",
        },
        "datacontenttype": "application/json",
        "id": "1",
        "source": f"//pubsub.googleapis.com/{TOPIC}",
        "specversion": "1.0",
        "time": "2025-05-01T03:00:00Z",
        "type": "google.cloud.pubsub.topic.v1.messagePublished",
    }


def _published(message: Any) -> str:
    return base64.b64encode(json.dumps(message).encode()).decode()


def _incident(state: str) -> str:
    """What Cloud Monitoring publishes on a ``pubsub`` channel: an incident, schema version 1.2."""
    incident = {
        "incident_id": "0.abc",
        "scoping_project_id": "acme-demo-dev",
        "policy_name": "demo dev slow",
        "state": state,
        "started_at": 1746068400,
        "ended_at": None if state == "open" else 1746072000,
        "summary": "latency over its objective",
    }
    return _published({"incident": incident, "version": "1.2"})


OPEN = _event(_incident("open"))


@pytest.mark.parametrize(
    ("data", "starts"),
    [
        pytest.param(_incident("open"), True, id="open-incident"),
        pytest.param(_incident("closed"), False, id="closed-incident"),
        pytest.param(_published({"version": "1.2", "payload": {}}), True, id="json-that-is-no-incident"),
        pytest.param(_published("drift"), True, id="json-that-is-no-map"),
        pytest.param(base64.b64encode(b"drift!").decode(), True, id="not-json"),
        pytest.param("not base64 at all", True, id="not-base64"),
    ],
)
def test_a_message_starts_the_pipeline_unless_its_incident_closed(
    graphs: dict[str, Graph], data: str, starts: bool
) -> None:
    """A message the workflow cannot read goes to its except branch, which leaves the state null: it
    starts runs, as an alert of unknown shape should."""
    vertex = FakeVertex()
    result = Workflow(_source(graphs["one"], "shift"), vertex).execute(_event(data))
    assert len(vertex.created) == int(starts)
    assert result == ({"train": vertex.jobs[-1]["name"]} if starts else "incident closed")


@pytest.mark.parametrize(
    ("monitor", "parameters"),
    [("shift", {"lr": 0.9, "epochs": 3}), ("slow", {"lr": 0.1, "epochs": 3})],
    ids=["drift-monitor-retrainParameters", "slo-monitor-pipeline-parameters"],
)
def test_the_run_is_a_pipeline_job_of_the_template_as_the_pipelines_account(
    graphs: dict[str, Graph], monitor: str, parameters: dict[str, float]
) -> None:
    vertex = FakeVertex()
    Workflow(_source(graphs["one"], monitor), vertex).execute(OPEN)
    [body] = vertex.created
    job = PipelineJob()
    json_format.ParseDict(body, job._pb, ignore_unknown_fields=False)
    template = graphs["one"].resources[f"{DEV}/{TEMPLATE}/pipeline-train"].inputs
    assert json_format.MessageToDict(job._pb.pipeline_spec) == json.loads(template["content"])
    assert (job.display_name, job.service_account) == ("train", PIPELINE_ACCOUNT)
    assert job.runtime_config.gcs_output_directory == f"gs://{template['bucket']}/root"
    assert dict(job.labels) == {**LABELS, "mlops-pipeline": "train"}
    assert json_format.MessageToDict(job._pb.runtime_config)["parameterValues"] == parameters


@pytest.mark.parametrize(
    ("labels", "state", "starts"),
    [
        ({"mlops-pipeline": "train"}, "PIPELINE_STATE_QUEUED", False),
        ({"mlops-pipeline": "train"}, "PIPELINE_STATE_PENDING", False),
        ({"mlops-pipeline": "train"}, "PIPELINE_STATE_RUNNING", False),
        ({"mlops-pipeline": "train"}, "PIPELINE_STATE_SUCCEEDED", True),
        ({"mlops-pipeline": "train"}, "PIPELINE_STATE_FAILED", True),
        ({"mlops-pipeline": "train"}, "PIPELINE_STATE_CANCELLED", True),
        ({"mlops-pipeline": "other"}, "PIPELINE_STATE_RUNNING", True),
        ({"mlops-pipeline": "train", "mlops-env": "prod"}, "PIPELINE_STATE_RUNNING", True),
        ({"mlops-pipeline": "train", "mlops-project": "other"}, "PIPELINE_STATE_RUNNING", True),
    ],
)
def test_only_a_run_of_the_pipeline_in_the_target_that_is_not_over_holds_a_new_one(
    graphs: dict[str, Graph], labels: dict[str, str], state: str, starts: bool
) -> None:
    vertex = FakeVertex()
    vertex.add({**LABELS, **labels}, state)
    result = Workflow(_source(graphs["one"], "shift"), vertex).execute(OPEN)
    assert len(vertex.created) == int(starts)
    assert result == {"train": vertex.jobs[-1]["name"] if starts else "already running"}


def test_a_monitor_that_fires_again_starts_no_second_run(graphs: dict[str, Graph]) -> None:
    vertex = FakeVertex()
    workflow = Workflow(_source(graphs["one"], "shift"), vertex)
    first, again = workflow.execute(OPEN), workflow.execute(OPEN)
    assert (first, again) == ({"train": vertex.jobs[0]["name"]}, {"train": "already running"})
    assert len(vertex.created) == 1


def test_each_pipeline_the_monitor_retrains_starts_once(graphs: dict[str, Graph]) -> None:
    vertex = FakeVertex()
    vertex.add({**LABELS, "mlops-pipeline": "refresh"}, "PIPELINE_STATE_RUNNING")
    workflow = Workflow(_source(graphs["two"], "shift"), vertex)
    assert workflow.execute(OPEN) == {"refresh": "already running", "train": vertex.jobs[-1]["name"]}
    vertex.jobs[0]["state"] = vertex.jobs[1]["state"] = "PIPELINE_STATE_SUCCEEDED"
    result = workflow.execute(OPEN)
    assert result == {"refresh": vertex.jobs[2]["name"], "train": vertex.jobs[3]["name"]}
    assert [(b["displayName"], b["runtimeConfig"]["parameterValues"]) for b in vertex.created] == [
        ("train", {"lr": 0.9, "epochs": 3}),
        ("refresh", {"lr": 0.9, "full": False}),
        ("train", {"lr": 0.9, "epochs": 3}),
    ]


@pytest.mark.parametrize(
    ("empty_pages", "state", "starts"),
    [
        pytest.param(1, "PIPELINE_STATE_RUNNING", False, id="empty-page-then-a-running-run"),
        pytest.param(4, "PIPELINE_STATE_QUEUED", False, id="empty-pages-then-a-queued-run"),
        pytest.param(3, None, True, id="empty-pages-and-no-run"),
        pytest.param(3, "PIPELINE_STATE_FAILED", True, id="empty-pages-and-a-run-that-is-over"),
        pytest.param(0, None, True, id="one-empty-last-page"),
    ],
)
def test_the_workflow_reads_every_page_before_it_starts_a_run(
    graphs: dict[str, Graph], empty_pages: int, state: str | None, starts: bool
) -> None:
    """A page may hold no run and still name a next one: the workflow lists each, passing its token."""
    vertex = FakeVertex(empty_pages=empty_pages)
    if state:
        vertex.add({**LABELS, "mlops-pipeline": "train"}, state)
    result = Workflow(_source(graphs["one"], "shift"), vertex).execute(OPEN)
    assert len(vertex.created) == int(starts)
    assert result == {"train": vertex.jobs[-1]["name"] if starts else "already running"}
    pages = empty_pages + (0 if starts else 1) or 1
    assert [q["pageToken"] for q in vertex.queries] == ["", *(f"page-{i}" for i in range(1, pages))]
    assert {(q["pageSize"], q["filter"]) for q in vertex.queries} == {("1", vertex.queries[0]["filter"])}


def test_an_empty_next_page_token_is_the_last_page(graphs: dict[str, Graph]) -> None:
    """``"nextPageToken": ""`` names no page (proto3's default); listing from the first again would loop."""
    vertex = FakeVertex()

    def lists_with_empty_tokens(request: Request) -> Response:
        response = vertex(request)
        if request.method != "GET":
            return response
        return answer(response.code, {**json.loads(response.body), "nextPageToken": ""})

    result = Workflow(_source(graphs["one"], "shift"), lists_with_empty_tokens).execute(OPEN)
    assert (result, len(vertex.queries)) == ({"train": vertex.jobs[-1]["name"]}, 1)


def test_a_workflow_that_never_ends_fails_at_the_step_limit() -> None:
    loop = [{"again": {"assign": [{"n": 1}], "next": "again"}}]
    with pytest.raises(WorkflowError) as failed:
        _run(loop)
    assert failed.value.value["tags"] == ["ResourceLimitError"]
    assert str(STEP_LIMIT) in failed.value.value["message"].replace(",", "")


def test_a_refused_create_fails_the_execution(graphs: dict[str, Graph]) -> None:
    vertex = FakeVertex(refuse_creates=403)
    with pytest.raises(WorkflowError) as failed:
        Workflow(_source(graphs["one"], "shift"), vertex).execute(OPEN)
    assert (failed.value.value["tags"], failed.value.value["code"]) == (["HttpError"], 403)
    assert failed.value.value["body"]["error"]["status"] == "PERMISSION_DENIED"


def _run(steps: list[Any], transport: Callable[[Request], Response] | None = None) -> Any:
    source = yaml.safe_dump({"main": {"steps": steps}})
    return Workflow(source, transport or FakeVertex()).execute()


def _guarded(expression: str) -> list[Any]:
    """Steps that return ``expression``, or the error it raises."""
    handler = {"as": "e", "steps": [{"failed": {"return": "${e}"}}]}
    return [{"t": {"try": {"steps": [{"r": {"return": expression}}]}, "except": handler}}]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('${"pipelineJobs" in {"pipelineJobs": []}}', True),
        ('${"nextPageToken" in {"pipelineJobs": []}}', False),
        ('${null == "closed"}', False),
        ('${1 == 1.0 AND NOT ("1" == 1)}', True),
        ('${map.get({"a": {"b": 2}}, ["a", "b"])}', 2),
        ('${map.get("no map", ["a", "b"])}', None),
        ('${json.decode(base64.decode("eyJhIjogWzEsIDJdfQ=="))["a"][1]}', 2),
        ('${{"a": 1}.b}', {"message": "key not found: b", "tags": ["KeyError"]}),
        ("${1 or true}", {"message": "'1' is 1, not a boolean", "tags": ["TypeError"]}),
    ],
)
def test_expressions_evaluate_as_workflows_documents(expression: str, expected: Any) -> None:
    assert _run(_guarded(expression)) == expected


@pytest.mark.parametrize(
    "steps",
    [
        _guarded('${sys.get_env("GOOGLE_CLOUD_PROJECT_ID")}'),
        _guarded("${1 if true else 2}"),
        _guarded("${undefined_name}"),
        _guarded("run-${1}"),
        [{"loop": {"for": {"value": "v", "in": [1]}, "steps": []}}],
        [{"jump": {"assign": [{"a": 1}], "next": "nowhere"}}],
    ],
    ids=["unknown-function", "python-only-syntax", "undefined-variable", "interpolation", "for", "bad-next"],
)
def test_what_the_fake_does_not_know_fails_the_test_even_inside_try(steps: list[Any]) -> None:
    with pytest.raises(DefinitionError):
        _run(steps)
