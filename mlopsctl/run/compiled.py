"""What a local run takes from the compiled graph: the same objects that go to the target.

A pipeline runs the ``spec.pipelineSpec`` of its PipelineVersion (Kubeflow Pipelines) or the
PipelineSpec its published template object holds (Vertex AI Pipelines); a monitor runs the container
of its CronJob; a batch job's model server is configured from its compiled ``batch-predict`` step.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from mlopsctl.compiler.pipelines import PIPELINE_VERSION
from mlopsctl.compiler.vertex_pipelines import BUCKET_OBJECT, Template, template_name
from mlopsctl.config.diagnostics import did_you_mean
from mlopsctl.graph import JSON, Graph, Resource, as_mapping
from mlopsctl.run.errors import RunError

CRONJOB = "kubernetes:batch/v1:CronJob"
PIPELINE_LABEL = "pipelines.kubeflow.org/pipeline"
MONITOR_LABEL = "mlopsctl.dev/monitor"


def _labels(resource: Resource) -> Mapping[str, str]:
    return as_mapping(as_mapping(resource.inputs.get("metadata")).get("labels"))


def pipeline_spec(graph: Graph, pipeline: str) -> dict[str, JSON]:
    """The compiled pipeline spec (IR) of the current version of ``pipeline``, or of its template."""
    for resource in graph:
        if resource.type == PIPELINE_VERSION and _labels(resource).get(PIPELINE_LABEL) == pipeline:
            return _spec(resource)
        if resource.type == BUCKET_OBJECT and resource.name == template_name(pipeline):
            return Template(resource).spec
    raise RunError(f"pipeline {pipeline} has no compiled version in {graph.target}")


def version_spec(graph: Graph, version: str) -> dict[str, JSON]:
    """The compiled pipeline spec of the PipelineVersion named ``version``."""
    for resource in graph:
        if (
            resource.type == PIPELINE_VERSION
            and as_mapping(resource.inputs.get("metadata")).get("name") == version
        ):
            return _spec(resource)
    raise RunError(f"no pipeline version {version} in {graph.target}")


def template_spec(graph: Graph, uri: str) -> dict[str, JSON]:
    """The compiled pipeline spec of the template object at ``uri`` (``gs://BUCKET/NAME``)."""
    for template in map(Template, graph.of_type(BUCKET_OBJECT)):
        if template.uri == uri:
            return template.spec
    raise RunError(f"no pipeline template {uri} in {graph.target}")


@dataclass(frozen=True)
class Retrain:
    """A run that a monitor's breach starts: of which pipeline, the compiled spec it runs (a
    PipelineVersion's name, or a template's ``gs://`` URI, which a PipelineJob may carry ``inline``),
    and its parameters."""

    pipeline: str
    version: str
    parameters: Mapping[str, JSON]
    inline: dict[str, JSON] | None = None

    @staticmethod
    def of(entry: Mapping[str, Any]) -> Retrain:
        """The run a ``start-run`` config of either backend starts (docs/stages.md)."""
        parameters = entry.get("parameters") or {}
        if entry.get("backend") == "vertex":
            return Retrain(str(entry["displayName"]), str(entry["pipelineSpecUri"]), parameters)
        return Retrain(str(entry["pipeline"]), str(entry["pipelineVersion"]), parameters)

    def spec(self, graph: Graph) -> dict[str, JSON]:
        if self.inline is not None:
            return self.inline
        if self.version.startswith("gs://"):
            return template_spec(graph, self.version)
        return version_spec(graph, self.version)


def _spec(resource: Resource) -> dict[str, JSON]:
    spec = as_mapping(resource.inputs.get("spec")).get("pipelineSpec")
    if not isinstance(spec, dict) or not spec:
        raise RunError(f"{resource.address}: its template renders no spec.pipelineSpec mapping to run")
    return spec


def monitor_container(graph: Graph, monitor: str) -> dict[str, JSON]:
    """The container of the CronJob that runs ``monitor``."""
    for resource in graph:
        if resource.type == CRONJOB and _labels(resource).get(MONITOR_LABEL) == monitor:
            pod = as_mapping(resource.inputs.get("spec"))
            for key in ("jobTemplate", "spec", "template", "spec"):
                pod = as_mapping(pod.get(key))
            containers = pod.get("containers")
            container = as_mapping(containers[0] if isinstance(containers, list) and containers else None)
            if not all(isinstance(container.get(k, []), list) for k in ("command", "args", "env")):
                container = {}
            if not container:
                raise RunError(
                    f"monitor {monitor}: its CronJob ({resource.address}) renders no container with "
                    "command, args and env lists to run"
                )
            return container
    raise RunError(f"monitor {monitor} has no compiled CronJob in {graph.target}")


def stage_config(full_command: list[str], subject: str) -> dict[str, Any]:
    """The ``--config`` JSON of a built-in stage's command line."""
    try:
        config = json.loads(full_command[full_command.index("--config") + 1])
    except (ValueError, IndexError):
        raise RunError(f"{subject}: the compiled command has no --config JSON") from None
    if not isinstance(config, dict):
        raise RunError(f"{subject}: the compiled --config is not a JSON object")
    return config


def executor_command(spec: Mapping[str, JSON], stage: str) -> list[str]:
    """Command and args of the first executor of ``spec`` that runs the built-in ``stage``."""
    for executor in spec["deploymentSpec"]["executors"].values():
        container = executor.get("container") or {}
        full = [*container.get("command", []), *container.get("args", [])]
        if stage in full:
            return [str(part) for part in full]
    raise RunError(f"the compiled pipeline {spec['pipelineInfo']['name']} has no {stage} step")


def parameter_arguments(spec: Mapping[str, JSON], given: Mapping[str, str]) -> dict[str, JSON]:
    """``--param K=V`` values, typed as the pipeline's declared parameters (its root inputs)."""
    declared: dict[str, JSON] = spec["root"].get("inputDefinitions", {}).get("parameters", {})
    found: dict[str, JSON] = {}
    for key, text in given.items():
        if key not in declared:
            hint = did_you_mean(key, declared) or f"declared: {', '.join(sorted(declared)) or 'none'}"
            raise RunError(
                f"--param {key}: pipeline {spec['pipelineInfo']['name']} has no such parameter ({hint})"
            )
        found[key] = _typed(key, text, str(declared[key].get("parameterType", "STRING")))
    return found


_PARSERS: dict[str, tuple[str, type | tuple[type, ...]]] = {
    "NUMBER_INTEGER": ("an integer", int),
    "NUMBER_DOUBLE": ("a number", (int, float)),
    "BOOLEAN": ("true or false", bool),
    "LIST": ("a JSON list", list),
    "STRUCT": ("a JSON object", dict),
}


def _typed(key: str, text: str, kind: str) -> JSON:
    if kind not in _PARSERS:
        return text
    what, types = _PARSERS[kind]
    try:  # NaN and infinities are not JSON: a submitted run's request would be refused
        value = json.loads(text, parse_float=_finite, parse_constant=_not_a_number)
        if kind == "NUMBER_DOUBLE" and type(value) is int:
            value = float(value)  # OverflowError past a double's range
    except (ValueError, OverflowError):
        value = None
    if isinstance(value, bool) and types is not bool:
        value = None
    if not isinstance(value, types):
        why = _not_finite(text) if kind == "NUMBER_DOUBLE" else ""
        raise RunError(f"--param {key}={text}: must be {what}{why}")
    return value


def _not_finite(text: str) -> str:
    """Why a number parameter refused ``text`` if it is NaN, an infinity (as JSON's neighbours or YAML
    write them: ``NaN``, ``-Infinity``, ``.nan``, ``-.inf``) or a number past a double's range."""
    if text.strip().lstrip("+-").removeprefix(".").lower() in ("nan", "inf", "infinity"):
        why = "a pipeline parameter cannot be NaN or infinite"
    else:
        try:
            if math.isfinite(float(text)):
                return ""
        except ValueError:
            return ""
        why = f"{text} is past a double's range of ±1.8e308"
    return f", and finite: {why} (give a value such as 0.5)"


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is not a finite number")
    return value


def _not_a_number(text: str) -> NoReturn:
    raise ValueError(f"{text} is not a number")
