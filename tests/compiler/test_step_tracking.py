"""Steps that log to Vertex AI get the experiment and TensorBoard in their environment and the run's id as
``--run-id``, on both placements, through an input that Kubeflow Pipelines and Vertex AI fill in."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from helpers import OWNED_STAGED_DATA, compile_text
from tracking_cases import TRACKED

from mlopsctl.compiler.pipelines import PIPELINE_VERSION
from mlopsctl.compiler.vertex_pipelines import BUCKET_OBJECT
from mlopsctl.compiler.vertex_tracking import EXPERIMENT_ENV, RUN_ID, TENSORBOARD_ENV
from mlopsctl.config.target import Target
from mlopsctl.graph import JSON, Graph, canonical_json

DEV, PROD = Target("dev", "us-central1"), Target("prod", "us-central1")
PIPELINE = TRACKED.partition("  report:\n")[0].replace(  # train last: SPREAD adds a step to it
    "        outputs: {model: model}\n", '        outputs: {model: model}\n        env: {SEED: "7"}\n', 1
)
SPREAD = """\
      spread:
        kind: train
        image: trainer:1
        command: [torchrun, train.py]
        inputs: {data: ingest.examples, run_id: abc}
        outputs: {model: model}
        distributed: {framework: pytorch, workers: 2}
"""
"""A distributed train (GKE only): its train-job launcher logs the run; it has an input named run_id."""
EXPERIMENT = "projects/acme-demo-dev/locations/us-central1/metadataStores/default/contexts/demo-train-dev"
TENSORBOARD = "projects/acme-demo-dev/locations/us-central1/tensorboards/demo-dev-us-central1"
PLACEMENTS = {"gke": "", "vertex": "placement: {pipelines: vertex}\n"}


def _tracking(experiments: bool, tensorboard: bool) -> str:
    return f"tracking: {{experiments: {str(experiments).lower()}, tensorboard: {str(tensorboard).lower()}}}\n"


def _spec(graph: Graph) -> dict[str, Any]:
    """The compiled spec of pipeline ``train``: its PipelineVersion's (GKE) or its template's (Vertex AI)."""
    for resource in graph:
        if resource.type == PIPELINE_VERSION:
            spec: dict[str, Any] = resource.inputs["spec"]["pipelineSpec"]
            return spec
        if resource.type == BUCKET_OBJECT and resource.name == "pipeline-train":
            found: dict[str, Any] = json.loads(resource.inputs["content"])
            return found
    raise AssertionError("no compiled pipeline")


def _container(spec: dict[str, Any], step: str) -> dict[str, Any]:
    container: dict[str, Any] = spec["deploymentSpec"]["executors"][f"exec-{step}"]["container"]
    return container


def _env(spec: dict[str, Any], step: str) -> dict[str, str]:
    return {e["name"]: e["value"] for e in _container(spec, step).get("env", [])}


def _run_id(spec: dict[str, Any], step: str) -> JSON:
    """The run id a step is handed: the constant of the input its ``--run-id`` reads, or None."""
    args = _container(spec, step)["args"]
    if "--run-id" not in args:
        return None
    placeholder = args[args.index("--run-id") + 1]
    name = placeholder.removeprefix("{{$.inputs.parameters['").removesuffix("']}}")
    assert placeholder == f"{{{{$.inputs.parameters['{name}']}}}}"
    value: JSON = spec["root"]["dag"]["tasks"][step]["inputs"]["parameters"][name]["runtimeValue"]["constant"]
    return value


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize(
    ("experiments", "tensorboard", "expected"),
    [
        (False, False, {"ingest": {}, "fit": {"SEED": "7"}, "check": {}}),
        (True, False, {"ingest": {}, "fit": {"SEED": "7"}, "check": {EXPERIMENT_ENV: EXPERIMENT}}),
        (
            True,
            True,
            {
                "ingest": {},
                "fit": {"SEED": "7", TENSORBOARD_ENV: TENSORBOARD},
                "check": {EXPERIMENT_ENV: EXPERIMENT, TENSORBOARD_ENV: TENSORBOARD},
            },
        ),
    ],
)
def test_steps_that_log_get_the_experiment_tensorboard_and_run_id(
    tmp_path: pathlib.Path,
    placement: str,
    experiments: bool,
    tensorboard: bool,
    expected: dict[str, dict[str, str]],
) -> None:
    text = OWNED_STAGED_DATA + PIPELINE + _tracking(experiments, tensorboard) + PLACEMENTS[placement]
    spec = _spec(compile_text(tmp_path, text)[DEV])
    assert {step: _env(spec, step) for step in expected} == expected
    # Only a step told the experiment logs a run, the run of the pipeline's run.
    assert {step: _run_id(spec, step) for step in expected} == {
        "ingest": None,
        "fit": None,
        "check": RUN_ID if experiments else None,
    }


def test_the_run_id_placeholder_is_in_no_container_argument(tmp_path: pathlib.Path) -> None:
    """Kubeflow Pipelines' driver fills it in task inputs only: an argument would reach the stage verbatim."""
    spec = _spec(compile_text(tmp_path, OWNED_STAGED_DATA + PIPELINE + _tracking(True, True))[DEV])
    assert RUN_ID not in canonical_json(spec["deploymentSpec"])
    assert RUN_ID in canonical_json(spec["root"])
    [inputs] = [c["inputDefinitions"] for n, c in spec["components"].items() if n == "comp-check"]
    assert inputs["parameters"]["run_id"] == {"parameterType": "STRING"}


def test_a_train_job_launcher_logs_with_an_input_of_its_own(tmp_path: pathlib.Path) -> None:
    text = OWNED_STAGED_DATA + PIPELINE + SPREAD + _tracking(True, True)
    spec = _spec(compile_text(tmp_path, text)[DEV])
    args = _container(spec, "spread")["args"]
    # The step's own input run_id is passed on to the replicas; the run's id has an input of its own.
    assert args[args.index("run_id") + 1] == "{{$.inputs.parameters['run_id']}}"
    assert args[args.index("--run-id") + 1] == "{{$.inputs.parameters['run_id_2']}}"
    assert _run_id(spec, "spread") == RUN_ID
    assert _env(spec, "spread") == {EXPERIMENT_ENV: EXPERIMENT, TENSORBOARD_ENV: TENSORBOARD}


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_each_target_gets_its_own_experiment(tmp_path: pathlib.Path, placement: str) -> None:
    graphs = compile_text(
        tmp_path, OWNED_STAGED_DATA + PIPELINE + _tracking(True, True) + PLACEMENTS[placement]
    )
    dev, prod = (_env(_spec(graphs[t]), "check") for t in (DEV, PROD))
    assert dev[EXPERIMENT_ENV] == EXPERIMENT
    assert prod[EXPERIMENT_ENV] == EXPERIMENT.replace("dev", "prod")
    assert prod[TENSORBOARD_ENV] == TENSORBOARD.replace("dev", "prod")
    assert "mlopsctl-substituted" not in canonical_json(_spec(graphs[PROD]))
