from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from conftest import EXAMPLES
from google.protobuf import json_format
from helpers import MINIMAL as UNOWNED
from helpers import OWNED, write
from helpers import STAGED as UNOWNED_STAGED
from kfp.pipeline_spec import pipeline_spec_pb2

from mlopsctl.api import compile_graphs, validate
from mlopsctl.compiler import build_graph
from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.kfp_dag import compile_pipeline
from mlopsctl.compiler.kfp_internals import CompiledPipeline
from mlopsctl.compiler.pipelines import compile_for_target, step_settings
from mlopsctl.config.models.placement import Runtime
from mlopsctl.config.naming import namespace, pipeline_root
from mlopsctl.config.project import Validation
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, canonical_json

DEV = Target("dev", "us-central1")
OWNER = "  name: demo\n  owner: ml-team@acme.example\n"
MINIMAL = UNOWNED.replace("  name: demo\n", OWNER)
"""A project that may publish pipelines: its owner owns the Kubeflow Profile of its namespace."""
STAGED = UNOWNED_STAGED.replace("  name: demo\n", OWNER)
PIPELINE = """\
accelerators:
  gpu: {type: gpu, accelerator: nvidia-l4, count: 1, spot: true}
pipelines:
  train:
    steps:
      ingest:
        image: ingest:1
        command: [ingest]
        outputs: {examples: dataset, rows: integer}
      train:
        image: trainer:1
        command: [python, train.py]
        inputs: {data: ingest.examples, learning_rate: 0.1}
        outputs: {model: model}
        when: {output: ingest.rows, operator: ">", value: 1000}
        resources: {cpu: "3", memory: 12Gi, accelerators: 1, nodePool: gpu}
        retries: 2
        timeout: 2h
        cache: false
      report:
        image: report:1
        command: [report]
        inputs: {model: train.model}
      shard:
        image: shard:1
        command: [shard]
        parallelFor: {items: [a, b, c], parallelism: 2}
        dependsOn: [ingest]
"""


def _graph(tmp_path: pathlib.Path, text: str) -> Graph:
    validation = validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return compile_graphs(validation)[DEV]


def _version(graph: Graph) -> dict[str, Any]:
    [version] = [r for r in graph if r.type.endswith(":PipelineVersion")]
    return dict(version.inputs)


def test_pipeline_and_version_objects(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path, OWNED + PIPELINE)
    pipeline = graph.resources["dev/us-central1/kubernetes:pipelines.kubeflow.org/v2beta1:Pipeline/train"]
    version = _version(graph)
    assert version["metadata"]["name"].startswith("train-")
    assert version["metadata"]["namespace"] == "demo"
    assert version["spec"]["pipelineName"] == "train"
    assert (
        pipeline.address
        in graph.resources[
            f"dev/us-central1/kubernetes:pipelines.kubeflow.org/v2beta1:PipelineVersion/{version['metadata']['name']}"
        ].depends_on
    )


def test_spec_loads_back_into_kfp_protos(tmp_path: pathlib.Path) -> None:
    spec = _version(_graph(tmp_path, OWNED + PIPELINE))["spec"]
    parsed = json_format.ParseDict(spec["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    assert parsed.pipeline_info.name == "train"
    json_format.ParseDict(spec["platformSpec"], pipeline_spec_pb2.PlatformSpec())


def test_condition_wraps_the_step_and_its_consumers(tmp_path: pathlib.Path) -> None:
    spec = _version(_graph(tmp_path, OWNED + PIPELINE))["spec"]["pipelineSpec"]
    root = spec["root"]["dag"]["tasks"]
    [condition] = [t for t in root.values() if "triggerPolicy" in t]
    assert condition["taskInfo"]["name"] == "when-train"
    assert "> 1000" in condition["triggerPolicy"]["condition"]
    inner = spec["components"][condition["componentRef"]["name"]]["dag"]["tasks"]
    assert set(inner) == {"train", "report"}
    assert inner["report"]["inputs"]["artifacts"]["model"]["taskOutputArtifact"] == {
        "outputArtifactKey": "model",
        "producerTask": "train",
    }


def test_step_settings_reach_the_executor(tmp_path: pathlib.Path) -> None:
    spec = _version(_graph(tmp_path, OWNED + PIPELINE))["spec"]
    container = spec["pipelineSpec"]["deploymentSpec"]["executors"]["exec-train"]["container"]
    assert container["image"] == "trainer:1"
    accelerator = container["resources"]["accelerator"]
    assert (accelerator["resourceCount"], accelerator["resourceType"]) == ("1", "nvidia.com/gpu")
    assert container["resources"]["cpuLimit"] == 3.0
    assert container["args"][-2:] == ["--model", "{{$.outputs.artifacts['model'].path}}"]
    k8s = spec["platformSpec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-train"]
    assert k8s["nodeSelector"] == {"labels": {"cloud.google.com/gke-nodepool": "gpu"}}
    assert {t["key"] for t in k8s["tolerations"]} == {"nvidia.com/gpu", "cloud.google.com/gke-spot"}
    assert k8s["activeDeadlineSeconds"] == "7200"
    task = spec["pipelineSpec"]["components"]
    tasks = next(c["dag"]["tasks"] for c in task.values() if "dag" in c and "train" in c["dag"]["tasks"])
    assert tasks["train"]["retryPolicy"]["maxRetryCount"] == 2
    assert tasks["train"]["cachingOptions"] == {}


def test_parallel_for_loops_over_items(tmp_path: pathlib.Path) -> None:
    spec = _version(_graph(tmp_path, OWNED + PIPELINE))["spec"]["pipelineSpec"]
    [loop] = [t for t in spec["root"]["dag"]["tasks"].values() if "parameterIterator" in t]
    assert loop["parameterIterator"]["items"]["raw"] == json.dumps(["a", "b", "c"])
    assert loop["iteratorPolicy"] == {"parallelismLimit": 2}


def test_version_name_follows_the_spec(tmp_path: pathlib.Path) -> None:
    first = _version(_graph(tmp_path / "a", OWNED + PIPELINE))["metadata"]["name"]
    again = _version(_graph(tmp_path / "b", OWNED + PIPELINE))["metadata"]["name"]
    changed = _version(_graph(tmp_path / "c", OWNED + PIPELINE.replace("trainer:1", "trainer:2")))
    assert first == again
    assert changed["metadata"]["name"] != first


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_every_example_pipeline_loads_into_kfp(example: pathlib.Path) -> None:
    validation = validate(ConfigSource(example, str(example), None))
    versions = [
        r for g in compile_graphs(validation).values() for r in g if r.type.endswith(":PipelineVersion")
    ]
    assert versions
    for version in versions:
        json_format.ParseDict(version.inputs["spec"]["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())


@pytest.mark.parametrize(
    ("extra", "code", "fragment"),
    [
        (
            "pipelines:\n  p:\n    steps:\n      a: {image: x, command: [run], outputs: {n: integer}}\n"
            "      b: {image: x, command: [run], outputs: {m: integer}, when: {output: a.n, value: 1}}\n"
            "      c: {image: x, command: [run], outputs: {k: integer}, when: {output: a.n, value: 2}}\n"
            "      d: {image: x, command: [run], inputs: {x: b.m, y: c.k}}\n",
            "E309",
            "unrelated conditions",
        ),
        (
            "pipelines:\n  p:\n    steps:\n"
            "      a: {image: x, command: [run], outputs: {n: integer}, parallelFor: {items: [1, 2]}}\n"
            "      b: {image: x, command: [run], inputs: {x: a.n}}\n",
            "E309",
            "output of a parallelFor step",
        ),
        (
            "pipelines:\n  p:\n    steps:\n"
            "      a: {image: x, command: [run], parallelFor: {items: [1]}, inputs: {item: 2}}\n",
            "E310",
            "declares an input 'item'",
        ),
        (
            "pipelines:\n  p:\n    steps:\n"
            "      a: {image: x, command: [run], env: {TOKEN: t}, secrets: {TOKEN: api-token}}\n",
            "E310",
            "in both 'env' and 'secrets'",
        ),
        (
            "pipelines:\n  p:\n    steps:\n      a: {image: x, command: [run], inputs: {myInput: 1}}\n",
            "E205",
            "invalid name 'myInput'",
        ),
        (
            "models:\n  m: {framework: onnx, versions: {v1: {artifactUri: gs://bkt/m}}}\n"
            "pipelines:\n  p:\n    steps:\n      a: {image: x, command: [run], outputs: {model: model}}\n"
            "      b: {kind: push, image: x, model: m, inputs: {model: a.model}}\n",
            "E309",
            "does not wait for an evaluate step with thresholds",
        ),
        (
            "pipelines:\n  p:\n    steps:\n"
            "      a: {image: x, command: [run], outputs: {n: integer}}\n"
            "      b: {image: x, command: [run], parallelFor: {fromOutput: a.n}}\n",
            "E309",
            "loops over 'a.n', whose type is integer, not list",
        ),
        *(
            (
                "pipelines:\n  p:\n    steps:\n"
                f"      a: {{image: x, command: [run], outputs: {{o: {output_type}}}}}\n"
                f"      b: {{image: x, command: [run], when: {{output: a.o, operator: '{operator}', "
                f"value: {value}}}}}\n",
                "E309",
                fragment,
            )
            for output_type, operator, value, fragment in [
                ("boolean", "==", 1.5, "compares boolean output 'a.o' with 1.5"),
                ("boolean", "==", 1, "compares boolean output 'a.o' with 1"),
                ("integer", "==", "true", "compares integer output 'a.o' with true"),
                ("integer", ">", 0.5, "compares integer output 'a.o' with 0.5"),
                ("float", "<", "high", "compares float output 'a.o' with \"high\""),
                ("string", "!=", 3, "compares string output 'a.o' with 3"),
                ("string", ">=", "b", "orders string output 'a.o' with '>='"),
                ("boolean", "<", "false", "orders boolean output 'a.o' with '<'"),
                ("dataset", "==", "x", "a dataset output, which cannot be compared"),
                ("metrics", ">", 0.9, "a metrics output, which cannot be compared"),
                ("list", "==", "x", "a list output, which cannot be compared"),
                ("string", "==", '"it\'s"', "contains a quote or backslash"),
            ]
        ),
    ],
)
def test_pipelines_the_compiler_cannot_place(
    tmp_path: pathlib.Path, extra: str, code: str, fragment: str
) -> None:
    base = STAGED if "secrets:" in extra else MINIMAL  # secrets are copied by a built-in stage
    validation = validate(ConfigSource(write(tmp_path, base + extra), "mlops.yaml", None))
    assert [(d.code, fragment in d.message) for d in validation.diagnostics] == [(code, True)]


def test_parallel_for_over_a_list_output(tmp_path: pathlib.Path) -> None:
    text = OWNED + (
        "pipelines:\n  p:\n    steps:\n"
        "      a: {image: x, command: [run], outputs: {shards: list}}\n"
        "      b: {image: x, command: [run], parallelFor: {fromOutput: a.shards}}\n"
    )
    spec = _version(_graph(tmp_path, text))["spec"]["pipelineSpec"]
    [loop] = [t for t in spec["root"]["dag"]["tasks"].values() if "parameterIterator" in t]
    assert loop["parameterIterator"]["items"] == {"inputParameter": "pipelinechannel--a-shards"}


def test_literal_inputs_with_dots_are_values(tmp_path: pathlib.Path) -> None:
    text = OWNED + (
        "pipelines:\n  p:\n    steps:\n"
        "      a: {image: x, command: [run], outputs: {n: integer}}\n"
        "      b: {image: x, command: [run],\n"
        "          inputs: {uri: 'gs://bkt/y.csv', version: 'v1.2', host: a.example.com}}\n"
    )
    spec = _version(_graph(tmp_path, text))["spec"]["pipelineSpec"]
    constants = spec["root"]["dag"]["tasks"]["b"]["inputs"]["parameters"]
    assert {k: v["runtimeValue"]["constant"] for k, v in constants.items()} == {
        "uri": "gs://bkt/y.csv",
        "version": "v1.2",
        "host": "a.example.com",
    }


def _compiled_both_ways(
    validation: Validation, runtime: Runtime = "gke"
) -> list[tuple[CompiledPipeline, CompiledPipeline]]:
    """Per target and pipeline: compiled once for all targets, and compiled for the target alone."""
    assert validation.ok and validation.document is not None, [d.to_text() for d in validation.diagnostics]
    found = []
    for target, resolved in validation.targets.items():
        ctx = BuildContext(resolved.config, target, validation.document.base_dir)
        ctx.graph = build_graph(resolved.config, target, validation.document.base_dir)  # its identities
        for name, pipeline in resolved.config.pipelines.items():
            settings = step_settings(ctx, name, pipeline, in_mesh=False, runtime=runtime)
            root = pipeline_root(ctx.config, target)
            shared = compile_for_target(name, namespace(ctx.config), pipeline, settings, root)
            found.append((shared, compile_pipeline(name, pipeline, settings, root)))
    return found


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_a_pipeline_compiled_for_all_targets_is_as_compiled_for_each(example: pathlib.Path) -> None:
    pairs = _compiled_both_ways(validate(ConfigSource(example, str(example), None)))
    for shared, alone in pairs:
        assert shared == alone
    assert len({canonical_json(shared.pipeline_spec) for shared, _ in pairs}) > len(
        {shared.pipeline_spec["pipelineInfo"]["name"] for shared, _ in pairs}
    ), "the targets' pipelines differ: their buckets, datasets and pipeline roots are substituted"


def test_a_config_holding_the_marker_is_compiled_as_it_is(tmp_path: pathlib.Path) -> None:
    text = STAGED + (
        "pipelines:\n  p:\n    steps:\n"
        "      a: {image: x, command: [run], outputs: {examples: dataset},\n"
        '          env: {NOTE: \'{"mlopsctl-substituted": "b"}\'}}\n'
        "      b: {kind: statistics, inputs: {examples: a.examples}, outputs: {statistics: artifact}}\n"
    )
    pairs = _compiled_both_ways(validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None)))
    assert all(shared == alone for shared, alone in pairs)
    executors = pairs[0][0].pipeline_spec["deploymentSpec"]["executors"]
    assert executors["exec-a"]["container"]["env"] == [
        {"name": "NOTE", "value": '{"mlopsctl-substituted": "b"}'}
    ]
    assert executors["exec-b"]["container"]["args"][:2] == ["--config", "{}"]


@pytest.mark.parametrize("runtime", ["gke", "vertex"])
def test_tracking_variables_differ_per_target_and_are_substituted(
    tmp_path: pathlib.Path, runtime: Runtime
) -> None:
    text = STAGED + (
        "tracking: {experiments: true, tensorboard: true}\n"
        "data: {datasets: {features: {}}}\n"
        "pipelines:\n  p:\n    steps:\n"
        "      a: {kind: ingest, source: {bigquery: {dataset: features, table: t}},\n"
        "          outputs: {examples: dataset}}\n"
        "      b: {image: x, command: [fit], inputs: {data: a.examples}, outputs: {model: model}}\n"
        "      c: {kind: evaluate, inputs: {model: b.model, examples: a.examples}}\n"
    )
    pairs = _compiled_both_ways(validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None)), runtime)
    assert all(shared == alone for shared, alone in pairs)
    experiments = {
        e["value"]
        for shared, _ in pairs
        for e in shared.pipeline_spec["deploymentSpec"]["executors"]["exec-c"]["container"]["env"]
    }
    assert len(experiments) == 2 * len(pairs), "an experiment and a TensorBoard per target"
