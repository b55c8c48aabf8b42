"""Pipeline parameters: what reads them (``params.NAME`` inputs) and what sets them per run
(schedules, monitors that retrain) names declared parameters, with values of their type."""

from __future__ import annotations

import keyword
from collections.abc import Iterator, Mapping

from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.checks.references import unresolved
from mlopsctl.config.diagnostics import Diagnostic, Severity, did_you_mean
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.models.monitoring import DataMonitor
from mlopsctl.config.models.pipelines import PARAMS
from mlopsctl.config.models.types import Scalar
from mlopsctl.config.sourcemap import Path

_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}


@check
def parameter_names(ctx: CheckContext) -> Iterator[Diagnostic]:
    """kfp reads a pipeline's inputs from a Python signature: a keyword cannot name one."""
    for name, pipeline in ctx.config.pipelines.items():
        for parameter in pipeline.parameters:
            if keyword.iskeyword(parameter):
                yield Diagnostic(
                    "E304",
                    f"parameter '{parameter}' of pipeline '{name}' is a Python keyword, "
                    "which Kubeflow Pipelines cannot take as an input name",
                    path=("pipelines", name, "parameters", parameter),
                    hint=f"rename it, e.g. '{parameter}_'",
                )


@check
def parameter_references(ctx: CheckContext) -> Iterator[Diagnostic]:
    """``params.NAME`` names a parameter of the pipeline, and only among a step's inputs."""
    for name, pipeline in ctx.config.pipelines.items():
        declared = pipeline.parameters
        for step_name, step in pipeline.steps.items():
            for parameter, rel in step.parameter_references():
                path: Path = ("pipelines", name, "steps", step_name, *rel)
                if rel[0] != "inputs":
                    yield Diagnostic(
                        "E309",
                        f"step '{step_name}' of pipeline '{name}' reads '{PARAMS}.{parameter}' in "
                        f"'{rel[0]}', which takes a step output",
                        path=path,
                        hint="pass the parameter to a step as an input, and use that step's output here",
                    )
                elif parameter not in declared:
                    section = f"pipelines.{name}.parameters"
                    yield unresolved("pipeline parameter", parameter, section, declared, path)


def _set_parameters(config: MLOpsConfig) -> Iterator[tuple[str, Mapping[str, Scalar], Path, str]]:
    """Parameters set for the runs of a pipeline: (pipeline, values, path, who sets them)."""
    for name, pipeline in config.pipelines.items():
        if pipeline.schedule is not None:
            path: Path = ("pipelines", name, "schedule", "parameters")
            yield name, pipeline.schedule.parameters, path, f"the schedule of pipeline '{name}'"
    for name, monitor in config.monitors.items():
        if isinstance(monitor, DataMonitor):
            path = ("monitors", name, "actions", "retrainParameters")
            for retrain in retrained(config, name):
                yield retrain, monitor.actions.retrain_parameters, path, f"monitor '{name}'"


def retrained(config: MLOpsConfig, monitor: str) -> list[str]:
    """Declared pipelines that ``monitor`` runs: its ``actions.retrain`` and those it triggers."""
    retrain = config.monitors[monitor].actions.retrain
    found = {p for p, pl in config.pipelines.items() if any(t.monitor == monitor for t in pl.triggers)}
    return sorted(found | ({retrain} if retrain in config.pipelines else set()))


@check
def run_parameters(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A run can only set parameters its pipeline declares, to values of their type."""
    for pipeline, values, path, who in _set_parameters(ctx.config):
        declared = ctx.config.pipelines[pipeline].parameters
        for key, value in values.items():
            if key not in declared:
                yield Diagnostic(
                    "E301",
                    f"{who} sets parameter '{key}', which pipeline '{pipeline}' does not declare",
                    path=(*path, key),
                    hint=did_you_mean(key, declared) or f"declare it under pipelines.{pipeline}.parameters",
                )
            elif type(value) not in _accepted(declared[key]):
                wanted = _TYPE_NAMES[type(declared[key])]
                yield Diagnostic(
                    "E202",
                    f"{who} sets parameter '{key}' of pipeline '{pipeline}' to {value!r}, "
                    f"not {wanted} like its default",
                    path=(*path, key),
                    hint=f"give {wanted}, or change the default under pipelines.{pipeline}.parameters",
                )
    for name, job in ctx.config.batch_jobs.items():
        for key in job.schedule.parameters if job.schedule else {}:
            yield Diagnostic(
                "E301",
                f"the schedule of batch job '{name}' sets parameter '{key}', but a batch job takes none",
                path=("batchJobs", name, "schedule", "parameters", key),
                hint="remove it",
            )


def _accepted(default: Scalar) -> tuple[type, ...]:
    """Value types a parameter with this default takes (KFP reads a whole number as a float too)."""
    return (int, float) if isinstance(default, float) else (type(default),)


@check
def unused_retrain_parameters(ctx: CheckContext) -> Iterator[Diagnostic]:
    for name, monitor in ctx.config.monitors.items():
        if monitor.actions.retrain_parameters and not retrained(ctx.config, name):
            yield Diagnostic(
                "W301",
                f"retrainParameters of monitor '{name}' are declared, but it retrains no pipeline",
                path=("monitors", name, "actions", "retrainParameters"),
                hint="set actions.retrain, or remove retrainParameters",
                severity=Severity.WARNING,
            )
