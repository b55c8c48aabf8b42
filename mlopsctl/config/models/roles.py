"""What each declared input and output of a step is to the program its executor runs.

A built-in stage (``docs/stages.md``) takes its inputs and outputs as role flags named for
what they are (``--examples``, ``--schema``), whatever the user called them. A step's inputs
and outputs are mapped to the roles of its kind by type and, where two roles share a type
(validate reads two artifacts), by the kind of the step that produced the input. Launchers
(``tune-job``, ``train-job``) take any input, by name; ``tune`` has one output, the best
hyperparameters, and the replicas of a distributed ``train`` write artifacts only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from mlopsctl.config.models.pipelines import OUTPUT_REF, PARAMS, OutputType, Pipeline, Step
from mlopsctl.config.sourcemap import Path
from mlopsctl.config.wording import with_article


@dataclass(frozen=True)
class Role:
    flag: str
    output: bool
    types: tuple[OutputType, ...]
    producer: str | None = None
    """The kind of step expected to produce an input, to tell apart roles of one type."""
    required: bool = True
    per_name: bool = False
    """Repeatable, with the name: ``--FLAG NAME VALUE``."""

    def describe(self) -> str:
        what = with_article(self.types[0])
        return (
            f"--{self.flag} ({what} of {with_article(self.producer)} step)"
            if self.producer
            else f"--{self.flag} ({what})"
        )


def _in(flag: str, type_: OutputType, producer: str | None = None, *, required: bool = True) -> Role:
    return Role(flag, False, (type_,), producer, required)


def _out(flag: str, type_: OutputType, *, required: bool = True) -> Role:
    return Role(flag, True, (type_,), None, required)


STAGE_ROLES: dict[str, tuple[Role, ...]] = {
    "ingest": (_out("examples", "dataset"),),
    "statistics": (_in("examples", "dataset"), _out("statistics", "artifact")),
    "schema": (_in("statistics", "artifact", "statistics"), _out("schema", "artifact")),
    "validate": (
        _in("statistics", "artifact", "statistics"),
        _in("schema", "artifact", "schema"),
        _out("anomalies", "artifact"),
        _out("anomaly-count", "integer", required=False),
        _out("passed", "boolean", required=False),
    ),
    "transform": (
        _in("examples", "dataset"),
        _in("schema", "artifact", "schema", required=False),
        _out("transformed", "dataset"),
        _out("transform-graph", "artifact", required=False),
    ),
    "evaluate": (
        _in("model", "model"),
        _in("examples", "dataset"),
        _out("metrics", "metrics", required=False),
        _out("blessed", "boolean", required=False),
        Role("metric", True, ("float",), required=False, per_name=True),
    ),
    "push": (_in("model", "model"), _out("pushed-uri", "string", required=False)),
}
"""The role flags of each built-in stage a step kind runs (``mlopsctl-stage <kind>``)."""
PARAMETER_TYPES: tuple[OutputType, ...] = ("string", "integer", "float", "boolean", "list")
BEST_HYPERPARAMETERS = Role("best-hyperparameters", True, ("artifact",))


def launcher_stage(step: Step) -> str | None:
    """The launcher that runs a step's pods for it: ``tune-job``, ``train-job`` (distributed), or None."""
    if step.kind == "tune":
        return "tune-job"
    if step.kind == "train" and step.distributed is not None:
        return "train-job"
    return None


@dataclass(frozen=True)
class Problem:
    message: str
    path: Path
    """Relative to the step."""
    hint: str


@dataclass(frozen=True)
class Roles:
    inputs: dict[str, Role] = field(default_factory=dict)
    outputs: dict[str, Role] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()


def stage_roles(pipeline_name: str, pipeline: Pipeline, name: str) -> Roles:
    """The roles of the inputs and outputs of step ``name``, and what cannot be mapped."""
    step = pipeline.steps[name]
    what = f"{step.kind} step '{name}' of pipeline '{pipeline_name}'"
    if step.kind == "tune":
        tuned = _tune(what, step)
        return replace(tuned, problems=(*tuned.problems, *_launched_loop(what, step)))
    if step.kind not in STAGE_ROLES:
        return Roles(problems=(*_replica_outputs(what, step), *_launched_loop(what, step)))
    roles = STAGE_ROLES[step.kind]
    binder = _Binder(what, step.kind, roles)
    readable = dict(_inputs(pipeline, step))
    if len(readable) < len(step.inputs):  # an input reads no declared output: the wiring check says so
        binder.unsure.update(r for r in roles if not r.output)
    inputs = binder.bind(readable, output=False)
    outputs = binder.bind({k: (t, None) for k, t in step.outputs.items()}, output=True)
    problems = binder.problems
    bound = {*inputs.values(), *outputs.values()}
    for role in roles:
        if role.required and role not in bound and role not in binder.unsure:
            problems.append(_missing(what, role, pipeline, name))
    if step.parallel_for is not None:
        problems.append(
            Problem(
                f"{what} cannot run in a parallelFor loop: the {step.kind} stage has no input for the item",
                ("parallelFor",),
                "loop over a container step that runs the stage's work per item",
            )
        )
    return Roles(inputs, outputs, tuple(problems))


Kind = tuple[str | None, str | None]
"""What a step reads: (its type, the kind of the producing step); (None, description) if no step output."""


def _inputs(pipeline: Pipeline, step: Step) -> Iterator[tuple[str, Kind]]:
    for key, value in step.inputs.items():
        match = OUTPUT_REF.match(value) if isinstance(value, str) else None
        if match is None:
            yield key, (None, "a literal value")
        elif match[1] == PARAMS:
            yield key, (None, f"pipeline parameter '{match[2]}'")
        elif match[1] in pipeline.steps and match[2] in pipeline.steps[match[1]].outputs:
            producer = pipeline.steps[match[1]]
            yield key, (producer.outputs[match[2]], producer.kind)
        # otherwise reported by the wiring check


class _Binder:
    """Maps declared inputs (or outputs) to the roles of a stage, collecting what cannot be mapped."""

    def __init__(self, what: str, kind: str, roles: tuple[Role, ...]) -> None:
        self.what = what
        self.kind = kind
        self.roles = roles
        self.problems: list[Problem] = []
        self.unsure: set[Role] = set()
        """Roles a problem already explains (an input that could be any of them): not also missing."""

    def bind(self, declared: dict[str, Kind], *, output: bool) -> dict[str, Role]:
        """Each declared name to its role: first those whose producer's kind picks one, then by type."""
        candidates = [r for r in self.roles if r.output == output]
        bound: dict[str, Role] = {}

        def free(type_: str | None) -> list[Role]:
            taken = set(bound.values())
            return [r for r in candidates if type_ in r.types and (r.per_name or r not in taken)]

        for key, (type_, producer) in declared.items():
            chosen = [r for r in free(type_) if r.producer is not None and r.producer == producer]
            if len(chosen) == 1:
                bound[key] = chosen[0]
        for key, (type_, producer) in declared.items():
            found = free(type_) if key not in bound else []
            if len(found) == 1:
                bound[key] = found[0]
            elif key not in bound:
                self._unmapped(key, with_article(type_) if type_ else str(producer), found, output)
        return bound

    def _unmapped(self, key: str, desc: str, found: list[Role], output: bool) -> None:
        section = "outputs" if output else "inputs"
        if found:
            self.unsure.update(found)
            flags = " or ".join(f"--{r.flag}" for r in found)
            message = f"{self.what} cannot tell whether {section[:-1]} '{key}' ({desc}) is its {flags}"
            hint = "; ".join(f"read {r.describe()}" for r in found)
        else:
            message = f"{self.what} has no use for {section[:-1]} '{key}' ({desc})"
            flags = ", ".join(r.describe() for r in self.roles if r.output == output) or "nothing"
            hint = f"the {self.kind} stage {'writes' if output else 'reads'} {flags}"
        self.problems.append(Problem(message, (section, key), hint))


def _missing(what: str, role: Role, pipeline: Pipeline, name: str) -> Problem:
    """A required role no declared input or output maps to; the hint names an output it could read."""
    key, type_ = role.flag.replace("-", "_"), role.types[0]
    if role.output:
        return Problem(
            f"{what} has no output for {role.describe()}",
            (),
            f"declare it under outputs, e.g. {{{key}: {type_}}}",
        )
    readable = [
        f"{producer}.{output}"
        for producer, step in pipeline.steps.items()
        if producer != name and role.producer in (None, step.kind)
        for output, kind in step.outputs.items()
        if kind == type_
    ]
    example = readable[0] if readable else "STEP.OUTPUT"
    return Problem(
        f"{what} has no input for {role.describe()}",
        (),
        f"declare it under inputs, e.g. {{{key}: {example}}}",
    )


def _tune(what: str, step: Step) -> Roles:
    """A tune step writes one artifact, the best hyperparameters; it reads anything."""
    problems = [
        Problem(
            f"{what} cannot write output '{key}' ({with_article(type_)}): "
            "it writes only the best hyperparameters",
            ("outputs", key),
            "declare one artifact output, e.g. {best_hyperparameters: artifact}",
        )
        for key, type_ in step.outputs.items()
        if type_ not in BEST_HYPERPARAMETERS.types
    ]
    artifacts = [key for key, type_ in step.outputs.items() if type_ in BEST_HYPERPARAMETERS.types]
    problems += [
        Problem(
            f"{what} declares a second artifact output '{key}'",
            ("outputs", key),
            "a tune step writes one artifact: the best hyperparameters",
        )
        for key in artifacts[1:]
    ]
    if not artifacts:
        problems.append(
            Problem(
                f"{what} has no output for the best hyperparameters",
                (),
                "declare it under outputs, e.g. {best_hyperparameters: artifact}",
            )
        )
    return Roles(outputs={k: BEST_HYPERPARAMETERS for k in artifacts[:1]}, problems=tuple(problems))


def _replica_outputs(what: str, step: Step) -> Iterator[Problem]:
    """The replicas of a distributed train step hand artifacts back by URI; parameters have none."""
    if launcher_stage(step) != "train-job":
        return
    for key, type_ in step.outputs.items():
        if type_ in PARAMETER_TYPES:
            yield Problem(
                f"{what} cannot write parameter output '{key}' ({with_article(type_)}): "
                "its replicas hand back artifacts only",
                ("outputs", key),
                f"declare '{key}' as an artifact or metrics output, or compute it in a later step",
            )


def _launched_loop(what: str, step: Step) -> Iterator[Problem]:
    """A launcher creates one object per run, named for the step and the run: a loop would create
    the same one for every item."""
    stage = launcher_stage(step)
    if step.parallel_for is None or stage is None:
        return
    if stage == "tune-job":
        created, hint = (
            "Katib Experiment",
            "search over the items: add them to searchSpace as a categorical parameter",
        )
    else:
        created, hint = (
            "training job",
            "loop over the items in the training code, or declare one step per item",
        )
    yield Problem(
        f"{what} cannot run in a parallelFor loop: every iteration would create the same {created}",
        ("parallelFor",),
        hint,
    )
