from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from conftest import ROOT
from google.protobuf import json_format
from helpers import MINIMAL, WITH_DATA, write
from kfp.pipeline_spec import pipeline_spec_pb2
from upstream_schemas import UpstreamSchemas

from mlopsctl.api import compile_graphs, validate
from mlopsctl.config.models.root import DEFAULT_STAGE_IMAGE
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource
from mlopsctl.plan import diff_target
from mlopsctl.plan.diff import REPLACE, UPDATE
from mlopsctl.state import state_from_graph

DEV = Target("dev", "us-central1")
PROD_US = Target("prod", "us-central1")
PROD_EU = Target("prod", "europe-west1")
CRONJOB = "kubernetes:batch/v1:CronJob"
VERSION = "kubernetes:pipelines.kubeflow.org/v2beta1:PipelineVersion"
KFP_API = "ml-pipeline.kubeflow.svc.cluster.local:8888"
OWNED = "project:\n  name: demo\n  owner: ml-team@acme.example\n"
"""The project of a config that publishes pipelines (the owner of its Kubeflow Profile)."""
STAGE = OWNED + "  stageImage: stages:1\n"
PIPELINE = """\
pipelines:
  train:
    parameters: {epochs: 10, region: us, fast: false}
    steps:
      fit: {image: "trainer:1", command: [python, fit.py], args: [--fit]}
    schedule:
      cron: "0 3 * * *"
      concurrencyPolicy: Replace
      parameters: {epochs: 20, fast: true}
"""


def _triggered(*triggers: str) -> str:
    """PIPELINE with ``triggers`` (one flow mapping each)."""
    lines = "".join(f"      - {t}\n" for t in triggers)
    return PIPELINE.replace("    schedule:\n", f"    triggers:\n{lines}    schedule:\n")


def _config(*sections: str, base: str = WITH_DATA, stage: bool = True) -> str:
    text = base + "".join(sections)
    return text.replace("project:\n  name: demo\n", STAGE if stage else OWNED)


def _validation(tmp_path: pathlib.Path, text: str) -> Any:
    return validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None))


def _graphs(tmp_path: pathlib.Path, text: str) -> dict[Target, Graph]:
    validation = _validation(tmp_path, text)
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return compile_graphs(validation)


def _example(name: str) -> dict[Target, Graph]:
    path = ROOT / "examples" / "projects" / name / "mlops.yaml"
    return compile_graphs(validate(ConfigSource(path, str(path), None)))


def _cronjobs(graph: Graph) -> dict[str, Resource]:
    """The CronJobs that start pipeline runs (monitors have CronJobs of their own)."""
    return {
        r.name: r
        for r in graph
        if r.type == CRONJOB and r.inputs["metadata"]["labels"]["app.kubernetes.io/component"] != "monitoring"
    }


def _pod(cronjob: Resource) -> dict[str, Any]:
    return dict(cronjob.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"])


def _run_config(cronjob: Resource) -> dict[str, Any]:
    [container] = _pod(cronjob)["containers"]
    assert container["command"] == ["mlopsctl-stage", "start-run"]
    [flag, config] = container["args"]
    assert flag == "--config"
    return dict(json.loads(config))


def _version(graph: Graph, pipeline: str) -> Resource:
    [version] = [r for r in graph if r.type == VERSION and r.inputs["spec"]["pipelineName"] == pipeline]
    return version


def _schedule(cronjob: Resource) -> tuple[str, str, str]:
    spec = cronjob.inputs["spec"]
    return spec["schedule"], spec["timeZone"], spec["concurrencyPolicy"]


def test_digits_weekly_schedule() -> None:
    graph = _example("digits")[PROD_US]
    cronjob = _cronjobs(graph)["train-schedule"]
    assert _schedule(cronjob) == ("0 4 * * 1", "America/Chicago", "Forbid")
    assert _run_config(cronjob) == {
        "endpoint": KFP_API,
        "namespace": "digits",
        "pipeline": "train",
        "pipelineVersion": _version(graph, "train").name,
        "experiment": "train",
        "parameters": {"epochs": 20, "batch_size": 256},
        "serviceAccount": "pipeline-train-prod-usc1",
    }
    pod = _pod(cronjob)
    assert pod["serviceAccountName"] == "pipeline-train-prod-usc1"
    assert pod["containers"][0]["image"] == "us-docker.pkg.dev/acme-vision/digits/stages:1.4.2"
    spec = cronjob.inputs["spec"]
    assert (spec["startingDeadlineSeconds"], spec["jobTemplate"]["spec"]["backoffLimit"]) == (300, 2)
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 3)


def test_sensor_anomaly_schedule_trigger_and_batch_job() -> None:
    graph = _example("sensor-anomaly")[PROD_EU]
    cronjobs = _cronjobs(graph)
    [trigger] = [name for name in cronjobs if name.startswith("anomaly-on-landing-")]
    assert sorted(cronjobs) == sorted(["anomaly-schedule", trigger, "batch-daily-scores-schedule"])
    assert _schedule(cronjobs["anomaly-schedule"]) == ("0 2 * * 1", "Europe/Brussels", "Forbid")
    assert _schedule(cronjobs[trigger]) == ("*/10 * * * *", "Etc/UTC", "Forbid")
    assert _run_config(cronjobs[trigger])["whenNewData"] == {
        "gcs": "gs://sensors-prod-europe-west1-landing/gateway-exports/"
    }
    batch = cronjobs["batch-daily-scores-schedule"]
    assert _schedule(batch) == ("30 5 * * *", "Europe/Brussels", "Forbid")
    config = _run_config(batch)
    assert (config["pipeline"], config["pipelineVersion"]) == (
        "batch-daily-scores",
        _version(graph, "batch-daily-scores").name,
    )
    assert config["serviceAccount"] == _pod(batch)["serviceAccountName"] == "batch-daily-scores-prod-euw1"


def test_batch_job_is_a_one_step_pipeline_on_its_node_pool() -> None:
    spec = _version(_example("sensor-anomaly")[PROD_EU], "batch-daily-scores").inputs["spec"]
    parsed = json_format.ParseDict(spec["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    json_format.ParseDict(spec["platformSpec"], pipeline_spec_pb2.PlatformSpec())
    assert parsed.pipeline_info.name == "batch-daily-scores"
    [task] = spec["pipelineSpec"]["root"]["dag"]["tasks"].values()
    assert task["cachingOptions"] == {}
    [executor] = spec["pipelineSpec"]["deploymentSpec"]["executors"].values()
    assert executor["container"]["image"] == "europe-docker.pkg.dev/acme-plant/sensors/stages:2.3.0"
    assert executor["container"]["command"] == ["mlopsctl-stage", "batch-predict"]
    assert executor["container"]["args"][0] == "--config"
    [k8s] = spec["platformSpec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"].values()
    assert k8s["nodeSelector"] == {"labels": {"cloud.google.com/gke-nodepool": "highmem"}}
    assert k8s["tolerations"] == [
        {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ]
    # It calls the endpoint through the mesh (STRICT mTLS), so it runs with a sidecar that lets it finish.
    assert k8s["podMetadata"] == {
        "labels": {"sidecar.istio.io/inject": "true"},
        "annotations": {"sidecar.istio.io/nativeSidecar": "true"},
    }


def test_pipeline_steps_run_outside_the_mesh() -> None:
    spec = _version(_example("sensor-anomaly")[PROD_EU], "anomaly").inputs["spec"]
    executors = spec["platformSpec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert executors and not any("podMetadata" in e for e in executors.values())


BATCH = """\
accelerators:
  cpu: {type: cpu}
models:
  scorer:
    framework: sklearn
    versions:
      v1: {artifactUri: "gs://models/scorer/v1"}
endpoints:
  api: {variants: {main: {model: scorer, version: v1}}}
batchJobs:
  nightly:
    model: scorer
    version: v1
    input: {gcs: raw/incoming/}
    output: {bigquery: {dataset: features, table: scores}}
    nodePool: cpu
"""


def _batch_executor(graph: Graph) -> dict[str, Any]:
    spec = _version(graph, "batch-nightly").inputs["spec"]
    [executor] = spec["pipelineSpec"]["deploymentSpec"]["executors"].values()
    return dict(executor["container"])


def test_batch_job_without_schedule_is_published_and_not_scheduled(tmp_path: pathlib.Path) -> None:
    graph = _graphs(tmp_path, _config(BATCH))[DEV]
    assert _cronjobs(graph) == {}
    container = _batch_executor(graph)
    assert container["command"] == ["mlopsctl-stage", "batch-predict"]
    [flag, config] = container["args"]
    assert flag == "--config"
    assert json.loads(config) == {
        "model": {"name": "scorer", "version": "v1", "uri": "gs://models/scorer/v1", "framework": "sklearn"},
        "endpoint": {
            "url": "http://api-main-predictor.demo.svc.cluster.local",
            "protocol": "v1",
            "modelName": "api-main",
        },
        "input": {"gcs": "gs://demo-dev-us-central1-raw/incoming/"},
        "output": {"bigquery": {"table": "acme-demo-dev.features_dev_us_central1.scores"}},
        "batchSize": 64,
        "concurrency": 4,
        "retries": 3,
    }
    assert "accelerator" not in container.get("resources", {})


@pytest.mark.parametrize(
    ("endpoints", "protocol", "url"),
    [
        # The first variant serving the version over HTTP; Triton speaks v2.
        (
            "endpoints:\n"
            "  grpc-only: {protocols: [grpc], variants: {main: {model: scorer, version: v1}}}\n"
            "  api:\n"
            "    rollout: {strategy: canary, baseline: old, candidate: new, steps: [10, 100]}\n"
            "    variants:\n"
            "      old: {model: scorer, version: v0}\n"
            "      new: {model: scorer, version: v1}\n",
            "v2",
            "http://api-new-predictor.demo.svc.cluster.local",
        ),
        # A step of an inference graph serves it too.
        (
            "endpoints:\n  chain:\n    graph:\n      steps:\n"
            "        first: {model: scorer, version: v0}\n        second: {model: scorer, version: v1}\n",
            "v2",
            "http://chain-second-predictor.demo.svc.cluster.local",
        ),
    ],
)
def test_batch_job_calls_an_endpoint_serving_its_version(
    tmp_path: pathlib.Path, endpoints: str, protocol: str, url: str
) -> None:
    batch = BATCH.replace(
        '      v1: {artifactUri: "gs://models/scorer/v1"}\n',
        '      v0: {artifactUri: "gs://models/scorer/v0"}\n      v1: {artifactUri: "gs://models/scorer/v1"}\n',
    ).replace("sklearn", "onnx")
    batch = batch.replace("endpoints:\n  api: {variants: {main: {model: scorer, version: v1}}}\n", endpoints)
    config = json.loads(_batch_executor(_graphs(tmp_path, _config(batch))[DEV])["args"][1])
    assert (config["endpoint"]["url"], config["endpoint"]["protocol"]) == (url, protocol)


def test_schedule_parameters_overlay_pipeline_parameters(tmp_path: pathlib.Path) -> None:
    graph = _graphs(tmp_path, _config(PIPELINE))[DEV]
    cronjob = _cronjobs(graph)["train-schedule"]
    assert _run_config(cronjob)["parameters"] == {"epochs": 20, "region": "us", "fast": True}
    assert _schedule(cronjob) == ("0 3 * * *", "Etc/UTC", "Replace")


def test_changed_pipeline_changes_the_version_the_cronjob_starts(tmp_path: pathlib.Path) -> None:
    before = _graphs(tmp_path / "a", _config(PIPELINE))[DEV]
    after = _graphs(tmp_path / "b", _config(PIPELINE.replace("trainer:1", "trainer:2")))[DEV]
    old, new = (
        _run_config(_cronjobs(before)["train-schedule"]),
        _run_config(_cronjobs(after)["train-schedule"]),
    )
    assert old["pipelineVersion"] != new["pipelineVersion"] == _version(after, "train").name
    state = state_from_graph(before, project="demo", source_commit=None, config_hash="x")
    changes = {c.address: c.actions for c in diff_target(DEV, after, state).changes}
    assert changes[_cronjobs(after)["train-schedule"].address] == UPDATE
    assert changes[_version(after, "train").address] == ("create",)
    assert changes[_version(before, "train").address] == ("delete",)
    assert REPLACE not in changes.values()


@pytest.mark.parametrize(
    ("trigger", "name_prefix", "watched"),
    [
        (
            "{bucket: raw, prefix: drops/}",
            "train-on-raw-",
            {"gcs": "gs://demo-dev-us-central1-raw/drops/"},
        ),
        ("{bucket: raw}", "train-on-raw-", {"gcs": "gs://demo-dev-us-central1-raw/"}),
        (
            "{dataset: features, table: events}",
            "train-on-features-",
            {"bigquery": {"table": "acme-demo-dev.features_dev_us_central1.events"}},
        ),
        (
            "{dataset: features}",
            "train-on-features-",
            {"bigquery": {"dataset": "acme-demo-dev.features_dev_us_central1"}},
        ),
    ],
)
def test_new_data_trigger_polls(
    tmp_path: pathlib.Path, trigger: str, name_prefix: str, watched: dict[str, Any]
) -> None:
    text = _config(_triggered(f"newData: {trigger}"))
    cronjobs = _cronjobs(_graphs(tmp_path, text)[DEV])
    [name] = [n for n in cronjobs if n != "train-schedule"]
    assert name.startswith(name_prefix) and len(name) == len(name_prefix) + 6
    config = _run_config(cronjobs[name])
    assert config["whenNewData"] == watched
    assert config["parameters"] == {"epochs": 10, "region": "us", "fast": False}
    assert _schedule(cronjobs[name]) == ("*/10 * * * *", "Etc/UTC", "Forbid")


def test_triggers_on_one_bucket_get_their_own_cronjobs(tmp_path: pathlib.Path) -> None:
    text = _config(_triggered("newData: {bucket: raw, prefix: a/}", "newData: {bucket: raw, prefix: b/}"))
    graph = _graphs(tmp_path, text)[DEV]
    watched = sorted(_run_config(c).get("whenNewData", {}).get("gcs", "") for c in _cronjobs(graph).values())
    assert watched == ["", "gs://demo-dev-us-central1-raw/a/", "gs://demo-dev-us-central1-raw/b/"]


def test_monitor_triggers_are_left_to_monitors(tmp_path: pathlib.Path) -> None:
    monitor = """\
endpoints:
  api: {variants: {main: {model: m, version: v1}}}
models:
  m: {framework: sklearn, versions: {v1: {artifactUri: "gs://models/m/v1"}}}
monitors:
  up: {type: availability, endpoint: api, objective: 99.9, actions: {retrain: train}}
"""
    text = _config(_triggered("monitor: up"), monitor)
    assert sorted(_cronjobs(_graphs(tmp_path, text)[DEV])) == ["train-schedule"]


SHARED = """\
security:
  serviceAccounts:
    runner: {description: runs both pipelines}
pipelines:
  a:
    serviceAccount: runner
    steps: {s: {image: "x:1", command: [run]}}
    schedule: {cron: "0 1 * * *"}
  b:
    serviceAccount: runner
    steps: {s: {image: "x:1", command: [run]}}
    schedule: {cron: "0 2 * * *"}
"""


def test_shared_account_gets_one_role_of_each_kind_and_the_cronjobs_depend_on_them(
    tmp_path: pathlib.Path,
) -> None:
    graph = _graphs(tmp_path, _config(SHARED))[DEV]
    ksa = "account-runner-dev-usc1"
    roles = {r.name: r for r in graph if r.type.endswith(":Role")}
    bindings = {r.name: r for r in graph if r.type.endswith(":RoleBinding")}
    assert sorted(roles) == sorted(bindings) == [f"{ksa}-run-steps", f"{ksa}-runs"]
    for name, binding in bindings.items():
        assert binding.inputs["subjects"] == [{"kind": "ServiceAccount", "name": ksa, "namespace": "demo"}]
        assert binding.inputs["roleRef"]["name"] == name
        assert roles[name].inputs["metadata"]["namespace"] == "demo"
    assert {
        "apiGroups": ["pipelines.kubeflow.org"],
        "resources": ["runs"],
        "verbs": ["create"],
    } in roles[f"{ksa}-runs"].inputs["rules"]
    for cronjob in _cronjobs(graph).values():
        assert _pod(cronjob)["serviceAccountName"] == ksa
        assert set(cronjob.depends_on) == {
            "dev/us-central1/kubernetes:core/v1:Namespace/demo",
            f"dev/us-central1/kubernetes:core/v1:ServiceAccount/{ksa}",
            _version(graph, cronjob.name.removesuffix("-schedule")).address,
            *(b.address for b in bindings.values()),
        }


def test_every_object_is_valid_upstream_and_restricted(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas
) -> None:
    text = _config(_triggered("newData: {bucket: raw}"))
    graph = _graphs(
        tmp_path,
        text + BATCH.replace("    nodePool: cpu\n", "    nodePool: cpu\n    schedule: {cron: '0 1 * * *'}\n"),
    )[DEV]
    objects = [r for r in graph if r.type.split(":")[1] in ("batch/v1", "rbac.authorization.k8s.io/v1")]
    assert len(objects) == 3 + 2 * 2 * 2  # CronJobs; per account, two Roles and their RoleBindings
    for resource in objects:
        assert upstream_schemas.validate(dict(resource.inputs)) == [], resource.address
        assert resource.inputs["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "mlopsctl"
    for cronjob in _cronjobs(graph).values():
        pod = _pod(cronjob)
        assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
        [container] = pod["containers"]
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["resources"]["requests"] == {"cpu": "100m", "memory": "128Mi"}


@pytest.mark.parametrize("sections", [PIPELINE, _triggered("newData: {bucket: raw}")])
def test_runs_start_from_the_release_image_by_default(tmp_path: pathlib.Path, sections: str) -> None:
    for graph in _graphs(tmp_path, _config(sections, stage=False)).values():
        cronjobs = _cronjobs(graph).values()
        assert cronjobs and {_pod(c)["containers"][0]["image"] for c in cronjobs} == {DEFAULT_STAGE_IMAGE}


def test_batch_pipeline_name_must_be_free(tmp_path: pathlib.Path) -> None:
    pipeline = "pipelines:\n  batch-nightly:\n    steps: {s: {image: 'x:1', command: [run]}}\n"
    validation = _validation(tmp_path, _config(BATCH, pipeline))
    [diagnostic] = [d for d in validation.diagnostics if d.code == "E310"]
    assert diagnostic.to_dict()["path"] == "pipelines.batch-nightly"
    assert "batch job 'nightly'" in diagnostic.message


def test_minimal_config_has_no_runs(tmp_path: pathlib.Path) -> None:
    graph = _graphs(tmp_path, MINIMAL)[DEV]
    assert [r for r in graph if r.type == CRONJOB or r.type.startswith("kubernetes:rbac")] == []
