"""What each compiled executor runs: the stage runtime with role flags, a launcher, or the user's command."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from conftest import EXAMPLES
from executor_cases import NODE_POOL, TFX, _executor, _first_target, _placement, _stage_names, _tfx, _versions
from helpers import OWNED_STAGED_DATA, compile_text


@pytest.fixture(scope="module")
def tfx(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _tfx(tmp_path_factory.mktemp("tfx"))


def test_the_documented_stages_are_known() -> None:
    assert {
        "ingest",
        "batch-predict",
        "train-job",
        "tune-job",
        "drift",
        "skew",
        "start-run",
    } <= _stage_names()


def test_every_executor_has_a_command_and_names_a_documented_stage(tfx: dict[str, Any]) -> None:
    """KFP's launcher runs the command with the args: an executor without one runs args[0]."""
    stages = _stage_names()
    named = set()
    specs = [dict(v.inputs["spec"]) for path in EXAMPLES for v in _versions(_first_target(path))]
    for spec in [*specs, tfx]:
        for name, executor in spec["pipelineSpec"]["deploymentSpec"]["executors"].items():
            command = executor["container"]["command"]
            assert command, name
            assert "--stage" not in executor["container"]["args"], name
            if command[0] == "mlopsctl-stage":
                assert command[1] in stages, name
                named.add(command[1])
    assert {"ingest", "statistics", "schema", "validate", "transform", "evaluate", "push"} <= named
    assert {"tune-job", "train-job", "batch-predict"} <= named


def test_built_in_stages_get_a_role_flag_per_input_and_output(tfx: dict[str, Any]) -> None:
    spec = tfx

    def flags(step: str) -> list[Any]:
        container = _executor(spec, step)
        assert container["image"] == "registry.example/stages:1"
        assert container["command"] == ["mlopsctl-stage", step if step != "prep" else "transform"]
        assert container["args"][0] == "--config"
        return list(container["args"][2:])

    def path(io: str, name: str) -> str:
        section = (
            "artifacts" if name not in ("n", "ok", "auc_pr", "blessed", "recall", "uri") else "parameters"
        )
        field = "path" if section == "artifacts" else "output_file"
        return f"{{{{$.{io}.{section}['{name}'].{field}}}}}"

    assert flags("ingest") == ["--examples", path("outputs", "examples")]
    # validate tells its two artifact inputs apart by the kind of step that wrote them.
    assert _executor(spec, "check")["command"] == ["mlopsctl-stage", "validate"]
    assert _executor(spec, "check")["args"][2:] == [
        "--schema",
        path("inputs", "s"),
        "--statistics",
        path("inputs", "t"),
        "--anomalies",
        path("outputs", "found"),
        "--anomaly-count",
        path("outputs", "n"),
        "--passed",
        path("outputs", "ok"),
    ]
    # In name order, whatever the order of mlops.yaml (the PipelineVersion's name hashes them).
    assert flags("prep") == [
        "--examples",
        path("inputs", "examples"),
        "--schema",
        path("inputs", "schema"),
        "--transform-graph",
        path("outputs", "graph"),
        "--transformed",
        path("outputs", "out"),
    ]
    assert flags("evaluate") == [
        "--examples",
        path("inputs", "examples"),
        "--model",
        path("inputs", "model"),
        "--metric",
        "auc_pr",
        path("outputs", "auc_pr"),
        "--blessed",
        path("outputs", "blessed"),
        "--metrics",
        path("outputs", "metrics"),
        "--metric",
        "recall",
        path("outputs", "recall"),
    ]
    assert flags("push") == ["--model", path("inputs", "model"), "--pushed-uri", path("outputs", "uri")]


def test_stage_configs_are_resolved_for_the_target(tfx: dict[str, Any]) -> None:
    spec = tfx

    def config(step: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(_executor(spec, step)["args"][1])
        return loaded

    assert config("ingest") == {
        "source": {"bigquery": {"table": "acme-demo-dev.features_dev_us_central1.tx"}},
        "split": {"eval": 0.2, "seed": 0},
        "label": "is_fraud",
    }
    assert config("stats") == config("infer") == config("check") == {}
    # The label is the one the ingest step of its examples declares.
    assert config("prep") == {
        "transforms": {"amount": {"type": "log"}, "kind": {"type": "fill", "value": "unknown"}},
        "label": "is_fraud",
    }
    assert config("evaluate") == {"thresholds": {"auc_pr": {"min": 0.8}}, "label": None}
    assert config("push") == {
        "model": "clf",
        "framework": "sklearn",
        "registry": "gs://acme-models/registry/clf/",
    }
    tune = config("search")
    assert set(tune) == {"experiment", "searchSpace", "objective"}
    assert tune["experiment"]["kind"] == "Experiment"
    assert tune["searchSpace"] == {"lr": {"type": "double", "min": 0.001, "max": 0.1, "scale": "linear"}}
    assert tune["objective"] == {"metric": "auc_pr", "goal": "maximize"}
    assert set(config("fit")) == {"job"}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "{bigquery: {dataset: features, query: 'SELECT 1'}}",
            {"bigquery": {"query": "SELECT 1", "project": "acme-demo-dev"}},
        ),
        (
            "{gcs: raw/in/, format: parquet}",
            {"gcs": "gs://demo-dev-us-central1-raw/in/", "format": "parquet"},
        ),
        ("{gcs: raw}", {"gcs": "gs://demo-dev-us-central1-raw/"}),
    ],
)
def test_ingest_sources(tmp_path: pathlib.Path, source: str, expected: dict[str, Any]) -> None:
    text = TFX.replace("source: {bigquery: {dataset: features, table: tx}}", f"source: {source}")
    assert json.loads(_executor(_tfx(tmp_path, text), "ingest")["args"][1])["source"] == expected


def test_launchers_hand_uris_to_the_pods_they_create(tfx: dict[str, Any]) -> None:
    spec = tfx
    tune, train = _executor(spec, "search"), _executor(spec, "fit")
    assert tune["command"] == ["mlopsctl-stage", "tune-job"]
    assert tune["args"][2:] == [
        "--input",
        "data",
        "{{$.inputs.artifacts['data'].uri}}",
        "--input",
        "tag",
        "{{$.inputs.parameters['tag']}}",
        "--best-hyperparameters",
        "{{$.outputs.artifacts['best'].path}}",
    ]
    assert train["command"] == ["mlopsctl-stage", "train-job"]
    assert train["args"][2:] == [
        "--input",
        "data",
        "{{$.inputs.artifacts['data'].uri}}",
        "--input",
        "epochs",
        "{{$.inputs.parameters['epochs']}}",
        "--input",
        "hp",
        "{{$.inputs.artifacts['hp'].uri}}",
        "--output",
        "model",
        "{{$.outputs.artifacts['model'].uri}}",
    ]
    # The trials run the step's own image and command.
    trial = json.loads(tune["args"][1])["experiment"]["spec"]["trialTemplate"]["trialSpec"]
    [container] = trial["spec"]["template"]["spec"]["containers"]
    assert (container["image"], container["command"]) == ("trainer:1", ["python", "trial.py"])


CPU_POOL = "  cpu: {type: cpu, autoscaling: {minNodes: 1}}\n"
NODE_POOL_OF_TRAIN = "  train:\n    nodePool: {}\n"


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        # The pipeline's own pool, when it is a CPU pool (even a spot one).
        (
            [
                (CPU_POOL, CPU_POOL + "  small: {type: cpu, spot: true}\n"),
                ("  train:\n", NODE_POOL_OF_TRAIN.format("small")),
            ],
            "small",
        ),
        # Else the first CPU pool that can host system workloads.
        ([("  train:\n", NODE_POOL_OF_TRAIN.format("gpu"))], "cpu"),
        ([], "cpu"),
        # Else the pool the cluster adds for them.
        ([(CPU_POOL, "  small: {type: cpu, spot: true}\n")], "system"),
    ],
)
def test_launchers_run_on_a_cpu_pool_without_accelerators(
    tmp_path: pathlib.Path, edits: list[tuple[str, str]], expected: str
) -> None:
    text = TFX
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    spec = _tfx(tmp_path, text)
    for step in ("search", "fit"):
        resources = _executor(spec, step)["resources"]
        assert "accelerator" not in resources
        assert (resources["resourceCpuRequest"], resources["resourceMemoryLimit"]) == ("100m", "256Mi")
        placement = _placement(spec, step)
        assert placement["nodeSelector"] == {"labels": {NODE_POOL: expected}}
        assert all(t["key"] != "nvidia.com/gpu" for t in placement.get("tolerations", []))


def test_user_steps_run_their_command_then_args_then_inputs_and_outputs(tfx: dict[str, Any]) -> None:
    container = _executor(tfx, "report")
    assert (container["image"], container["command"]) == ("report:1", ["python", "report.py"])
    assert container["args"] == [
        "--verbose",
        "--literal",
        "{{$.inputs.parameters['literal']}}",
        "--model",
        "{{$.inputs.artifacts['model'].path}}",
        "--rate",
        "{{$.inputs.parameters['rate']}}",
        "--summary",
        "{{$.outputs.parameters['summary'].output_file}}",
    ]


def test_parameters_are_root_inputs_with_defaults_wired_to_steps(tfx: dict[str, Any]) -> None:
    spec = tfx["pipelineSpec"]
    assert spec["root"]["inputDefinitions"]["parameters"] == {
        "epochs": {"parameterType": "NUMBER_INTEGER", "defaultValue": 3.0, "isOptional": True},
        "rate": {"parameterType": "NUMBER_DOUBLE", "defaultValue": 0.5, "isOptional": True},
        "tag": {"parameterType": "STRING", "defaultValue": "nightly", "isOptional": True},
        "full": {"parameterType": "BOOLEAN", "defaultValue": False, "isOptional": True},
    }
    tasks = spec["root"]["dag"]["tasks"]
    assert tasks["fit"]["inputs"]["parameters"]["epochs"] == {"componentInputParameter": "epochs"}
    assert tasks["search"]["inputs"]["parameters"]["tag"] == {"componentInputParameter": "tag"}


def test_every_spec_writes_under_the_pipeline_root(tmp_path: pathlib.Path) -> None:
    graphs = compile_text(tmp_path, OWNED_STAGED_DATA + TFX)
    for target, graph in graphs.items():
        root = f"gs://demo-{target.env}-{target.region}-pipeline-root/root"
        assert {v.inputs["spec"]["pipelineSpec"]["defaultPipelineRoot"] for v in _versions(graph)} == {root}


@pytest.mark.parametrize(
    ("step", "cache", "expected"),
    [
        ("ingest", None, {}),  # it reads data that changes: never reused by default
        ("ingest", "true", {"enableCache": True}),
        ("stats", None, {"enableCache": True}),
        ("stats", "false", {}),
    ],
)
def test_caching(tmp_path: pathlib.Path, step: str, cache: str | None, expected: dict[str, bool]) -> None:
    text = TFX
    if cache is not None:
        marker = (
            "      ingest:\n        kind: ingest\n"
            if step == "ingest"
            else "      stats:\n        kind: statistics\n"
        )
        text = text.replace(marker, f"{marker}        cache: {cache}\n")
    assert _tfx(tmp_path, text)["pipelineSpec"]["root"]["dag"]["tasks"][step]["cachingOptions"] == expected
