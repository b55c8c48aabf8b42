"""Pipeline steps that the compiler can place: images, condition groups, loop outputs."""

from __future__ import annotations

from collections.abc import Iterator

from mlopsctl.build.kfp_dag import condition_chains, topological_order, upstream
from mlopsctl.config.checks import CheckContext, check
from mlopsctl.diagnostics import Diagnostic


@check
def step_images(ctx: CheckContext) -> Iterator[Diagnostic]:
    if ctx.config.project.stage_image:
        return
    for name, pipeline in ctx.config.pipelines.items():
        for step_name, step in pipeline.steps.items():
            if step.image is None:
                yield Diagnostic(
                    "E201",
                    f"step '{step_name}' of pipeline '{name}' has no image",
                    path=("pipelines", name, "steps", step_name),
                    hint=f"set 'image' on the step, or project.stageImage for built-in '{step.kind}' stages",
                )


@check
def condition_groups(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A step may consume outputs of conditional steps only if their conditions nest."""
    for name, pipeline in ctx.config.pipelines.items():
        try:
            order = topological_order(pipeline)
        except ValueError:
            continue  # reported as a cycle by the dag checks
        chains = condition_chains(pipeline, order)
        for step_name in order:
            longest = chains[step_name][
                : len(chains[step_name]) - (1 if pipeline.steps[step_name].when else 0)
            ]
            for parent in sorted(upstream(pipeline.steps[step_name])):
                if longest[: len(chains[parent])] != chains[parent]:
                    groups = " and ".join(", ".join(chain) or "none" for chain in (chains[parent], longest))
                    yield Diagnostic(
                        "E309",
                        f"step '{step_name}' of pipeline '{name}' depends on steps under unrelated "
                        f"conditions ({groups})",
                        path=("pipelines", name, "steps", step_name),
                        hint="put one condition on a step upstream of the other, or split the step",
                    )
                    break


@check
def loop_outputs(ctx: CheckContext) -> Iterator[Diagnostic]:
    for name, pipeline in ctx.config.pipelines.items():
        looped = {s for s, step in pipeline.steps.items() if step.parallel_for}
        for step_name, step in pipeline.steps.items():
            for key, value in step.inputs.items():
                if isinstance(value, str) and value.split(".", 1)[0] in looped:
                    yield Diagnostic(
                        "E309",
                        f"input '{key}' of step '{step_name}' reads '{value}', "
                        "an output of a parallelFor step",
                        path=("pipelines", name, "steps", step_name, "inputs", key),
                        hint="a parallelFor step has one output per item; wait for it with 'dependsOn'",
                    )
