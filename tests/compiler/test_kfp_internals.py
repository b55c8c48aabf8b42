"""compiler.kfp_internals gives what kfp's public (slow) paths give, so a kfp upgrade that changes
either fails here.

No ``from __future__ import annotations``: kfp reads the types of a pipeline function's parameters.
"""

import json
import pathlib
from typing import Any

import pytest
import yaml
from kfp import compiler, components, dsl, kubernetes
from kfp.compiler.compiler_utils import KubernetesManifestOptions

from mlopsctl.compiler.kfp_internals import compiled, load_component, manifest_specs, set_container

STAGE = {
    "name": "train",
    "inputs": [{"name": "examples", "type": "Dataset"}, {"name": "rate", "type": "Float"}],
    "outputs": [{"name": "model", "type": "Model"}, {"name": "rows", "type": "Integer"}],
    "implementation": {
        "container": {
            "image": "registry.example/stages:1",
            "command": ["mlopsctl-stage", "train"],
            "args": [
                "--config",
                json.dumps({"label": "y", "note": "naïve ✓ 日本", "quote": 'it\'s "q"'}),
                "--examples",
                {"inputPath": "examples"},
                "--rate",
                {"inputValue": "rate"},
                "--model",
                {"outputUri": "model"},
                "--rows",
                {"outputPath": "rows"},
            ],
        }
    },
}
USER = {
    "name": "score",
    "inputs": [{"name": "item", "type": "String"}],
    "outputs": [],
    "implementation": {
        "container": {"image": "score:1", "command": ["score"], "args": ["--item", {"inputValue": "item"}]}
    },
}


@pytest.mark.parametrize("spec", [STAGE, USER], ids=["stage", "user step"])
def test_a_component_is_loaded_as_from_its_text(spec: dict[str, Any]) -> None:
    text = json.dumps(spec, sort_keys=True, ensure_ascii=False)
    loaded = load_component(spec)
    assert loaded.component_spec == components.load_component_from_text(text).component_spec
    assert loaded.component_yaml == text


@pytest.mark.parametrize(
    ("resources", "env", "setters"),
    [
        (
            {"cpu_request": "500m", "cpu_limit": "500m", "memory_request": "4Gi", "memory_limit": "4Gi"},
            {"A": "1", "B": "two"},
            lambda t: (
                t.set_cpu_request("500m")
                .set_cpu_limit("500m")
                .set_memory_request("4Gi")
                .set_memory_limit("4Gi")
                .set_env_variable("A", "1")
                .set_env_variable("B", "two")
            ),
        ),
        (
            {"accelerator_type": "nvidia.com/gpu", "accelerator_count": "2", "cpu_request": "2"},
            {},
            lambda t: t.set_cpu_request("2").set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(2),
        ),
        ({}, {}, lambda t: t),
    ],
    ids=["cpu, memory and variables", "accelerators", "nothing"],
)
def test_container_settings_are_those_of_kfps_setters(
    resources: dict[str, str], env: dict[str, str], setters: Any
) -> None:
    component = load_component(USER)
    tasks: list[Any] = []

    @dsl.pipeline(name="p")
    def pipeline() -> None:
        tasks.append(setters(component(item="a")))
        mine = component(item="a")
        set_container(mine, resources, env)
        tasks.append(mine)

    assert tasks[0].container_spec == tasks[1].container_spec
    assert pipeline.pipeline_spec is not None


@pytest.mark.parametrize("description", [None, "Trains.\nThen scores."])
def test_manifest_specs_are_those_kfps_compiler_writes(
    tmp_path: pathlib.Path, description: str | None
) -> None:
    train, score = load_component(STAGE), load_component(USER)

    @dsl.pipeline(name="demo", description=description, pipeline_root="gs://bucket/root")
    def pipeline(rate: float = 0.1) -> None:
        trained = train(
            examples=dsl.importer(artifact_uri="gs://x", artifact_class=dsl.Dataset).output, rate=rate
        )
        with dsl.If(trained.outputs["rows"] > 10, name="when-many"):
            task = score(item="a")
            kubernetes.add_node_selector(task, "pool", "gpu")

    path = tmp_path / "demo.yaml"
    options = KubernetesManifestOptions(
        pipeline_name="demo", pipeline_version_name="demo", namespace="team", include_pipeline_manifest=True
    )
    compiler.Compiler().compile(
        pipeline, str(path), kubernetes_manifest_format=True, kubernetes_manifest_options=options
    )
    pipeline_object, version_object = yaml.safe_load_all(path.read_text())
    specs = manifest_specs(compiled(pipeline), "demo")
    assert list(specs) == [pipeline_object["spec"], version_object["spec"]]
    assert json.dumps(specs) == json.dumps([pipeline_object["spec"], version_object["spec"]])  # keys in order
    assert "platformSpec" in version_object["spec"] and ("description" in version_object["spec"]) == bool(
        description
    )
