"""``tune-job``: run a tuning step as the Katib Experiment compiled into ``--config`` and write the
best trial's hyperparameters.

``--config`` is ``{"experiment": OBJECT, "searchSpace": {NAME: PARAMETER}, "objective": {"metric",
"goal"}, "timeoutSeconds": N?}``, a PARAMETER as in mlops.yaml (``type``, ``min``, ``max``,
``step``, ``scale`` or ``values``). The trial container gets ``--NAME=VALUE`` for each ``--input``
after its args and hyperparameters; trials print ``METRIC=VALUE`` lines. The output folder holds
``hyperparameters.json`` (``{PARAMETER: VALUE}``, typed as declared) and ``trials.json``
(``{"objective", "best", "trials": [{"name", "parameters", "metrics", "status"}]}``).

In a local run, ``trials`` of the local settings (default 2) trials run one after the other as
local processes: the grid's first combinations for the grid algorithm, else random samples
(seed 0); the best is chosen by the objective's goal, as Katib does, from each trial's best value.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import re
from collections.abc import Iterator
from typing import Any

from mlopsctl_stage import launch, local_process
from mlopsctl_stage.artifacts import staged_dir
from mlopsctl_stage.errors import StageError
from mlopsctl_stage.storage import LocalSettings, local_settings

LOCAL_TRIALS = 2
SEED = 0
METRIC_LINE = re.compile(r"([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)")
"""Katib's default StdOut filter: ``METRIC=VALUE`` anywhere in a line."""
TRIAL_PARAMETER = re.compile(r"\$\{trialParameters\.([^}]+)\}")
EXPERIMENT_LABEL = "katib.kubeflow.org/experiment"
LAST_LINE = 200
"""Characters of a failed trial's last output line kept in the step's error."""

Trial = dict[str, Any]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "URI"),
        help="an input, passed to every trial as --NAME=URI (repeatable)",
    )
    parser.add_argument(
        "--best-hyperparameters", required=True, metavar="OUT", help="the folder to write the results to"
    )


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    experiment = launch.compiled_object(config, "experiment")
    space = _search_space(config)
    metric, goal = _objective(config)
    timeout = launch.timeout_seconds(config)
    inputs = [(name, uri) for name, uri in args.input]
    settings = local_settings()
    if settings is None:
        trials = _in_cluster(experiment, inputs, space, goal, timeout)
    else:
        trials = _locally(settings, experiment, inputs, space, (metric, goal), timeout)
    scored = [t for t in trials if t["status"] == "Succeeded" and metric in t["metrics"]]
    if not scored:
        raise StageError(launch.title(experiment), f"no trial succeeded with a value of {metric}")
    best = (max if goal == "maximize" else min)(scored, key=lambda t: float(t["metrics"][metric]))
    print(
        f"Best trial {best['name']}: {metric}={best['metrics'][metric]} with {best['parameters']}", flush=True
    )
    with staged_dir(args.best_hyperparameters) as out:
        (out / "hyperparameters.json").write_text(json.dumps(best["parameters"], sort_keys=True, indent=2))
        results = {"objective": {"metric": metric, "goal": goal}, "best": best["name"], "trials": trials}
        (out / "trials.json").write_text(json.dumps(results, sort_keys=True, indent=2))


def _search_space(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    space = config.get("searchSpace")
    if not isinstance(space, dict) or not space:
        raise StageError("--config (searchSpace)", "must map each hyperparameter to its declaration")
    for name, parameter in space.items():
        kind = parameter.get("type") if isinstance(parameter, dict) else None
        numeric = kind in ("int", "double") and all(
            isinstance(parameter.get(k), int | float) for k in ("min", "max")
        )
        listed = kind in ("categorical", "discrete") and bool(parameter.get("values"))
        if not (numeric or listed):
            raise StageError(
                f"--config (searchSpace.{name})", "needs a type with min and max, or with values"
            )
    return space


def _objective(config: dict[str, Any]) -> tuple[str, str]:
    objective = config.get("objective")
    if not isinstance(objective, dict) or not isinstance(objective.get("metric"), str):
        raise StageError("--config (objective)", 'must be {"metric": NAME, "goal": "maximize" or "minimize"}')
    goal = objective.get("goal", "maximize")
    if goal not in ("maximize", "minimize"):
        raise StageError("--config (objective.goal)", f"must be maximize or minimize, not {goal!r}")
    return objective["metric"], goal


def _in_cluster(
    experiment: dict[str, Any],
    inputs: list[tuple[str, str]],
    space: dict[str, dict[str, Any]],
    goal: str,
    timeout: float | None,
) -> list[Trial]:
    values = launch.mount_gcs(experiment, inputs)
    for container in launch.primary_containers(experiment):
        container["args"] = [*container.get("args", []), *launch.flags(values)]
    cluster = launch.Cluster()
    finished = launch.run_in_cluster(cluster, experiment, timeout)
    meta = finished["metadata"]
    found = cluster.list(
        "kubeflow.org", "v1beta1", meta["namespace"], "trials", f"{EXPERIMENT_LABEL}={meta['name']}"
    )
    trials = [_katib_trial(trial, space, goal) for trial in found]
    optimal = (finished.get("status") or {}).get("currentOptimalTrial") or {}
    if optimal.get("parameterAssignments") and optimal.get("bestTrialName") not in {
        t["name"] for t in trials
    }:
        trials.append(
            {
                "name": optimal.get("bestTrialName") or "optimal",
                "parameters": _typed(optimal["parameterAssignments"], space),
                "metrics": _observed(optimal.get("observation") or {}, goal),
                "status": "Succeeded",
            }
        )
    return trials


def _katib_trial(trial: dict[str, Any], space: dict[str, dict[str, Any]], goal: str) -> Trial:
    status = trial.get("status") or {}
    true = [c["type"] for c in status.get("conditions") or [] if c.get("status") == "True"]
    return {
        "name": trial["metadata"]["name"],
        "parameters": _typed(trial.get("spec", {}).get("parameterAssignments", []), space),
        "metrics": _observed(status.get("observation") or {}, goal),
        "status": "Succeeded" if "Succeeded" in true else (true[-1] if true else "Running"),
    }


def _typed(assignments: list[dict[str, Any]], space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Katib's string assignments as the declared types: numbers, or the declared value listed."""
    found: dict[str, Any] = {}
    for assignment in assignments:
        name, text = assignment["name"], str(assignment["value"])
        parameter = space.get(name, {})
        if parameter.get("type") == "int":
            found[name] = int(float(text))
        elif parameter.get("type") == "double":
            found[name] = float(text)
        else:
            found[name] = next((v for v in parameter.get("values", []) if _text(v) == text), text)
    return found


def _observed(observation: dict[str, Any], goal: str) -> dict[str, float]:
    """Each metric's best value (Katib's default strategy follows the goal), where it is a number."""
    best = "max" if goal == "maximize" else "min"
    found: dict[str, float] = {}
    for metric in observation.get("metrics") or []:
        try:
            found[metric["name"]] = float(metric.get(best) or metric.get("latest"))
        except (TypeError, ValueError):
            continue  # "unavailable"
    return found


def _locally(
    settings: LocalSettings,
    experiment: dict[str, Any],
    inputs: list[tuple[str, str]],
    space: dict[str, dict[str, Any]],
    objective: tuple[str, str],
    timeout: float | None,
) -> list[Trial]:
    metric, goal = objective
    template = experiment["spec"]["trialTemplate"]
    references: dict[str, str] = {p["name"]: p["reference"] for p in template.get("trialParameters", [])}
    container = launch.leader(experiment)
    tail = launch.flags((name, launch.local_path(settings, uri)) for name, uri in inputs)
    count = settings.trials or LOCAL_TRIALS
    algorithm = experiment["spec"].get("algorithm", {}).get("algorithmName")
    samples = _grid(space) if algorithm == "grid" else _random(space, random.Random(SEED))
    trials: list[Trial] = []
    last: local_process.Finished | None = None
    for index, parameters in enumerate(itertools.islice(samples, count), start=1):
        name = f"{experiment['metadata']['name']}-local-{index}"
        args = _trial_args(container.get("args", []), references, parameters)
        print(f"Trial {index}/{count} ({name}): {' '.join(args)}", flush=True)
        last = finished = local_process.run(
            settings,
            container.get("image", ""),
            list(container.get("command", [])),
            [*args, *tail],
            launch.literal_env(container),
            timeout,
        )
        metrics = _metrics(finished.output, goal)
        ok = finished.returncode == 0 and metric in metrics
        status = "Succeeded" if ok else ("Failed" if finished.returncode else "MetricsUnavailable")
        trials.append({"name": name, "parameters": parameters, "metrics": metrics, "status": status})
    if not any(t["status"] == "Succeeded" for t in trials):
        why = f"every one of the {len(trials)} local trials failed"
        if last is not None:
            why += f"; {_failure(trials[-1]['name'], last, metric, timeout)}"
        raise StageError(launch.title(experiment), why)
    return trials


def _failure(name: str, finished: local_process.Finished, metric: str, timeout: float | None) -> str:
    """How a local trial failed, ending with its last non-empty output line (shortened)."""
    if finished.timed_out:
        how = f"{name} timed out after {timeout:g}s"
    elif finished.returncode:
        how = f"{name} exited {finished.returncode}"
    else:
        how = f"{name} exited 0 without a {metric}=VALUE line"
    line = next((text.strip() for text in reversed(finished.output) if text.strip()), "")
    if len(line) > LAST_LINE:
        line = line[: LAST_LINE - 1] + "…"
    return f"{how}: {line}" if line else f"{how}, printing nothing"


def _trial_args(args: list[str], references: dict[str, str], parameters: dict[str, Any]) -> list[str]:
    """The trial container's args with ``${trialParameters.NAME}`` replaced, as Katib does."""

    def value(match: re.Match[str]) -> str:
        reference = references.get(match[1], match[1])
        if reference not in parameters:
            raise StageError(f"trialParameters ({match[1]})", "names no parameter of the search space")
        return _text(parameters[reference])

    return [TRIAL_PARAMETER.sub(value, arg) for arg in args]


def _metrics(lines: list[str], goal: str) -> dict[str, float]:
    seen: dict[str, list[float]] = {}
    for line in lines:
        for name, number, *_ in METRIC_LINE.findall(line):
            try:
                value = float(number)
            except ValueError:
                continue  # `name = call(...)` in a traceback: no number
            seen.setdefault(name, []).append(value)
    pick = max if goal == "maximize" else min
    return {name: pick(values) for name, values in seen.items()}


def _grid(space: dict[str, dict[str, Any]]) -> Iterator[dict[str, Any]]:
    names = sorted(space)
    for combination in itertools.product(*(_grid_values(space[n]) for n in names)):
        yield dict(zip(names, combination, strict=True))


def _grid_values(parameter: dict[str, Any]) -> list[Any]:
    if parameter["type"] not in ("int", "double"):
        return list(parameter["values"])
    low, high = parameter["min"], parameter["max"]
    step = parameter.get("step") or 1  # the config requires a step of a double on a grid
    count = math.floor((high - low) / step + 1e-9) + 1
    return [_number(low + i * step, parameter["type"]) for i in range(count)]


def _random(space: dict[str, dict[str, Any]], rng: random.Random) -> Iterator[dict[str, Any]]:
    while True:
        yield {name: _sample(space[name], rng) for name in sorted(space)}


def _sample(parameter: dict[str, Any], rng: random.Random) -> Any:
    if parameter["type"] not in ("int", "double"):
        return rng.choice(parameter["values"])
    low, high = float(parameter["min"]), float(parameter["max"])
    if parameter.get("scale") == "log":
        drawn = math.exp(rng.uniform(math.log(low), math.log(high)))
    else:
        drawn = rng.uniform(low, high)
    step = parameter.get("step") or (1 if parameter["type"] == "int" else None)
    if step is not None:
        drawn = low + round((drawn - low) / step) * step
    return _number(min(max(drawn, low), high), parameter["type"])


def _number(value: float, kind: str) -> int | float:
    return round(value) if kind == "int" else round(value, 12)


def _text(value: Any) -> str:
    """A value as Katib passes it: the text of the compiled search space."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
