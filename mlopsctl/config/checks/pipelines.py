"""Pipeline steps that the compiler can place: images, condition groups, conditions, loop outputs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.diagnostics import Diagnostic
from mlopsctl.config.models.dag import ancestors, condition_chains, topological_order, upstream
from mlopsctl.config.models.pipelines import PARAMS, Condition, OutputType, Pipeline, Step
from mlopsctl.config.sourcemap import Path
from mlopsctl.config.wording import with_article

_COMPARABLE: dict[OutputType, tuple[type, ...]] = {
    "integer": (int,),
    "float": (int, float),
    "boolean": (bool,),
    "string": (str,),
}
"""Output types a condition can compare, and the YAML value types each can be compared with."""
_ORDERING = {"<", "<=", ">", ">="}
_NUMBERS = {"integer", "float"}


@dataclass(frozen=True)
class _StepAt:
    pipeline_name: str
    pipeline: Pipeline
    name: str
    step: Step

    def path(self, *rest: str) -> Path:
        return ("pipelines", self.pipeline_name, "steps", self.name, *rest)


def _steps(ctx: CheckContext) -> Iterator[_StepAt]:
    for pipeline_name, pipeline in ctx.config.pipelines.items():
        for name, step in pipeline.steps.items():
            yield _StepAt(pipeline_name, pipeline, name, step)


@check
def step_images(ctx: CheckContext) -> Iterator[Diagnostic]:
    """What each executor runs: the user's image and command (built-in stages run project.stageImage)."""
    for at in _steps(ctx):
        step = at.step
        if step.runs_own_image:
            yield from _own_image(at, f"{step.kind} step '{at.name}' of pipeline '{at.pipeline_name}'")


def _own_image(at: _StepAt, what: str) -> Iterator[Diagnostic]:
    runner = "each trial" if at.step.kind == "tune" else "the image"
    if at.step.image is None:
        yield Diagnostic(
            "E201",
            f"{what} has no image",
            path=at.path(),
            hint=f"set 'image': what {'each trial' if at.step.kind == 'tune' else 'the step'} runs",
        )
    if not at.step.command:
        yield Diagnostic(
            "E201",
            f"{what} has no command",
            path=at.path(),
            hint=f"give the program {runner} runs, e.g. command: [python, train.py]",
        )


@check
def reserved_step_names(ctx: CheckContext) -> Iterator[Diagnostic]:
    for name, pipeline in ctx.config.pipelines.items():
        if PARAMS in pipeline.steps:
            yield Diagnostic(
                "E304",
                f"step name '{PARAMS}' of pipeline '{name}' is reserved: "
                f"'{PARAMS}.NAME' reads a pipeline parameter",
                path=("pipelines", name, "steps", PARAMS),
                hint="rename the step",
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
            for producer, output, rel in step.references():
                if producer in looped:
                    yield Diagnostic(
                        "E309",
                        f"step '{step_name}' reads '{producer}.{output}', an output of a parallelFor step",
                        path=("pipelines", name, "steps", step_name, *rel),
                        hint="a parallelFor step has one output per item; wait for it with 'dependsOn'",
                    )


def _condition(when: Condition, output_type: OutputType, path: Path) -> Iterator[Diagnostic]:
    """The condition compares a parameter output with a value of its type, ordering only numbers."""
    allowed = _COMPARABLE.get(output_type)
    if allowed is None:
        yield Diagnostic(
            "E309",
            f"condition compares '{when.output}', {with_article(output_type)} output, "
            "which cannot be compared",
            path=(*path, "output"),
            hint="compare an integer, float, boolean or string output, e.g. a metric the step also writes",
        )
        return
    value = json.dumps(when.value)
    if type(when.value) not in allowed:  # exact types: a YAML true is not the integer 1
        yield Diagnostic(
            "E309",
            f"condition compares {output_type} output '{when.output}' with {value}",
            path=(*path, "value"),
            hint=f"compare {with_article(output_type)} output with {with_article(output_type)} value",
        )
    if isinstance(when.value, str) and any(c in when.value for c in "'\"\\"):
        yield Diagnostic(
            "E309",
            f"condition value {value} contains a quote or backslash",
            path=(*path, "value"),
            hint="compare with a value without quotes or backslashes",
        )
    if when.operator in _ORDERING and output_type not in _NUMBERS:
        yield Diagnostic(
            "E309",
            f"condition orders {output_type} output '{when.output}' with '{when.operator}'",
            path=(*path, "operator"),
            hint="'<', '<=', '>' and '>=' compare numbers; use '==' or '!='",
        )


def _conditions(name: str, pipeline: Pipeline) -> Iterator[Diagnostic]:
    steps = pipeline.steps
    for step_name, step in steps.items():
        if step.when is None:
            continue
        producer, _, output = step.when.output.partition(".")
        output_type = steps[producer].outputs.get(output) if producer in steps else None
        if output_type is not None:  # otherwise reported by the wiring check
            yield from _condition(step.when, output_type, ("pipelines", name, "steps", step_name, "when"))


@check
def condition_values(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A condition compares a step output with a value the output's type can equal or order."""
    for name, pipeline in ctx.config.pipelines.items():
        yield from _conditions(name, pipeline)


@check
def loop_sources(ctx: CheckContext) -> Iterator[Diagnostic]:
    """``parallelFor.fromOutput`` iterates over a list output."""
    for at in _steps(ctx):
        source = at.step.parallel_for.from_output if at.step.parallel_for else None
        producer, _, output = (source or "").partition(".")
        steps = at.pipeline.steps
        kind = steps[producer].outputs.get(output) if producer in steps else None
        if kind is not None and kind != "list":
            yield Diagnostic(
                "E309",
                f"step '{at.name}' loops over '{source}', whose type is {kind}, not list",
                path=at.path("parallelFor", "fromOutput"),
                hint=f"declare '{output}: list' on step '{producer}' (a JSON array of items)",
            )


@check
def loop_item(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A parallelFor step receives the loop item as its input ``item``: it cannot declare another."""
    for at in _steps(ctx):
        if at.step.parallel_for and "item" in at.step.inputs:
            yield Diagnostic(
                "E310",
                f"step '{at.name}' declares an input 'item', which its parallelFor loop provides",
                path=at.path("inputs", "item"),
                hint="rename the input",
            )


@check
def environment_names(ctx: CheckContext) -> Iterator[Diagnostic]:
    for at in _steps(ctx):
        for key in sorted(at.step.env.keys() & at.step.secrets.keys()):
            yield Diagnostic(
                "E310",
                f"step '{at.name}' sets the environment variable '{key}' in both 'env' and 'secrets'",
                path=at.path("secrets", key),
                hint="keep one of the two",
            )


@check
def gated_pushes(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A push publishes a model only after an evaluate step with thresholds has passed."""
    for at in _steps(ctx):
        if at.step.kind == "push" and not any(
            _is_gate(at.pipeline.steps[a]) for a in ancestors(at.pipeline, [at.name])
        ):
            yield Diagnostic(
                "E309",
                f"push step '{at.name}' does not wait for an evaluate step with thresholds",
                path=at.path(),
                hint="add an evaluate step with 'thresholds' and make the push depend on it "
                "(dependsOn, or a 'when' on its verdict)",
            )


def _is_gate(step: Step) -> bool:
    return step.kind == "evaluate" and bool(step.thresholds)
