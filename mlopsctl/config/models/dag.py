"""The order of a pipeline's steps: what each waits for, and the conditions that enclose it."""

from collections.abc import Iterable

from mlopsctl.config.models.pipelines import Pipeline, Step


def upstream(step: Step) -> set[str]:
    """Names of the steps ``step`` waits for."""
    return set(step.depends_on) | {producer for producer, _, _ in step.references()}


def ancestors(pipeline: Pipeline, names: Iterable[str]) -> set[str]:
    """Every step that the steps ``names`` wait for, directly or not."""
    seen: set[str] = set()
    stack = list(names)
    while stack:
        for parent in upstream(pipeline.steps[stack.pop()]):
            if parent in pipeline.steps and parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def topological_order(pipeline: Pipeline) -> list[str]:
    """Steps with their dependencies first; ties in declaration order (the checks reject cycles)."""
    remaining = {name: upstream(step) for name, step in pipeline.steps.items()}
    order: list[str] = []
    while remaining:
        ready = [n for n, deps in remaining.items() if not deps - set(order)]
        if not ready:
            raise ValueError(f"dependency cycle among {sorted(remaining)}")
        order.append(ready[0])
        del remaining[ready[0]]
    return order


def condition_chains(pipeline: Pipeline, order: list[str]) -> dict[str, tuple[str, ...]]:
    """For each step, the conditional steps (outermost first) whose ``dsl.If`` groups enclose it.

    A step inherits the longest chain of its upstream steps: if a step is skipped,
    so is everything that consumes it.
    """
    chains: dict[str, tuple[str, ...]] = {}
    for name in order:
        step = pipeline.steps[name]
        inherited = max((chains[u] for u in upstream(step)), key=len, default=())
        chains[name] = (*inherited, name) if step.when else inherited
    return chains
