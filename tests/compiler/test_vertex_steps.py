"""Steps of pipelines on Vertex AI: each asks for its own machine (CPU and memory limits, accelerators by
their Vertex AI type), carries no Kubernetes setting, and still runs locally."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from google.protobuf import json_format  # type: ignore[import-untyped, unused-ignore]
from helpers import OWNED_STAGED_DATA, compile_text, write
from kfp.pipeline_spec import pipeline_spec_pb2

from mlopsctl.api import validate
from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.kfp_dag import LAUNCHER_MEMORY, Launcher, StepSettings, compile_pipeline
from mlopsctl.compiler.pipelines import compile_for_target, step_settings
from mlopsctl.compiler.vertex_pipelines import BUCKET_OBJECT
from mlopsctl.config.models.pipelines import Pipeline
from mlopsctl.config.models.placement import Runtime
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import JSON, Graph
from mlopsctl.run.local import Workspace, run_pipeline

DEV = Target("dev", "us-central1")
VERTEX = "placement: {pipelines: vertex}\n"
POOL = "accelerators:\n  gpu: {type: gpu, accelerator: nvidia-l4, count: 2}\n"
PIPELINE = """\
pipelines:
  train:
    steps:
      fit:
        image: trainer:1
        code: trainer
        command: [python, fit.py]
        outputs: {model: model}
        retries: 2
        env: {SEED: "7"}
        resources: RESOURCES
"""
GPU = '{cpu: "4", memory: 16Gi, accelerators: 2, acceleratorType: NVIDIA_L4}'
FIT = """\
import os, pathlib, sys
model = pathlib.Path(sys.argv[sys.argv.index("--model") + 1])
model.mkdir(parents=True, exist_ok=True)
(model / "model.txt").write_text(os.environ["SEED"])
"""


def _template(graph: Graph, pipeline: str = "train") -> dict[str, JSON]:
    """The PipelineSpec a pipeline on Vertex AI is published as (its template object's content)."""
    [template] = [r for r in graph if r.type == BUCKET_OBJECT and r.name == f"pipeline-{pipeline}"]
    spec: dict[str, JSON] = json.loads(template.inputs["content"])
    return spec


def _project(folder: pathlib.Path, resources: str, edit: tuple[str, str] = ("", "")) -> pathlib.Path:
    """An mlops.yaml with the trainer's code folder, its step asking for ``resources``."""
    write(folder / "trainer", FIT, "fit.py")
    return write(folder, OWNED_STAGED_DATA + VERTEX + PIPELINE.replace("RESOURCES", resources).replace(*edit))


def _graph(folder: pathlib.Path, resources: str) -> Graph:
    _project(folder, resources)
    return compile_text(folder, (folder / "mlops.yaml").read_text())[DEV]


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        (
            GPU,
            {
                # Vertex AI reads resourceType/resourceCount; kfp also writes the deprecated type/count.
                "accelerator": {
                    "count": "2",
                    "resourceCount": "2",
                    "resourceType": "NVIDIA_L4",
                    "type": "NVIDIA_L4",
                },
                "cpuLimit": 4.0,
                "memoryLimit": 17.179869184,
                "resourceCpuLimit": "4",
                "resourceMemoryLimit": "16Gi",
            },
        ),
        # The type alone is one accelerator, as kfp's set_accelerator_type has it.
        (
            "{acceleratorType: NVIDIA_TESLA_T4}",
            {
                "accelerator": {
                    "count": "1",
                    "resourceCount": "1",
                    "resourceType": "NVIDIA_TESLA_T4",
                    "type": "NVIDIA_TESLA_T4",
                }
            },
        ),
        ("{cpu: 500m}", {"cpuLimit": 0.5, "resourceCpuLimit": "500m"}),
        ("{}", None),  # Vertex AI's default machine
    ],
)
def test_a_step_asks_vertex_ai_for_its_machine_by_limits_and_accelerator_type(
    tmp_path: pathlib.Path, resources: str, expected: dict[str, JSON] | None
) -> None:
    spec = _template(_graph(tmp_path, resources))
    container = spec["deploymentSpec"]["executors"]["exec-fit"]["container"]
    assert container.get("resources") == expected  # limits only: requests are Kubernetes'
    assert container["env"] == [{"name": "SEED", "value": "7"}]
    assert spec["root"]["dag"]["tasks"]["fit"]["retryPolicy"]["maxRetryCount"] == 2
    json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())  # kfp's own schema accepts it


def _compiled(path: pathlib.Path, runtime: Runtime) -> Any:
    validation = validate(ConfigSource(path, "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    ctx = BuildContext(validation.targets[DEV].config, DEV, path.parent)
    pipeline = ctx.config.pipelines["train"]
    settings = step_settings(ctx, "train", pipeline, in_mesh=False, runtime=runtime)
    return compile_for_target("train", "demo", pipeline, settings, "gs://root/root")


@pytest.mark.parametrize(("runtime", "accelerator"), [("gke", "nvidia.com/gpu"), ("vertex", "NVIDIA_L4")])
def test_only_steps_on_gke_have_kubernetes_settings(
    tmp_path: pathlib.Path, runtime: Runtime, accelerator: str
) -> None:
    """The same config's steps compiled for each runtime (checks refuse pools and timeouts on Vertex AI)."""
    on_a_pool = ("        retries: 2\n", "        retries: 2\n        timeout: 2h\n")
    path = _project(tmp_path, GPU.replace("}", ", nodePool: gpu}"), on_a_pool)
    path.write_text(path.read_text().replace(VERTEX, POOL))
    compiled = _compiled(path, runtime)
    # The pool's node selector and tolerations, and the pod's deadline.
    assert (compiled.platform_spec is not None) is (runtime == "gke")
    resources = compiled.pipeline_spec["deploymentSpec"]["executors"]["exec-fit"]["container"]["resources"]
    assert resources["accelerator"]["resourceType"] == accelerator
    assert ("resourceCpuRequest" in resources) is (runtime == "gke")


@pytest.mark.parametrize("runtime", ["gke", "vertex"])
def test_a_launcher_holds_no_accelerator_of_its_replicas(runtime: Runtime) -> None:
    pipeline = Pipeline.model_validate(
        {
            "steps": {
                "spread": {
                    "kind": "train",
                    "image": "trainer:1",
                    "command": ["torchrun", "train.py"],
                    "distributed": {"framework": "pytorch", "workers": 2},
                    "resources": {"cpu": "8", "accelerators": 4, "acceleratorType": "NVIDIA_L4"},
                }
            }
        }
    )
    launcher = Launcher("stages:1", "system", None)
    settings = StepSettings("trainer:1", {}, None, None, launcher=launcher, runtime=runtime)
    compiled = compile_pipeline("p", pipeline, {"spread": settings}, "gs://root/root")
    container = compiled.pipeline_spec["deploymentSpec"]["executors"]["exec-spread"]["container"]
    assert container["image"] == "stages:1"
    assert "accelerator" not in container["resources"]
    assert container["resources"]["resourceMemoryLimit"] == LAUNCHER_MEMORY
    assert ("resourceCpuRequest" in container["resources"]) is (runtime == "gke")


def test_a_local_run_runs_the_vertex_ai_spec(tmp_path: pathlib.Path) -> None:
    folder = tmp_path / "project"
    spec = _template(_graph(folder, GPU))
    workspace = Workspace(tmp_path / "out", {"trainer:1": folder / "trainer"}, declared={"train": ("fit",)})
    workspace.write_settings()
    result = run_pipeline(workspace, spec, {}, "train")
    [outcome] = result.steps.values()
    assert outcome.status == "succeeded", outcome
    assert (pathlib.Path(str(outcome.outputs["model"])) / "model.txt").read_text() == "7"
