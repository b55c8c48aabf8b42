"""Pipeline wiring: step inputs name real outputs, and the steps form a DAG."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.diagnostics import Diagnostic, did_you_mean
from mlopsctl.config.models.pipelines import Pipeline, Step
from mlopsctl.config.sourcemap import Path


# The shape of an OutputRef in mlopsctl.config.models.pipelines: <step>.<output>.
def find_cycles(order: Sequence[str], edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One cycle per group of nodes that reach each other, each as a closed walk ``[a, b, a]``.

    Nodes are visited in ``order``; a cycle starts at its node that comes first in ``order``.
    """
    rank = {node: i for i, node in enumerate(order)}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []
    cycles: dict[frozenset[str], list[str]] = {}

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ()), key=lambda n: rank.get(n, len(rank))):
            if state.get(nxt) == 1:
                loop = stack[stack.index(nxt) :]
                start = min(range(len(loop)), key=lambda i: rank[loop[i]])
                loop = loop[start:] + loop[:start]
                cycles.setdefault(frozenset(loop), [*loop, loop[0]])
            elif nxt in rank and nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in order:
        if node not in state:
            visit(node)
    return sorted(cycles.values(), key=lambda c: rank[c[0]])


def _steps_path(pipeline: str, step: str) -> Path:
    return ("pipelines", pipeline, "steps", step)


def _upstream(name: str, step: Step) -> set[str]:
    """Steps this one waits for: named in dependsOn or read through an output reference.

    A step reading its own output is reported by the wiring check, not as a cycle.
    """
    return set(step.depends_on) | {ref for ref, _, _ in step.references() if ref != name}


def _wiring(name: str, pipeline: Pipeline) -> Iterator[Diagnostic]:
    steps = pipeline.steps
    for step_name, step in steps.items():
        base = _steps_path(name, step_name)
        for ref, output, rel in step.references():
            if ref == step_name:
                yield Diagnostic(
                    "E309",
                    f"step '{step_name}' reads its own output '{ref}.{output}'",
                    path=base + rel,
                    hint="a step can only read outputs of steps that run before it",
                )
            elif ref not in steps:
                yield Diagnostic(
                    "E309",
                    f"step '{step_name}' reads '{ref}.{output}', but pipeline '{name}' has no step '{ref}'",
                    path=base + rel,
                    hint=did_you_mean(ref, steps) or f"steps of pipeline '{name}': {', '.join(steps)}",
                )
            elif output not in steps[ref].outputs:
                declared = steps[ref].outputs
                yield Diagnostic(
                    "E309",
                    f"step '{step_name}' reads '{ref}.{output}', but step '{ref}' has no output '{output}'",
                    path=base + rel,
                    hint=did_you_mean(output, declared)
                    or (
                        f"outputs of '{ref}': {', '.join(declared)}"
                        if declared
                        else f"declare '{output}' under outputs of step '{ref}'"
                    ),
                )


@check
def step_wiring(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Inputs, conditions and loops read declared outputs of other steps of the same pipeline."""
    for name, pipeline in ctx.config.pipelines.items():
        yield from _wiring(name, pipeline)


@check
def depends_on(ctx: CheckContext) -> Iterator[Diagnostic]:
    for name, pipeline in ctx.config.pipelines.items():
        steps = pipeline.steps
        for step_name, step in steps.items():
            others = [s for s in steps if s != step_name]
            for i, dep in enumerate(step.depends_on):
                if dep not in steps:
                    yield Diagnostic(
                        "E301",
                        f"step '{step_name}' depends on '{dep}', which is not a step of pipeline '{name}'",
                        path=(*_steps_path(name, step_name), "dependsOn", i),
                        hint=did_you_mean(dep, others) or f"steps of pipeline '{name}': {', '.join(others)}",
                    )


@check
def step_cycles(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Steps, linked by inputs, dependsOn, when and parallelFor, form no cycle."""
    for name, pipeline in ctx.config.pipelines.items():
        order = list(pipeline.steps)
        edges = {s: _upstream(s, step) for s, step in pipeline.steps.items()}
        for cycle in find_cycles(order, edges):
            yield Diagnostic(
                "E302",
                f"steps of pipeline '{name}' depend on each other in a cycle: {' → '.join(cycle)}",
                path=_steps_path(name, cycle[0]),
                hint="remove one of these dependencies (an input, dependsOn, when or parallelFor reference)",
            )
