"""Tune steps compile to Katib Experiments; tuning Katib would refuse is reported."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
from helpers import write
from katib_rules import katib_problems
from training_cases import (
    RESTRICTED_CONTAINER,
    RESTRICTED_POD,
    SENSORS,
    SPACES,
    TUNE,
    _config,
    _container,
    _launcher,
    launcher,
)
from upstream_schemas import UpstreamSchemas

from mlopsctl.api import validate
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target


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
        "automountServiceAccountToken": False,  # the trial's code does not call the Kubernetes API
        "restartPolicy": "Never",
        # Katib's injected metrics collector runs as root in its image: it needs the pod's uid.
        "securityContext": {**RESTRICTED_POD, "runAsUser": 1000, "runAsGroup": 1000},
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


def test_a_long_pipeline_and_step_name_still_fits_katibs_name_limit(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas
) -> None:
    """Katib refuses an Experiment named over 40 characters, the launcher's run suffix included."""
    text = TUNE.format(algorithm="random", max_trials=4, parallel=2, extra="", space=SPACES["mixed"])
    text = text.replace("  p:\n", "  customer-lifetime-retraining:\n").replace(
        "      tune:\n", "      hyperparameter-search:\n"
    )
    path = write(tmp_path, _config(text))
    experiment = launcher(path, "customer-lifetime-retraining", "hyperparameter-search")["experiment"]
    name = experiment["metadata"]["name"]
    assert name.startswith("customer-lifetime") and len(name) <= 31, name
    assert katib_problems(experiment, upstream_schemas) == []
