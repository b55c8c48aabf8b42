from __future__ import annotations

import json
import math
import pathlib
import re
from typing import Any

import pytest
from helpers import MINIMAL, write
from upstream_schemas import UpstreamSchemas

from mlopsctl.api import compile_graphs, validate
from mlopsctl.compiler import training
from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.kfp_dag import StepSettings
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEV = Target("dev", "us-central1")
SENSORS = ROOT / "examples/projects/sensor-anomaly/mlops.yaml"
FRAUD = ROOT / "examples/projects/fraud-tpu/mlops.yaml"
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
RESTRICTED_POD = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
KATIB_ALGORITHMS = {
    "random",
    "grid",
    "bayesianoptimization",
    "tpe",
    "multivariate-tpe",
    "cmaes",
    "sobol",
    "hyperband",
}
"""Katib's HPO suggestion services (katib-config), NAS ones left out."""
KATIB_DISTRIBUTIONS = {"uniform", "logUniform", "normal", "logNormal"}
TRIAL_PARAMETER = re.compile(r"\$\{trialParameters\.([^}]+)\}")

STAGES = """\
project:
  name: demo
  owner: ml-team@acme.example
  stageImage: stages:1
"""
POOLS = """\
accelerators:
  gpu: {type: gpu, accelerator: nvidia-l4, count: 1, spot: true}
  tpu: {type: tpu, version: v5e, topology: 2x4, machineType: ct5lp-hightpu-4t}
  tpu-host: {type: tpu, version: v5e, topology: 2x4, machineType: ct5lp-hightpu-8t}
  cpu: {type: cpu}
"""


def _config(pipeline: str) -> str:
    return MINIMAL.replace("project:\n  name: demo\n", STAGES) + POOLS + pipeline


def _graph(path: pathlib.Path, target: Target = DEV) -> Graph:
    validation = validate(ConfigSource(path, str(path), None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return compile_graphs(validation)[target]


def _inline(tmp_path: pathlib.Path, pipeline: str) -> Graph:
    return _graph(write(tmp_path, _config(pipeline)))


def launcher(path: pathlib.Path, pipeline: str, step: str, target: Target = DEV) -> dict[str, Any]:
    """The ``--config`` of a step's launcher, as :func:`training.launcher_config` builds it."""
    validation = validate(ConfigSource(path, str(path), None))
    assert validation.ok and validation.document is not None, [d.to_text() for d in validation.diagnostics]
    config = validation.targets[target].config
    declared = config.pipelines[pipeline]
    found = declared.steps[step]
    pool = found.resources.node_pool or declared.node_pool
    image = found.image or config.project.stage_image
    assert image is not None
    settings = StepSettings(image, None, pool, config.accelerators.get(pool) if pool else None)
    at = training.StepAt(pipeline, step, found, settings)
    built = training.launcher_config(BuildContext(config, target, validation.document.base_dir), at)
    loaded: dict[str, Any] = json.loads(json.dumps(built))
    return loaded


def _launcher(tmp_path: pathlib.Path, pipeline: str, step: str = "train") -> dict[str, Any]:
    return launcher(write(tmp_path, _config(pipeline)), "p", step)


def stage_config(graph: Graph, pipeline: str, step: str) -> dict[str, Any]:
    """The ``--config`` a step's stage receives, from the published PipelineVersion."""
    [version] = [
        r
        for r in graph
        if r.type.endswith(":PipelineVersion")
        and r.inputs["metadata"]["labels"]["pipelines.kubeflow.org/pipeline"] == pipeline
    ]
    executors = version.inputs["spec"]["pipelineSpec"]["deploymentSpec"]["executors"]
    args = executors[f"exec-{step}"]["container"]["args"]
    loaded: dict[str, Any] = json.loads(args[args.index("--config") + 1])
    return loaded


def katib_problems(experiment: dict[str, Any], schemas: UpstreamSchemas) -> list[str]:
    """What Katib's webhook and suggestion services would refuse (the CRD schema accepts anything)."""
    spec = experiment["spec"]
    problems = schemas.validate(experiment)
    objective, algorithm = spec["objective"], spec["algorithm"]
    if objective["type"] not in ("minimize", "maximize") or not objective["objectiveMetricName"]:
        problems.append(f"objective {objective}")
    if algorithm["algorithmName"] not in KATIB_ALGORITHMS:
        problems.append(f"algorithm {algorithm}")
    if not 0 < spec["parallelTrialCount"] <= spec["maxTrialCount"]:
        problems.append("parallelTrialCount")
    if not 0 <= spec["maxFailedTrialCount"] <= spec["maxTrialCount"]:
        problems.append("maxFailedTrialCount")
    if spec["metricsCollectorSpec"] != {"collector": {"kind": "StdOut"}}:
        problems.append("metricsCollectorSpec")
    parameters = {p["name"]: p for p in spec["parameters"]}
    for parameter in spec["parameters"]:
        problems += _parameter_problems(parameter, algorithm["algorithmName"])
    problems += _algorithm_problems(spec, parameters)
    problems += _trial_template_problems(spec["trialTemplate"], parameters, schemas)
    return problems + _command_problems(spec["trialTemplate"])


def _command_problems(template: dict[str, Any]) -> list[str]:
    """Katib's StdOut collector wraps the primary container's command: without one it has nothing to run."""
    containers = template["trialSpec"]["spec"]["template"]["spec"]["containers"]
    primary = [c for c in containers if c["name"] == template["primaryContainerName"]]
    return [] if primary and primary[0].get("command") else ["the primary container runs no command"]


def _parameter_problems(parameter: dict[str, Any], algorithm: str) -> list[str]:
    space, kind = parameter["feasibleSpace"], parameter["parameterType"]
    if kind in ("categorical", "discrete"):
        ok = (
            bool(space.get("list"))
            and set(space) == {"list"}
            and all(isinstance(v, str) for v in space["list"])
        )
        return [] if ok else [f"{parameter['name']}: {space}"]
    number = int if kind == "int" else float
    try:
        low, high = number(space["min"]), number(space["max"])
        step = number(space["step"]) if "step" in space else None
    except (KeyError, ValueError):
        return [f"{parameter['name']}: bounds {space}"]
    if kind not in ("int", "double") or low >= high or "list" in space:
        return [f"{parameter['name']}: {space}"]
    if space.get("distribution") not in KATIB_DISTRIBUTIONS or (
        space["distribution"] == "logUniform" and low <= 0
    ):
        return [f"{parameter['name']}: distribution {space}"]
    if algorithm == "grid" and kind == "double" and step is None:
        return [f"{parameter['name']}: grid needs a step"]
    return []


def _grid_size(parameter: dict[str, Any]) -> int:
    space = parameter["feasibleSpace"]
    if "list" in space:
        return len(space["list"])
    step = float(space.get("step", 1))
    return math.floor((float(space["max"]) - float(space["min"])) / step + 1e-9) + 1


def _algorithm_problems(spec: dict[str, Any], parameters: dict[str, dict[str, Any]]) -> list[str]:
    algorithm = spec["algorithm"]
    settings = {s["name"]: s["value"] for s in algorithm.get("algorithmSettings", [])}
    name = algorithm["algorithmName"]
    numeric = [p for p in parameters.values() if p["parameterType"] in ("int", "double")]
    if name == "cmaes" and len(numeric) < 2:
        return ["cmaes needs two numeric parameters"]
    if name == "grid" and spec["maxTrialCount"] > math.prod(_grid_size(p) for p in parameters.values()):
        return ["grid: more trials than combinations"]
    if name != "hyperband":
        return [] if not settings else [f"{name} takes no settings here: {settings}"]
    if settings.get("resource_name") not in parameters or float(settings.get("r_l", -1)) <= 0:
        return [f"hyperband settings {settings}"]
    eta = int(settings.get("eta", 3))
    needed = math.ceil(eta ** int(math.log(float(settings["r_l"])) / math.log(eta)))
    return [] if spec["parallelTrialCount"] >= needed else [f"hyperband needs {needed} parallel trials"]


def _trial_template_problems(
    template: dict[str, Any], parameters: dict[str, dict[str, Any]], schemas: UpstreamSchemas
) -> list[str]:
    problems: list[str] = []
    trial_spec = template["trialSpec"]
    if "metadata" in trial_spec or (trial_spec["apiVersion"], trial_spec["kind"]) != ("batch/v1", "Job"):
        problems.append("trialSpec must be a batch/v1 Job without name or namespace")
    problems += schemas.validate({**trial_spec, "metadata": {"name": "trial"}})
    containers = trial_spec["spec"]["template"]["spec"]["containers"]
    if template["primaryContainerName"] not in {c["name"] for c in containers}:
        problems.append("primaryContainerName")
    if not (template["successCondition"] and template["failureCondition"]):
        problems.append("success and failure conditions")
    names = [p["name"] for p in template["trialParameters"]]
    references = [p["reference"] for p in template["trialParameters"]]
    if len(set(names)) != len(names) or len(set(references)) != len(references):
        problems.append("duplicate trial parameters")
    if not set(references) <= set(parameters):
        problems.append(f"references {references} outside {sorted(parameters)}")
    if set(TRIAL_PARAMETER.findall(json.dumps(trial_spec))) != set(names):
        problems.append("trial parameters and their substitutions differ")
    return problems


def _container(pod: dict[str, Any]) -> dict[str, Any]:
    [found] = pod["spec"]["containers"]
    return dict(found)


def test_sensor_anomaly_tunes_with_a_katib_experiment(upstream_schemas: UpstreamSchemas) -> None:
    config = launcher(SENSORS, "anomaly", "tune", Target("prod", "europe-west1"))
    experiment = config["experiment"]
    assert katib_problems(experiment, upstream_schemas) == []
    assert experiment["metadata"]["name"] == "anomaly-tune"
    assert experiment["metadata"]["namespace"] == "sensors"
    spec = experiment["spec"]
    assert {k: v for k, v in spec.items() if k not in ("parameters", "trialTemplate")} == {
        "objective": {"type": "maximize", "objectiveMetricName": "auc_pr", "goal": 0.95},
        "algorithm": {"algorithmName": "bayesianoptimization"},
        "maxTrialCount": 30,
        "parallelTrialCount": 5,
        "maxFailedTrialCount": 5,
        "resumePolicy": "Never",
        "metricsCollectorSpec": {"collector": {"kind": "StdOut"}},
    }
    assert spec["parameters"] == [
        {"name": "booster", "parameterType": "categorical", "feasibleSpace": {"list": ["gbtree", "dart"]}},
        {
            "name": "learning_rate",
            "parameterType": "double",
            "feasibleSpace": {"min": "0.01", "max": "0.3", "distribution": "logUniform"},
        },
        {
            "name": "max_depth",
            "parameterType": "int",
            "feasibleSpace": {"min": "3", "max": "10", "distribution": "uniform"},
        },
        {
            "name": "subsample",
            "parameterType": "double",
            "feasibleSpace": {"min": "0.5", "max": "1.0", "distribution": "uniform"},
        },
    ]
    assert config["searchSpace"] == {
        "booster": {"type": "categorical", "values": ["gbtree", "dart"], "scale": "linear"},
        "learning_rate": {"type": "double", "min": 0.01, "max": 0.3, "scale": "log"},
        "max_depth": {"type": "int", "min": 3, "max": 10, "scale": "linear"},
        "subsample": {"type": "double", "min": 0.5, "max": 1.0, "scale": "linear"},
    }
    assert config["objective"] == {"metric": "auc_pr", "goal": "maximize"}
    assert config["timeoutSeconds"] == 6 * 3600
    pod = spec["trialTemplate"]["trialSpec"]["spec"]["template"]
    assert pod["metadata"]["labels"]["sidecar.istio.io/inject"] == "false"
    main = _container(pod)
    assert main.pop("command")
    assert {k: v for k, v in pod["spec"].items() if k != "containers"} == {
        "serviceAccountName": "pipeline-anomaly-prod-euw1",
        "restartPolicy": "Never",
        "securityContext": RESTRICTED_POD,
        "nodeSelector": {"cloud.google.com/gke-nodepool": "highmem"},
        "tolerations": [
            {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
        ],
    }
    assert main == {
        "name": "training",
        "image": "europe-docker.pkg.dev/acme-plant/sensors/trainer:2.3.0",
        "args": [
            "--booster=${trialParameters.booster}",
            "--learning_rate=${trialParameters.learning_rate}",
            "--max_depth=${trialParameters.max_depth}",
            "--subsample=${trialParameters.subsample}",
        ],
        "securityContext": RESTRICTED_CONTAINER,
    }


def test_sensor_anomaly_dev_overlay_reaches_the_experiment() -> None:
    spec = launcher(SENSORS, "anomaly", "tune", Target("dev", "europe-west1"))["experiment"]["spec"]
    assert (spec["maxTrialCount"], spec["parallelTrialCount"], spec["maxFailedTrialCount"]) == (4, 2, 2)


TUNE = """\
pipelines:
  p:
    steps:
      tune:
        kind: tune
        image: trainer:1
        command: [python, tune.py]
        args: [--data=gs://b/x]
        outputs: {{best_hyperparameters: artifact}}
        resources: {{cpu: "2", memory: 4Gi}}
        tuning:
          algorithm: {algorithm}
          maxTrials: {max_trials}
          parallelTrials: {parallel}
          maxFailedTrials: 1
          objective: {{metric: loss, goal: minimize}}
{extra}          searchSpace:
{space}
"""
SPACES = {
    "mixed": "            lr: {type: double, min: 0.001, max: 0.1, scale: log}\n"
    "            depth: {type: int, min: 2, max: 8}\n"
    "            opt: {type: categorical, values: [adam, sgd]}\n",
    "grid": "            lr: {type: double, min: 0.1, max: 0.3, step: 0.1}\n"
    "            depth: {type: int, min: 2, max: 8, step: 2}\n"
    "            batch: {type: discrete, values: [32, 64]}\n",
    "hyperband": "            lr: {type: double, min: 0.001, max: 0.1}\n"
    "            epochs: {type: int, min: 1, max: 27}\n",
}


@pytest.mark.parametrize(
    ("algorithm", "space", "extra", "max_trials", "parallel", "settings"),
    [
        ("random", "mixed", "", 12, 3, None),
        ("tpe", "mixed", "", 12, 3, None),
        ("bayesianoptimization", "mixed", "", 12, 3, None),
        ("cmaes", "mixed", "", 12, 3, None),
        ("grid", "grid", "", 24, 4, None),
        (
            "hyperband",
            "hyperband",
            "          resource: epochs\n",
            60,
            27,
            [
                {"name": "eta", "value": "3"},
                {"name": "r_l", "value": "27"},
                {"name": "resource_name", "value": "epochs"},
            ],
        ),
    ],
)
def test_every_algorithm_compiles_to_an_experiment_katib_accepts(
    tmp_path: pathlib.Path,
    upstream_schemas: UpstreamSchemas,
    algorithm: str,
    space: str,
    extra: str,
    max_trials: int,
    parallel: int,
    settings: list[dict[str, str]] | None,
) -> None:
    text = TUNE.format(
        algorithm=algorithm, max_trials=max_trials, parallel=parallel, extra=extra, space=SPACES[space]
    )
    config = _launcher(tmp_path, text, "tune")
    experiment = config["experiment"]
    assert katib_problems(experiment, upstream_schemas) == []
    expected = {"algorithmName": algorithm} | ({"algorithmSettings": settings} if settings else {})
    assert experiment["spec"]["algorithm"] == expected
    assert experiment["spec"]["objective"] == {"type": "minimize", "objectiveMetricName": "loss"}
    assert config["objective"] == {"metric": "loss", "goal": "minimize"}
    assert set(config["searchSpace"]) == {p["name"] for p in experiment["spec"]["parameters"]}
    assert "timeoutSeconds" not in config
    container = _container(experiment["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"])
    hyperparameters = [f"--{name}=${{trialParameters.{name}}}" for name in sorted(config["searchSpace"])]
    assert (container["command"], container["args"]) == (
        ["python", "tune.py"],
        ["--data=gs://b/x", *hyperparameters],
    )
    assert container["resources"] == {
        "requests": {"cpu": "2", "memory": "4Gi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }


@pytest.mark.parametrize(
    ("parameter", "expected", "declared"),
    [
        (
            "{type: double, min: 0.1, max: 0.9}",
            {"min": "0.1", "max": "0.9", "distribution": "uniform"},
            {"type": "double", "min": 0.1, "max": 0.9, "scale": "linear"},
        ),
        (
            "{type: double, min: 1, max: 100, scale: log}",
            {"min": "1.0", "max": "100.0", "distribution": "logUniform"},
            {"type": "double", "min": 1, "max": 100, "scale": "log"},
        ),
        (
            "{type: double, min: 0, max: 1, step: 0.25}",
            {"min": "0.0", "max": "1.0", "distribution": "uniform", "step": "0.25"},
            {"type": "double", "min": 0, "max": 1, "step": 0.25, "scale": "linear"},
        ),
        (
            "{type: int, min: 16, max: 512, scale: log}",
            {"min": "16", "max": "512", "distribution": "logUniform"},
            {"type": "int", "min": 16, "max": 512, "scale": "log"},
        ),
        (
            "{type: int, min: 1, max: 9, step: 2}",
            {"min": "1", "max": "9", "distribution": "uniform", "step": "2"},
            {"type": "int", "min": 1, "max": 9, "step": 2, "scale": "linear"},
        ),
        (
            "{type: categorical, values: [relu, gelu]}",
            {"list": ["relu", "gelu"]},
            {"type": "categorical", "values": ["relu", "gelu"], "scale": "linear"},
        ),
        (
            "{type: categorical, values: [true, false]}",
            {"list": ["true", "false"]},
            {"type": "categorical", "values": [True, False], "scale": "linear"},
        ),
        (
            "{type: discrete, values: [0.5, 1, 2]}",
            {"list": ["0.5", "1", "2"]},
            {"type": "discrete", "values": [0.5, 1, 2], "scale": "linear"},
        ),
    ],
)
def test_each_parameter_type_becomes_a_feasible_space_and_a_search_space_entry(
    tmp_path: pathlib.Path,
    upstream_schemas: UpstreamSchemas,
    parameter: str,
    expected: dict[str, Any],
    declared: dict[str, Any],
) -> None:
    space = f"            x: {parameter}\n"
    text = TUNE.format(algorithm="random", max_trials=4, parallel=2, extra="", space=space)
    config = _launcher(tmp_path, text, "tune")
    assert katib_problems(config["experiment"], upstream_schemas) == []
    [compiled] = config["experiment"]["spec"]["parameters"]
    assert compiled["feasibleSpace"] == expected
    assert config["searchSpace"] == {"x": declared}


@pytest.mark.parametrize(
    ("algorithm", "space", "extra", "max_trials", "parallel", "fragment"),
    [
        ("grid", "            lr: {type: double, min: 0.1, max: 0.3}\n", "", 2, 1, "needs a 'step'"),
        ("grid", "            d: {type: int, min: 1, max: 3}\n", "", 4, 1, "3 combinations"),
        ("cmaes", "            d: {type: int, min: 1, max: 3}\n", "", 4, 1, "at least two double or int"),
        ("hyperband", SPACES["hyperband"], "", 60, 27, "needs 'resource'"),
        ("hyperband", SPACES["hyperband"], "          resource: lr\n", 60, 27, "needs 'resource'"),
        ("hyperband", SPACES["hyperband"], "          resource: epochs\n", 60, 9, "at least 27"),
        ("random", SPACES["hyperband"], "          resource: epochs\n", 4, 1, "only used by the hyperband"),
        ("random", SPACES["mixed"], "", 4, 5, "parallelTrials (5) is greater than maxTrials (4)"),
        ("random", "            d: {type: int, min: 1.5, max: 3}\n", "", 4, 1, "whole numbers"),
        ("random", "            d: {type: double, min: 0, max: 3, scale: log}\n", "", 4, 1, "log scale"),
        ("random", "            d: {type: categorical, values: [a], min: 1}\n", "", 4, 1, "takes 'values'"),
        ("random", "            d: {type: int, min: 1, max: 3, values: [1]}\n", "", 4, 1, "not 'values'"),
    ],
)
def test_tuning_katib_would_refuse_is_reported(
    tmp_path: pathlib.Path,
    algorithm: str,
    space: str,
    extra: str,
    max_trials: int,
    parallel: int,
    fragment: str,
) -> None:
    text = TUNE.format(
        algorithm=algorithm, max_trials=max_trials, parallel=parallel, extra=extra, space=space
    )
    path = write(tmp_path, _config(text))
    diagnostics = validate(ConfigSource(path, str(path), None)).diagnostics
    assert [d.code for d in diagnostics] == ["E205"]
    assert fragment in diagnostics[0].message


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("algorithm", "algorithmName"), "bayesian"),
        (("objective", "type"), "max"),
        (("parallelTrialCount",), 99),
        (("parameters", 0, "feasibleSpace", "min"), "0.9"),
        (("parameters", 0, "parameterType"), "float"),
        (("trialTemplate", "primaryContainerName"), "main"),
        (("trialTemplate", "trialParameters", 0, "reference"), "learning_rate"),
        (("trialTemplate", "trialSpec", "spec", "template", "spec", "containers", 0, "args"), []),
        (("trialTemplate", "trialSpec", "spec", "template", "spec", "containers", 0, "command"), []),
        (("trialTemplate", "trialSpec", "spec", "backoffLimit"), "2"),
    ],
)
def test_the_katib_checks_catch_what_katib_refuses(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas, path: tuple[str | int, ...], value: Any
) -> None:
    text = TUNE.format(algorithm="random", max_trials=4, parallel=2, extra="", space=SPACES["mixed"])
    experiment = _launcher(tmp_path, text, "tune")["experiment"]
    node = experiment["spec"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert katib_problems(experiment, upstream_schemas) != []


DISTRIBUTED = """\
pipelines:
  p:
    steps:
      train:
        kind: train
        image: trainer:1
        command: [python, -m, train]
        args: [--epochs=3]
        env: {{LOG_LEVEL: debug}}
        secrets: {{HF_TOKEN: projects/acme/secrets/hf-token}}
        distributed: {{framework: {framework}, workers: {workers}}}
        resources: {{nodePool: {pool}, accelerators: {count}, memory: 12Gi}}
        timeout: 3h
        retries: 2
"""


@pytest.mark.parametrize(
    ("framework", "kind", "specs", "leader", "container"),
    [
        ("pytorch", "PyTorchJob", "pytorchReplicaSpecs", "Master", "pytorch"),
        ("tensorflow", "TFJob", "tfReplicaSpecs", "Chief", "tensorflow"),
    ],
)
def test_distributed_training_compiles_to_the_framework_job(
    tmp_path: pathlib.Path,
    upstream_schemas: UpstreamSchemas,
    framework: str,
    kind: str,
    specs: str,
    leader: str,
    container: str,
) -> None:
    config = _launcher(tmp_path, DISTRIBUTED.format(framework=framework, workers=4, pool="gpu", count=1))
    job = config["job"]
    assert config["timeoutSeconds"] == 10800
    assert upstream_schemas.validate(job) == []
    assert (job["apiVersion"], job["kind"], job["metadata"]["name"]) == ("kubeflow.org/v1", kind, "p-train")
    assert job["spec"]["runPolicy"] == {
        "cleanPodPolicy": "Running",
        "backoffLimit": 2,
        "activeDeadlineSeconds": 10800,
        "ttlSecondsAfterFinished": 604800,
    }
    replicas = job["spec"][specs]
    assert {k: (v["replicas"], v["restartPolicy"]) for k, v in replicas.items()} == {
        leader: (1, "OnFailure"),
        "Worker": (3, "OnFailure"),
    }
    pod = replicas["Worker"]["template"]
    assert pod == replicas[leader]["template"]
    assert pod["metadata"]["labels"]["sidecar.istio.io/inject"] == "false"
    assert pod["spec"]["serviceAccountName"] == "pipeline-p-dev-usc1"
    assert pod["spec"]["securityContext"] == RESTRICTED_POD
    main = _container(pod)
    secret = main["env"][1]["valueFrom"]["secretKeyRef"]["name"]
    assert secret.startswith("hf-token-")
    assert main == {
        "name": container,
        "image": "trainer:1",
        "command": ["python", "-m", "train"],
        "args": ["--epochs=3"],
        "env": [
            {"name": "LOG_LEVEL", "value": "debug"},
            {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": secret, "key": "value"}}},
        ],
        "resources": {
            "requests": {"memory": "12Gi"},
            "limits": {"memory": "12Gi", "nvidia.com/gpu": "1"},
        },
        "securityContext": RESTRICTED_CONTAINER,
    }


def test_a_single_worker_is_the_master_alone(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas
) -> None:
    job = _launcher(tmp_path, DISTRIBUTED.format(framework="pytorch", workers=1, pool="cpu", count=0))["job"]
    assert upstream_schemas.validate(job) == []
    assert list(job["spec"]["pytorchReplicaSpecs"]) == ["Master"]
    spec = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]
    assert spec["nodeSelector"] == {"cloud.google.com/gke-nodepool": "cpu"}
    assert "tolerations" not in spec
    assert spec["containers"][0]["resources"]["limits"] == {"memory": "12Gi"}


TPU_HOST = {
    "cloud.google.com/gke-nodepool": "tpu-host",
    "cloud.google.com/gke-tpu-accelerator": "tpu-v5-lite-podslice",
    "cloud.google.com/gke-tpu-topology": "2x4",
}


@pytest.mark.parametrize(
    ("pool", "count", "selector", "tolerations", "limit"),
    [
        (
            "gpu",
            1,
            {"cloud.google.com/gke-nodepool": "gpu"},
            [("nvidia.com/gpu", "Exists", None), ("cloud.google.com/gke-spot", "Equal", "true")],
            ("nvidia.com/gpu", "1"),
        ),
        ("tpu-host", 8, TPU_HOST, [("google.com/tpu", "Exists", None)], ("google.com/tpu", "8")),
    ],
)
def test_replicas_and_trials_are_placed_on_the_step_pool(
    tmp_path: pathlib.Path,
    upstream_schemas: UpstreamSchemas,
    pool: str,
    count: int,
    selector: dict[str, str],
    tolerations: list[tuple[str, str, str | None]],
    limit: tuple[str, str],
) -> None:
    text = DISTRIBUTED.format(framework="tensorflow", workers=2, pool=pool, count=count)
    job = _launcher(tmp_path, text)["job"]
    assert upstream_schemas.validate(job) == []
    trials = TUNE.format(algorithm="random", max_trials=4, parallel=2, extra="", space=SPACES["mixed"])
    trials = trials.replace('cpu: "2"', f"nodePool: {pool}, accelerators: {count}")
    experiment = _launcher(tmp_path, trials, "tune")["experiment"]
    for spec in (
        job["spec"]["tfReplicaSpecs"]["Chief"]["template"]["spec"],
        experiment["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"],
    ):
        assert spec["nodeSelector"] == selector
        assert [(t["key"], t["operator"], t.get("value")) for t in spec["tolerations"]] == tolerations
        assert {t["effect"] for t in spec["tolerations"]} == {"NoSchedule"}
        assert spec["containers"][0]["resources"]["limits"][limit[0]] == limit[1]


def test_fraud_trains_on_its_two_host_slice_with_a_jobset(upstream_schemas: UpstreamSchemas) -> None:
    jobset = launcher(FRAUD, "train", "train", Target("prod", "europe-west4"))["job"]
    assert upstream_schemas.validate(jobset) == []
    assert (jobset["apiVersion"], jobset["kind"]) == ("jobset.x-k8s.io/v1alpha2", "JobSet")
    assert jobset["metadata"]["name"] == "train-train"
    assert jobset["metadata"]["annotations"] == {
        "alpha.jobset.sigs.k8s.io/exclusive-topology": "cloud.google.com/gke-nodepool"
    }
    spec = jobset["spec"]
    [replicated] = spec.pop("replicatedJobs")
    assert spec == {
        "failurePolicy": {"maxRestarts": 1},
        "network": {"enableDNSHostnames": True},
        "ttlSecondsAfterFinished": 604800,
    }
    assert (replicated["name"], replicated["replicas"]) == ("slice", 1)
    job = replicated["template"]["spec"]
    pod = job.pop("template")
    assert job == {
        "parallelism": 2,
        "completions": 2,
        "completionMode": "Indexed",
        "backoffLimit": 0,
        "activeDeadlineSeconds": 4 * 3600,
    }
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["nodeSelector"] == {
        "cloud.google.com/gke-nodepool": "tpu-v5e",
        "cloud.google.com/gke-tpu-accelerator": "tpu-v5-lite-podslice",
        "cloud.google.com/gke-tpu-topology": "2x4",
    }
    assert pod["spec"]["tolerations"] == [
        {"key": "google.com/tpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    main = _container(pod)
    assert (main["name"], main["image"]) == (
        "training",
        "us-docker.pkg.dev/acme-risk/fraud/trainer-xla:3.1.0",
    )
    assert (main["command"], main["args"]) == (["python", "train.py"], [])
    assert main["resources"] == {
        "requests": {"memory": "64Gi"},
        "limits": {"memory": "64Gi", "google.com/tpu": "4"},
    }


SLICE = """\
accelerators:
  slice: {{type: tpu, version: {version}, topology: {topology}, machineType: {machine}}}
pipelines:
  p:
    steps:
      {step}:
        kind: train
        image: trainer:1
        command: [python, train.py]
        distributed: {{framework: {framework}, workers: {hosts}}}
        resources: {{nodePool: slice, accelerators: {chips}}}
"""


@pytest.mark.parametrize(
    ("version", "topology", "machine", "hosts", "chips", "label"),
    [
        ("v5e", "4x8", "ct5lp-hightpu-4t", 8, 4, "tpu-v5-lite-podslice"),
        ("v5p", "2x2x2", "ct5p-hightpu-4t", 2, 4, "tpu-v5p-slice"),
        ("v6e", "4x4", "ct6e-standard-4t", 4, 4, "tpu-v6e-slice"),
        ("v5p", "16x16x24", "ct5p-hightpu-4t", 1536, 4, "tpu-v5p-slice"),
    ],
)
@pytest.mark.parametrize("framework", ["pytorch", "tensorflow"])
@pytest.mark.parametrize("step", ["train", "train-on-the-biggest-slice-we-have"])
def test_a_multi_host_slice_runs_one_pod_per_host(
    tmp_path: pathlib.Path,
    upstream_schemas: UpstreamSchemas,
    version: str,
    topology: str,
    machine: str,
    hosts: int,
    chips: int,
    label: str,
    framework: str,
    step: str,
) -> None:
    text = SLICE.format(
        version=version,
        topology=topology,
        machine=machine,
        chips=chips,
        hosts=hosts,
        framework=framework,
        step=step,
    )
    path = write(tmp_path, MINIMAL.replace("project:\n  name: demo\n", STAGES) + text)
    jobset = launcher(path, "p", step)["job"]
    assert upstream_schemas.validate(jobset) == []
    [replicated] = jobset["spec"]["replicatedJobs"]
    job = replicated["template"]["spec"]
    assert (job["parallelism"], job["completions"], job["backoffLimit"]) == (hosts, hosts, 0)
    pod = job["template"]["spec"]
    assert pod["nodeSelector"]["cloud.google.com/gke-tpu-accelerator"] == label
    assert pod["nodeSelector"]["cloud.google.com/gke-tpu-topology"] == topology
    assert pod["containers"][0]["resources"]["limits"] == {"google.com/tpu": str(chips)}
    # The last pod's hostname, with the launcher's run suffix, is still a DNS label.
    hostname = f"{jobset['metadata']['name']}-0123abcd-{replicated['name']}-0-{hosts - 1}"
    assert len(hostname) <= 63
    assert jobset["metadata"]["name"].startswith(f"p-{step}"[:20])


LONG_TRAIN = (
    "train-distributed-xla:\n        kind: train\n        image: t:1\n        command: [python, t.py]\n"
    "        distributed: {framework: pytorch, workers: 2}"
)
LONG_TUNE = (
    "tune-hyperparameters:\n        kind: tune\n        image: t:1\n        command: [python, t.py]\n"
    "        outputs: {best: artifact}\n"
    "        tuning:\n          algorithm: bayesianoptimization\n          objective: {metric: auc}\n"
    "          searchSpace: {lr: {type: double, min: 0.1, max: 0.5}}"
)


@pytest.mark.parametrize(
    ("step", "limit"), [(LONG_TRAIN, 52 - 9), (LONG_TUNE, 62 - len("bayesianoptimization") - 9)]
)
def test_long_names_leave_room_for_the_run_suffix(tmp_path: pathlib.Path, step: str, limit: int) -> None:
    pipeline = "fraud-detection-nightly"
    name = step.split(":")[0]
    path = write(tmp_path, _config(f"pipelines:\n  {pipeline}:\n    steps:\n      {step}\n"))
    [compiled] = [v for k, v in launcher(path, pipeline, name).items() if k in ("job", "experiment")]
    assert len(f"{pipeline}-{name}") > limit
    assert len(compiled["metadata"]["name"]) == limit
    assert compiled["metadata"]["name"].startswith(f"{pipeline}-{name}"[: limit - 7])


BOTH = """\
pipelines:
  p:
    steps:
      tune:
        kind: tune
        image: trainer:1
        command: [python, tune.py]
        outputs: {best: artifact}
        tuning:
          objective: {metric: auc}
          maxTrials: 4
          searchSpace: {lr: {type: double, min: 0.1, max: 0.5}}
      train:
        kind: train
        image: trainer:1
        command: [python, train.py]
        dependsOn: [tune]
        distributed: {framework: pytorch, workers: 2}
      train-tpu:
        kind: train
        image: trainer:1
        command: [python, train.py]
        dependsOn: [tune]
        distributed: {framework: tensorflow, workers: 2}
        resources: {nodePool: tpu, accelerators: 4}
  plain:
    steps:
      only: {image: x:1, command: [run]}
"""


def test_the_published_pipeline_carries_the_launcher_config(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, _config(BOTH))
    graph = _graph(path)
    for step in ("tune", "train", "train-tpu"):
        assert stage_config(graph, "p", step) == launcher(path, "p", step)


def test_pipelines_that_tune_or_train_may_manage_those_jobs(tmp_path: pathlib.Path) -> None:
    graph = _inline(tmp_path, BOTH)
    roles = {r.name: r.inputs for r in graph if r.type == "kubernetes:rbac.authorization.k8s.io/v1:Role"}
    manage = ["create", "delete", "get", "list", "watch"]
    assert roles["p-training"]["rules"] == [
        {"apiGroups": ["jobset.x-k8s.io"], "resources": ["jobsets"], "verbs": manage},
        {"apiGroups": ["kubeflow.org"], "resources": ["experiments", "pytorchjobs"], "verbs": manage},
        {"apiGroups": ["kubeflow.org"], "resources": ["trials"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
    ]
    assert "plain-training" not in roles
    binding = graph.resources[
        "dev/us-central1/kubernetes:rbac.authorization.k8s.io/v1:RoleBinding/p-training"
    ]
    assert binding.inputs["subjects"] == [
        {"kind": "ServiceAccount", "name": "pipeline-p-dev-usc1", "namespace": "demo"}
    ]
    assert "dev/us-central1/kubernetes:core/v1:ServiceAccount/pipeline-p-dev-usc1" in binding.depends_on


PLAIN = "pipelines:\n  plain:\n    steps:\n      only: {image: x:1, command: [run]}\n"


@pytest.mark.parametrize(("pipeline", "labelled"), [(BOTH, True), (PLAIN, False)])
def test_the_namespace_collects_trial_metrics_when_a_pipeline_tunes(
    tmp_path: pathlib.Path, pipeline: str, labelled: bool
) -> None:
    graph = _inline(tmp_path, pipeline)
    labels = graph.resources["dev/us-central1/kubernetes:core/v1:Namespace/demo"].inputs["metadata"]["labels"]
    assert ("katib.kubeflow.org/metrics-collector-injection" in labels) is labelled
