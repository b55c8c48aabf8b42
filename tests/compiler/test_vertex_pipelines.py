"""Pipelines placed on Vertex AI: versioned templates, schedules and new-data triggers, no Kubeflow object."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import pathlib
import re
import sys
from typing import Any

import fake_vertex_pipelines
import pytest
from helpers import OWNED_STAGED_DATA, compile_text, write

from mlopsctl.api import validate
from mlopsctl.compiler import STEPS
from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.iam import PROJECT_IAM_MEMBER
from mlopsctl.compiler.provenance import VOLATILE, without
from mlopsctl.compiler.vertex_pipelines import (
    BUCKET_OBJECT,
    RUN_JOB,
    RUN_JOB_IAM_MEMBER,
    SCHEDULER_JOB,
    run_config,
)
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource
from mlopsctl.pulumi.program import create

sys.path.append(str(pathlib.Path(__file__).resolve().parents[1] / "pulumi"))  # the shared Pulumi mocks
from mocked import Recorder, run

DEV = Target("dev", "us-central1")
PROD = Target("prod", "us-central1")
VERTEX = "placement:\n  pipelines: vertex\n"
PIPELINE = """\
pipelines:
  train:
    parameters: {lr: 0.1, epochs: 3}
    steps:
      ingest:
        kind: ingest
        source: {bigquery: {dataset: features, table: rows}}
        outputs: {examples: dataset}
      fit:
        image: trainer:1
        command: [python, train.py]
        inputs: {data: ingest.examples, lr: params.lr}
        outputs: {model: model}
        resources: {cpu: "2", memory: 8Gi}
"""
SCHEDULE = '    schedule: {cron: "0 3 * * *", timeZone: Europe/Paris, parameters: {lr: 0.5}}\n'
TRIGGERS = """\
    triggers:
      - newData: {bucket: raw, prefix: incoming/}
      - newData: {dataset: features, table: events}
      - newData: {dataset: features}
"""
ROOT_BUCKET = "demo-dev-us-central1-pipeline-root"
ACCOUNT = "pl-train-dev-usc1@acme-demo-dev.iam.gserviceaccount.com"
LABELS = {
    "managed-by": "mlopsctl",
    "mlops-env": "dev",
    "mlops-pipeline": "train",
    "mlops-project": "demo",
    "mlops-region": "us-central1",
}
KUBEFLOW = ("kubeflow.org", "CronJob")
STAGE_KEYS = {
    "backend",
    "project",
    "location",
    "pipelineSpecUri",
    "pipelineRoot",
    "displayName",
    "serviceAccount",
    "labels",
    "parameters",
    "whenNewData",
}
"""The keys of ``start-run`` with ``backend: vertex``, as docs/stages.md lists them."""
RUN_JOB_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
SCHEDULER_JOB_NAME = re.compile(r"^[A-Za-z0-9_-]{1,500}$")


def _contexts(tmp_path: pathlib.Path, text: str) -> dict[Target, BuildContext]:
    """Every target built by every step but ``schedules``: its CronJobs are Kubeflow's, and what it
    emits for pipelines on Vertex AI is its own concern."""
    validation = validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    contexts = {}
    for target, checked in validation.targets.items():
        ctx = contexts[target] = BuildContext(checked.config, target, tmp_path)
        for name, step in STEPS:
            if name != "schedules":
                step(ctx)
        ctx.graph.validate_references()
    return contexts


def _graphs(tmp_path: pathlib.Path, text: str) -> dict[Target, Graph]:
    return {target: ctx.graph for target, ctx in _contexts(tmp_path, text).items()}


def _one(graph: Graph, type_: str, name: str) -> Any:
    return graph.resources[f"{graph.target}/{type_}/{name}"]


def _address(type_: str, name: str, target: Target = DEV) -> str:
    return f"{target}/{type_}/{name}"


def _spec(graph: Graph) -> Any:
    return json.loads(_one(graph, BUCKET_OBJECT, "pipeline-train").inputs["content"])


def test_a_pipeline_on_vertex_is_a_template_object_and_no_kubeflow_object(tmp_path: pathlib.Path) -> None:
    graph = compile_text(tmp_path, OWNED_STAGED_DATA + VERTEX + PIPELINE)[DEV]
    template = _one(graph, BUCKET_OBJECT, "pipeline-train")
    content = template.inputs["content"]
    digest = hashlib.sha256(content.encode()).hexdigest()[:16]
    assert dict(template.inputs) == {
        "bucket": ROOT_BUCKET,
        "name": f"pipelines/train/{digest}.json",
        "content": content,
        "contentType": "application/json",
    }
    assert content == json.dumps(json.loads(content), sort_keys=True, separators=(",", ":"))
    assert template.depends_on == (_address("gcp:storage/bucket:Bucket", "pipeline-root"),)
    spec = _spec(graph)
    assert spec["pipelineInfo"]["name"] == "train"
    assert spec["defaultPipelineRoot"] == f"gs://{ROOT_BUCKET}/root"
    assert spec["root"]["inputDefinitions"]["parameters"]["epochs"]["defaultValue"] == 3
    assert not [r.address for r in graph if any(kind in r.type for kind in KUBEFLOW)]
    assert not [r for r in graph if r.type in (SCHEDULER_JOB, RUN_JOB)]


def test_the_run_account_may_create_pipeline_jobs_and_read_the_template(tmp_path: pathlib.Path) -> None:
    graph = compile_text(tmp_path, OWNED_STAGED_DATA + VERTEX + PIPELINE)[DEV]
    grant = _one(graph, PROJECT_IAM_MEMBER, "pipeline-train-aiplatform-user")
    assert dict(grant.inputs) == {
        "project": "acme-demo-dev",
        "role": "roles/aiplatform.user",
        "member": f"serviceAccount:{ACCOUNT}",
    }
    assert grant.depends_on == (_address("gcp:serviceaccount/account:Account", "pipeline-train"),)
    # The template is in the pipeline root, whose objects the account administers (the iam step).
    root = _one(
        graph, "gcp:storage/bucketIAMMember:BucketIAMMember", "pipeline-train-object-admin-pipeline-root"
    )
    assert root.inputs["bucket"] == ROOT_BUCKET and root.inputs["member"] == f"serviceAccount:{ACCOUNT}"
    # Nothing starts runs with the account's own token: it need not act as itself.
    assert not [r for r in graph if r.name.endswith("-act-as-self")]


def test_step_resources_reach_the_spec(tmp_path: pathlib.Path) -> None:
    spec = _spec(compile_text(tmp_path, OWNED_STAGED_DATA + VERTEX + PIPELINE)[DEV])
    resources = spec["deploymentSpec"]["executors"]["exec-fit"]["container"]["resources"]
    assert (resources["resourceCpuLimit"], resources["resourceMemoryLimit"]) == ("2", "8Gi")


@pytest.mark.parametrize(
    ("edit", "renamed"),
    [
        (("image: trainer:1", "image: trainer:2"), True),
        (("{lr: 0.1, epochs: 3}", "{lr: 0.2, epochs: 3}"), True),
        (("    raw: {}\n", "    raw: {}\n    extra: {}\n"), False),
    ],
)
def test_the_template_is_a_new_object_exactly_when_the_spec_changes(
    tmp_path: pathlib.Path, edit: tuple[str, str], renamed: bool
) -> None:
    text = OWNED_STAGED_DATA + VERTEX + PIPELINE
    before = _one(compile_text(tmp_path / "a", text)[DEV], BUCKET_OBJECT, "pipeline-train")
    after = _one(compile_text(tmp_path / "b", text.replace(*edit, 1))[DEV], BUCKET_OBJECT, "pipeline-train")
    assert (before.inputs["name"] != after.inputs["name"]) is renamed
    assert (before.inputs["content"] != after.inputs["content"]) is renamed


def test_dev_on_vertex_and_prod_on_gke_compile_side_by_side(tmp_path: pathlib.Path) -> None:
    text = OWNED_STAGED_DATA + PIPELINE
    mixed = text.replace(
        "    regions: [us-central1]\n",
        "    regions: [us-central1]\n    overrides:\n      placement: {pipelines: vertex}\n",
        1,
    )
    graphs = compile_text(tmp_path / "mixed", mixed)
    dev, prod = graphs[DEV], graphs[PROD]
    assert [r.type for r in dev if r.type.endswith((":PipelineVersion", ":Pipeline", ":Profile"))] == []
    assert _spec(dev)["pipelineInfo"]["name"] == "train"
    assert [r.name for r in prod if r.type.endswith(":PipelineVersion")] != []
    assert [r for r in prod if r.type == BUCKET_OBJECT or r.name.endswith("-aiplatform-user")] == []
    # GKE targets compile exactly as they did without Vertex AI anywhere (but for the mlops.yaml line
    # each object names: the override moved them).
    alone = compile_text(tmp_path / "gke", text)
    for target in (PROD, Target("prod", "europe-west4")):
        assert _steady(graphs[target]) == _steady(alone[target])


def _steady(graph: Graph) -> dict[str, Resource]:
    """The resources of ``graph`` without the provenance that changes with each edit or commit."""
    return {
        a: dataclasses.replace(r, inputs=without(r.type, r.inputs, VOLATILE))
        for a, r in graph.resources.items()
    }


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


def test_pipelines_sharing_an_account_share_its_grants(tmp_path: pathlib.Path) -> None:
    text = (
        OWNED_STAGED_DATA
        + VERTEX
        + PIPELINE.replace("    parameters:", "    serviceAccount: runner\n    parameters:")
    )
    text += SCHEDULE + PIPELINE.replace("pipelines:\n  train:", "  retrain:").replace(
        "    parameters:", "    serviceAccount: runner\n    parameters:"
    )
    text += SCHEDULE + "security:\n  serviceAccounts:\n    runner: {}\n"
    graph = _graphs(tmp_path, text)[DEV]
    grants = sorted(r.name for r in graph if r.name.endswith(("-aiplatform-user", "-act-as-self")))
    assert grants == ["account-runner-act-as-self", "account-runner-aiplatform-user"]
    assert len([r for r in graph if r.type == SCHEDULER_JOB]) == 2


def test_the_stage_starts_the_same_pipeline_job_a_schedule_posts(
    tmp_path: pathlib.Path, local_root: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compiled configs against the stage runtime itself: a new-data trigger's ``start-run`` reads
    the template and creates the PipelineJob that the schedule's request body holds."""
    from mlopsctl_stage.cli import main

    graph = _graphs(tmp_path / "config", OWNED_STAGED_DATA + VERTEX + PIPELINE + SCHEDULE + TRIGGERS)[DEV]
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


def test_run_config_is_the_retrain_entry_of_a_monitor(tmp_path: pathlib.Path) -> None:
    ctx = _contexts(tmp_path, OWNED_STAGED_DATA + VERTEX + PIPELINE)[DEV]
    config = run_config(ctx, "train", {"lr": 1.0})
    assert set(config) == STAGE_KEYS - {"whenNewData"}
    assert config["parameters"] == {"lr": 1.0}
    assert (
        config["pipelineSpecUri"]
        == f"gs://{ROOT_BUCKET}/{_one(ctx.graph, BUCKET_OBJECT, 'pipeline-train').inputs['name']}"
    )


def test_the_pulumi_program_registers_templates_schedules_and_triggers(tmp_path: pathlib.Path) -> None:
    graph = _graphs(tmp_path, OWNED_STAGED_DATA + VERTEX + PIPELINE + SCHEDULE + TRIGGERS)[DEV]
    recorder = Recorder()
    run(lambda: create(graph), recorder, stack="dev-us-central1")
    registered = {(r.type, r.name): r for r in recorder.resources}
    ours = [r for r in graph if r.type in (BUCKET_OBJECT, SCHEDULER_JOB, RUN_JOB, RUN_JOB_IAM_MEMBER)]
    assert len(ours) == 1 + 1 + 3 + 3 + 3
    for resource in ours:
        got = registered[resource.type, resource.name]
        assert {k: got.inputs[k] for k in resource.inputs} == _as_sent(resource.inputs), resource.address
    content = registered[BUCKET_OBJECT, "pipeline-train"].inputs["content"]  # pulumi-gcp's secret
    assert json.loads(content) == _spec(graph)


def _as_sent(value: Any) -> Any:
    """What the engine receives: numbers as floats."""
    if isinstance(value, dict):
        return {k: _as_sent(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_sent(v) for v in value]
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value
