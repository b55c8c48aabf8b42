from __future__ import annotations

import json
import math
import pathlib
import re
from typing import Any

import pytest
from conftest import ROOT
from helpers import MINIMAL, write
from upstream_schemas import UpstreamSchemas

from mlopsctl.api import compile_graphs, validate
from mlopsctl.graph import Graph, Target
from mlopsctl.source import ConfigSource

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
  stageImage: stages:1
"""
POOLS = """\
accelerators:
  gpu: {type: gpu, accelerator: nvidia-l4, count: 1, spot: true}
  tpu: {type: tpu, version: v5e, topology: 2x4, machineType: ct5lp-hightpu-4t}
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
    return problems


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


def test_sensor_anomaly_tunes_with_a_katib_experiment(upstream_schemas: UpstreamSchemas) -> None:
    graph = _graph(SENSORS, Target("prod", "europe-west1"))
    experiment = stage_config(graph, "anomaly", "tune")["experiment"]
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
    pod = spec["trialTemplate"]["trialSpec"]["spec"]["template"]
    assert pod["metadata"]["labels"]["sidecar.istio.io/inject"] == "false"
    assert pod["spec"] == {
        "serviceAccountName": "pipeline-anomaly-prod-euw1",
        "restartPolicy": "Never",
        "securityContext": RESTRICTED_POD,
        "containers": [
            {
                "name": "training",
                "image": "europe-docker.pkg.dev/acme-plant/sensors/stages:2.3.0",
                "args": [
                    "--booster=${trialParameters.booster}",
                    "--learning_rate=${trialParameters.learning_rate}",
                    "--max_depth=${trialParameters.max_depth}",
                    "--subsample=${trialParameters.subsample}",
                ],
                "securityContext": RESTRICTED_CONTAINER,
            }
        ],
        "nodeSelector": {"cloud.google.com/gke-nodepool": "highmem"},
        "tolerations": [
            {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
        ],
    }


def test_sensor_anomaly_dev_overlay_reaches_the_experiment() -> None:
    spec = stage_config(_graph(SENSORS, Target("dev", "europe-west1")), "anomaly", "tune")["experiment"][
        "spec"
    ]
    assert (spec["maxTrialCount"], spec["parallelTrialCount"], spec["maxFailedTrialCount"]) == (4, 2, 2)


TUNE = """\
pipelines:
  p:
    steps:
      tune:
        kind: tune
        image: trainer:1
        args: [--data=gs://b/x]
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
    experiment = stage_config(_inline(tmp_path, text), "p", "tune")["experiment"]
    assert katib_problems(experiment, upstream_schemas) == []
    expected = {"algorithmName": algorithm} | ({"algorithmSettings": settings} if settings else {})
    assert experiment["spec"]["algorithm"] == expected
    assert experiment["spec"]["objective"] == {"type": "minimize", "objectiveMetricName": "loss"}
    container = experiment["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][0] == "--data=gs://b/x"
    assert container["resources"] == {
        "requests": {"cpu": "2", "memory": "4Gi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }


@pytest.mark.parametrize(
    ("parameter", "expected"),
    [
        ("{type: double, min: 0.1, max: 0.9}", {"min": "0.1", "max": "0.9", "distribution": "uniform"}),
        (
            "{type: double, min: 1, max: 100, scale: log}",
            {"min": "1.0", "max": "100.0", "distribution": "logUniform"},
        ),
        (
            "{type: double, min: 0, max: 1, step: 0.25}",
            {"min": "0.0", "max": "1.0", "distribution": "uniform", "step": "0.25"},
        ),
        (
            "{type: int, min: 16, max: 512, scale: log}",
            {"min": "16", "max": "512", "distribution": "logUniform"},
        ),
        (
            "{type: int, min: 1, max: 9, step: 2}",
            {"min": "1", "max": "9", "distribution": "uniform", "step": "2"},
        ),
        ("{type: categorical, values: [relu, gelu]}", {"list": ["relu", "gelu"]}),
        ("{type: categorical, values: [true, false]}", {"list": ["true", "false"]}),
        ("{type: discrete, values: [0.5, 1, 2]}", {"list": ["0.5", "1", "2"]}),
    ],
)
def test_each_parameter_type_becomes_a_feasible_space(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas, parameter: str, expected: dict[str, Any]
) -> None:
    space = f"            x: {parameter}\n"
    text = TUNE.format(algorithm="random", max_trials=4, parallel=2, extra="", space=space)
    experiment = stage_config(_inline(tmp_path, text), "p", "tune")["experiment"]
    assert katib_problems(experiment, upstream_schemas) == []
    [compiled] = experiment["spec"]["parameters"]
    assert compiled["feasibleSpace"] == expected


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
        resources: {{nodePool: {pool}, accelerators: {count}, memory: 16Gi}}
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
    text = DISTRIBUTED.format(framework=framework, workers=4, pool="gpu", count=1)
    job = stage_config(_inline(tmp_path, text), "p", "train")["job"]
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
    [main] = pod["spec"]["containers"]
    assert main == {
        "name": container,
        "image": "trainer:1",
        "command": ["python", "-m", "train"],
        "args": ["--epochs=3"],
        "env": [
            {"name": "LOG_LEVEL", "value": "debug"},
            {
                "name": "HF_TOKEN",
                "valueFrom": {
                    "secretKeyRef": {
                        "name": main["env"][1]["valueFrom"]["secretKeyRef"]["name"],
                        "key": "value",
                    }
                },
            },
        ],
        "resources": {
            "requests": {"memory": "16Gi"},
            "limits": {"memory": "16Gi", "nvidia.com/gpu": "1"},
        },
        "securityContext": RESTRICTED_CONTAINER,
    }
    assert main["env"][1]["valueFrom"]["secretKeyRef"]["name"].startswith("hf-token-")


def test_a_single_worker_is_the_master_alone(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas
) -> None:
    text = DISTRIBUTED.format(framework="pytorch", workers=1, pool="cpu", count=0)
    job = stage_config(_inline(tmp_path, text), "p", "train")["job"]
    assert upstream_schemas.validate(job) == []
    assert list(job["spec"]["pytorchReplicaSpecs"]) == ["Master"]
    spec = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]
    assert spec["nodeSelector"] == {"cloud.google.com/gke-nodepool": "cpu"}
    assert "tolerations" not in spec
    assert spec["containers"][0]["resources"]["limits"] == {"memory": "16Gi"}


@pytest.mark.parametrize(
    ("pool", "count", "tolerations", "limit"),
    [
        (
            "gpu",
            1,
            [("nvidia.com/gpu", "Exists", None), ("cloud.google.com/gke-spot", "Equal", "true")],
            ("nvidia.com/gpu", "1"),
        ),
        ("tpu", 4, [("google.com/tpu", "Exists", None)], ("google.com/tpu", "4")),
    ],
)
def test_replicas_are_placed_like_the_pipeline_step(
    tmp_path: pathlib.Path,
    pool: str,
    count: int,
    tolerations: list[tuple[str, str, str | None]],
    limit: tuple[str, str],
) -> None:
    graph = _inline(tmp_path, DISTRIBUTED.format(framework="tensorflow", workers=2, pool=pool, count=count))
    spec = stage_config(graph, "p", "train")["job"]["spec"]["tfReplicaSpecs"]["Chief"]["template"]["spec"]
    assert spec["nodeSelector"] == {"cloud.google.com/gke-nodepool": pool}
    assert [(t["key"], t["operator"], t.get("value")) for t in spec["tolerations"]] == tolerations
    assert {t["effect"] for t in spec["tolerations"]} == {"NoSchedule"}
    assert spec["containers"][0]["resources"]["limits"][limit[0]] == limit[1]
    [version] = [r for r in graph if r.type.endswith(":PipelineVersion")]
    kfp = version.inputs["spec"]["platformSpec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert kfp["exec-train"]["nodeSelector"] == {"labels": spec["nodeSelector"]}
    assert [t["key"] for t in kfp["exec-train"]["tolerations"]] == [t["key"] for t in spec["tolerations"]]


def test_fraud_trains_on_the_tpu_slice(upstream_schemas: UpstreamSchemas) -> None:
    job = stage_config(_graph(FRAUD, Target("prod", "europe-west4")), "train", "train")["job"]
    assert upstream_schemas.validate(job) == []
    replicas = job["spec"]["pytorchReplicaSpecs"]
    assert {k: v["replicas"] for k, v in replicas.items()} == {"Master": 1, "Worker": 1}
    spec = replicas["Master"]["template"]["spec"]
    assert spec["nodeSelector"] == {"cloud.google.com/gke-nodepool": "tpu-v5e"}
    assert spec["tolerations"] == [{"key": "google.com/tpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert spec["containers"][0]["resources"] == {
        "requests": {"memory": "64Gi"},
        "limits": {"memory": "64Gi", "google.com/tpu": "4"},
    }
    assert job["spec"]["runPolicy"]["activeDeadlineSeconds"] == 4 * 3600


BOTH = """\
pipelines:
  p:
    steps:
      tune:
        kind: tune
        image: trainer:1
        tuning:
          objective: {metric: auc}
          maxTrials: 4
          searchSpace: {lr: {type: double, min: 0.1, max: 0.5}}
      train:
        kind: train
        image: trainer:1
        dependsOn: [tune]
        distributed: {framework: pytorch, workers: 2}
  plain:
    steps:
      only: {image: x:1}
"""


def test_pipelines_that_tune_or_train_may_manage_those_jobs(tmp_path: pathlib.Path) -> None:
    graph = _inline(tmp_path, BOTH)
    roles = {r.name: r.inputs for r in graph if r.type == "kubernetes:rbac.authorization.k8s.io/v1:Role"}
    assert roles["p-training"]["rules"] == [
        {
            "apiGroups": ["kubeflow.org"],
            "resources": ["experiments", "pytorchjobs"],
            "verbs": ["create", "delete", "get", "list", "watch"],
        }
    ]
    assert "plain-training" not in roles
    binding = graph.resources[
        "dev/us-central1/kubernetes:rbac.authorization.k8s.io/v1:RoleBinding/p-training"
    ]
    assert binding.inputs["subjects"] == [
        {"kind": "ServiceAccount", "name": "pipeline-p-dev-usc1", "namespace": "demo"}
    ]
    assert "dev/us-central1/kubernetes:core/v1:ServiceAccount/pipeline-p-dev-usc1" in binding.depends_on


PLAIN = "pipelines:\n  plain:\n    steps:\n      only: {image: x:1}\n"


@pytest.mark.parametrize(("pipeline", "labelled"), [(BOTH, True), (PLAIN, False)])
def test_the_namespace_collects_trial_metrics_when_a_pipeline_tunes(
    tmp_path: pathlib.Path, pipeline: str, labelled: bool
) -> None:
    graph = _inline(tmp_path, pipeline)
    labels = graph.resources["dev/us-central1/kubernetes:core/v1:Namespace/demo"].inputs["metadata"]["labels"]
    assert ("katib.kubeflow.org/metrics-collector-injection" in labels) is labelled


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
        (("trialTemplate", "trialSpec", "spec", "backoffLimit"), "2"),
    ],
)
def test_the_katib_checks_catch_what_katib_refuses(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas, path: tuple[str | int, ...], value: Any
) -> None:
    text = TUNE.format(algorithm="random", max_trials=4, parallel=2, extra="", space=SPACES["mixed"])
    experiment = stage_config(_inline(tmp_path, text), "p", "tune")["experiment"]
    node = experiment["spec"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert katib_problems(experiment, upstream_schemas) != []


LONG_TRAIN = (
    "train-distributed-xla:\n        kind: train\n        image: t:1\n"
    "        distributed: {framework: pytorch, workers: 2}"
)
LONG_TUNE = (
    "tune-hyperparameters:\n        kind: tune\n        image: t:1\n        tuning:\n"
    "          algorithm: bayesianoptimization\n          objective: {metric: auc}\n"
    "          searchSpace: {lr: {type: double, min: 0.1, max: 0.5}}"
)


@pytest.mark.parametrize(
    ("step", "limit"), [(LONG_TRAIN, 52 - 9), (LONG_TUNE, 62 - len("bayesianoptimization") - 9)]
)
def test_long_names_leave_room_for_the_run_suffix(tmp_path: pathlib.Path, step: str, limit: int) -> None:
    pipeline = "fraud-detection-nightly"
    text = f"pipelines:\n  {pipeline}:\n    steps:\n      {step}\n"
    name = step.split(":")[0]
    config = stage_config(_inline(tmp_path, text), pipeline, name)
    [compiled] = config.values()
    assert len(f"{pipeline}-{name}") > limit
    assert len(compiled["metadata"]["name"]) == limit
    assert compiled["metadata"]["name"].startswith(f"{pipeline}-{name}"[: limit - 7])
