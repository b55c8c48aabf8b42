from __future__ import annotations

import json
import pathlib
from typing import Any

from conftest import ROOT
from helpers import MINIMAL, compile_text, write

from mlopsctl.api import compile_graphs, validate
from mlopsctl.config.models.root import DEFAULT_STAGE_IMAGE
from mlopsctl.graph import Graph, Target
from mlopsctl.source import ConfigSource

DEV = Target("dev", "us-central1")
CRONJOB = "kubernetes:batch/v1:CronJob"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
PIPELINE = """\
pipelines:
  train:
    steps:
      fetch:
        image: fetcher:1
        command: [fetch]
        secrets: {TOKEN: api-token, OTHER: projects/shared-secrets/secrets/key/versions/3}
      fit:
        image: trainer:1
        command: [fit]
        secrets: {TOKEN: api-token}
        dependsOn: [fetch]
  plain:
    steps:
      only: {image: worker:1, command: [work]}
"""
STAGES = "  name: demo\n  stageImage: stages:1\n"


def _graph(tmp_path: pathlib.Path) -> Graph:
    return compile_text(tmp_path, MINIMAL.replace("  name: demo\n", STAGES) + PIPELINE)[DEV]


def _config(graph: Graph, name: str) -> dict[str, Any]:
    cronjob = graph.resources[f"{DEV}/{CRONJOB}/{name}"]
    container = cronjob.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["mlopsctl-stage", "sync-secrets"]
    [flag, config] = container["args"]
    assert flag == "--config"
    return dict(json.loads(config))


def test_each_secret_a_pipeline_reads_is_synced_once(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path)
    config = _config(graph, "train-secret-sync")
    assert config["namespace"] == "demo"
    assert [s["reference"] for s in config["secrets"]] == [
        "projects/acme-demo-dev/secrets/api-token/versions/latest",
        "projects/shared-secrets/secrets/key/versions/3",
    ]
    assert {s["key"] for s in config["secrets"]} == {"value"}
    assert [r.name for r in graph if r.type == CRONJOB] == ["train-secret-sync"]


def test_the_sync_runs_as_the_pipeline_and_may_write_only_its_secrets(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path)
    names = sorted(s["name"] for s in _config(graph, "train-secret-sync")["secrets"])
    cronjob = graph.resources[f"{DEV}/{CRONJOB}/train-secret-sync"]
    pod = cronjob.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "pipeline-train-dev-usc1"
    role = graph.resources[f"{DEV}/{ROLE}/pipeline-train-secret-sync"]
    assert role.inputs["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "verbs": ["get", "patch", "update"],
            "resourceNames": names,
        },
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
    ]


def test_the_synced_secret_is_the_one_the_step_reads() -> None:
    path = ROOT / "examples" / "projects" / "digits" / "mlops.yaml"
    graph = compile_graphs(validate(ConfigSource(path, "mlops.yaml", None)))[DEV]
    [synced] = _config(graph, "train-secret-sync")["secrets"]
    version = next(r for r in graph if r.type.endswith(":PipelineVersion"))
    platform = json.dumps(version.inputs["spec"]["platformSpec"])
    assert f'"secretName": "{synced["name"]}"' in platform or f'"{synced["name"]}"' in platform


def test_without_a_stage_image_the_sync_runs_the_release_image(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, MINIMAL + PIPELINE)
    validation = validate(ConfigSource(path, "mlops.yaml", None))
    assert validation.ok, validation.diagnostics
    for graph in compile_graphs(validation).values():
        sync = next(r for r in graph if r.name == "train-secret-sync")
        [container] = sync.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        assert container["image"] == DEFAULT_STAGE_IMAGE
