"""Built-in stages can run the steps declared for them: each input and output has a role flag,
evaluate names metrics it computes, and push knows the folder its model's versions live in."""

from __future__ import annotations

from collections.abc import Iterator

from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.diagnostics import Diagnostic, did_you_mean
from mlopsctl.config.models.roles import stage_roles
from mlopsctl.config.models.stages import METRICS
from mlopsctl.config.naming import registry_folder


@check
def step_roles(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Every input and output of a built-in or launched step maps to what its stage takes."""
    for name, pipeline in ctx.config.pipelines.items():
        for step_name in pipeline.steps:
            for problem in stage_roles(name, pipeline, step_name).problems:
                yield Diagnostic(
                    "E309",
                    problem.message,
                    path=("pipelines", name, "steps", step_name, *problem.path),
                    hint=problem.hint,
                )


@check
def evaluate_metrics(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Thresholds and float outputs of an evaluate step name metrics the stage computes."""
    for name, pipeline in ctx.config.pipelines.items():
        for step_name, step in pipeline.steps.items():
            if step.kind != "evaluate":
                continue
            what = f"evaluate step '{step_name}' of pipeline '{name}'"
            named = [(f"a threshold on '{k}'", "thresholds", k) for k in step.thresholds]
            named += [
                (f"a float output '{k}'", "outputs", k) for k, t in step.outputs.items() if t == "float"
            ]
            for has, section, key in named:
                if key not in METRICS:
                    yield Diagnostic(
                        "E204",
                        f"{what} has {has}, which is not a metric the evaluate stage computes",
                        path=("pipelines", name, "steps", step_name, section, key),
                        hint=did_you_mean(key, METRICS) or f"metrics: {', '.join(METRICS)}",
                    )


@check
def push_registries(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A push writes a new version beside the model's others: they must share a folder."""
    for name, pipeline in ctx.config.pipelines.items():
        for step_name, step in pipeline.steps.items():
            model = ctx.config.models.get(step.model or "")
            if model is None or registry_folder(v.artifact_uri for v in model.versions.values()):
                continue  # an undeclared model is reported by the reference checks
            yield Diagnostic(
                "E309",
                f"push step '{step_name}' of pipeline '{name}' cannot tell where model '{step.model}' "
                "keeps its versions: their artifactUris share no folder",
                path=("pipelines", name, "steps", step_name, "model"),
                hint=f"keep every version of '{step.model}' in one folder, e.g. gs://BUCKET/models/{step.model}/",
            )
