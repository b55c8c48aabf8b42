"""What Katib would refuse in an Experiment, beyond its CRD schema."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from upstream_schemas import UpstreamSchemas

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
EXPERIMENT_NAME = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
RUN_SUFFIX = "-1a2b3c4d"
"""What the launcher appends to the compiled name, run by run."""


def katib_problems(experiment: dict[str, Any], schemas: UpstreamSchemas) -> list[str]:
    """What Katib's webhook and suggestion services would refuse (the CRD schema accepts anything)."""
    spec = experiment["spec"]
    problems = schemas.validate(experiment)
    name = experiment["metadata"]["name"] + RUN_SUFFIX
    if not EXPERIMENT_NAME.fullmatch(name) or len(name) > 40:
        problems.append(f"name {name!r}: Katib takes at most 40 lowercase letters, digits and '-'")
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
    return problems + _command_problems(spec["trialTemplate"]) + _collector_problems(spec["trialTemplate"])


def _collector_problems(template: dict[str, Any]) -> list[str]:
    """Katib injects its metrics collector (an image that runs as root) with no security context of its
    own: under a pod's ``runAsNonRoot`` the kubelet refuses to start it unless the pod sets a uid."""
    security = template["trialSpec"]["spec"]["template"]["spec"].get("securityContext") or {}
    if security.get("runAsNonRoot") and not security.get("runAsUser"):
        return [
            "runAsNonRoot without runAsUser: the injected metrics collector, root in its image, cannot start"
        ]
    return []


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
