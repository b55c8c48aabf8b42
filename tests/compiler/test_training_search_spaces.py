"""Every search algorithm and parameter type compiles to a search space Katib accepts."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
from katib_rules import katib_problems
from training_cases import SPACES, TUNE, _container, _launcher
from upstream_schemas import UpstreamSchemas


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
