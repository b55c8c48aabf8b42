"""Translate one pipeline of mlops.yaml into a Kubeflow Pipelines v2 spec with the kfp SDK.

Each step becomes a container component loaded from a component spec built as data (never as
text). Every executor has a ``command`` (KFP runs its launcher in the container, which then
executes the command with the args):

- built-in kinds run ``mlopsctl-stage KIND`` with ``--config JSON`` and one role
  flag per input and output (:mod:`mlopsctl.config.models.roles`, ``docs/stages.md``);
- ``tune`` and distributed ``train`` run the launchers ``mlopsctl-stage tune-job``
  and ``train-job``, handed the URIs of their artifacts (the pods they create
  read and write them), on a CPU pool and asking for no accelerator: the trials
  and replicas hold the step's accelerators, never the launcher;
- the user's steps run their own command: their ``args``, then ``--NAME <value
  or path>`` per input and output.

Steps under a ``when`` condition run inside a ``dsl.If`` group together with every step that
consumes their outputs; a ``parallelFor`` step runs inside a ``dsl.ParallelFor`` loop with the loop
item as its ``item`` input. The pipeline's ``parameters`` are the pipeline function's parameters
(the spec's root inputs, with their defaults), wired to the inputs that read ``params.NAME``.

On GKE, node pools become node selectors (on a TPU pool also the slice's accelerator and topology
labels, which GKE requires) and tolerations, and timeouts and secrets pod settings (kfp-kubernetes).
Vertex AI picks each step's machine from its CPU and memory limits and its accelerators (by their
Vertex AI type): there the spec has no Kubernetes setting. A step that logs an experiment run takes
``--run-id`` from an input set to the run id placeholder, which Kubeflow Pipelines fills in task
inputs only.
"""

import contextlib
import dataclasses
import hashlib
import inspect
import itertools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlopsctl.compiler.kfp_internals import CompiledPipeline, compiled, load_component, set_container
from mlopsctl.compiler.pipeline_outline import outline
from mlopsctl.compiler.pods import NodePool, Placement, placement
from mlopsctl.config.durations import parse_duration
from mlopsctl.config.models.dag import ancestors, condition_chains, topological_order
from mlopsctl.config.models.pipelines import OUTPUT_REF, PARAMS, Pipeline, Resources, Step
from mlopsctl.config.models.placement import Runtime
from mlopsctl.config.models.roles import STAGE_ROLES, launcher_stage, stage_roles
from mlopsctl.graph import JSON

ARTIFACT_TYPES = {"dataset": "Dataset", "model": "Model", "metrics": "Metrics", "artifact": "Artifact"}
PARAMETER_TYPES = {
    "string": "String",
    "integer": "Integer",
    "float": "Float",
    "boolean": "Boolean",
    "list": "JsonArray",
}
_SCALAR_TYPES = {bool: "Boolean", int: "Integer", float: "Float", str: "String"}
STAGE_PROGRAM = "mlopsctl-stage"
"""The console script of the stage runtime (``project.stageImage``)."""
LAUNCHER_CPU = "100m"
LAUNCHER_MEMORY = "256Mi"
"""What a launcher asks for: it only creates an object and waits for it."""
RUN_ID_INPUT = "run_id"
_LAUNCHER_RESOURCES = {
    "cpu_request": LAUNCHER_CPU,
    "memory_request": LAUNCHER_MEMORY,
    "memory_limit": LAUNCHER_MEMORY,
}
_POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD
"""kfp reads a pipeline's inputs from the signature of its function, which is built for each pipeline."""


@dataclass(frozen=True)
class Launcher:
    """Where a launcher runs: the stage image, on a CPU pool."""

    image: str
    pool_name: str
    pool: NodePool | None


@dataclass(frozen=True)
class StepSettings:
    """What a step needs from the rest of the config, resolved for one target."""

    image: str
    """The image of the step's own code: of its trials or replicas under a launcher."""
    stage_config: dict[str, JSON] | None
    pool_name: str | None
    pool: NodePool | None
    """Where the step's own code runs (its trials or replicas under a launcher)."""
    launcher: Launcher | None = None
    in_mesh: bool = False
    """The step calls a service of the mesh (batch-predict its endpoint): it needs a sidecar, which
    KFP turns off on pipeline pods, as a native sidecar so that the pod still completes."""
    runtime: Runtime = "gke"
    """Kubeflow Pipelines on GKE, or Vertex AI Pipelines."""
    tracking: dict[str, str] = field(default_factory=dict)
    """Environment variables that make the step log to Vertex AI (of the launcher, under one)."""
    run_id: str | None = None
    """The value of ``--run-id`` (a placeholder of the pipeline run's id) of a step that logs a run."""


def compile_pipeline(
    name: str, pipeline: Pipeline, settings: Mapping[str, StepSettings], pipeline_root: str
) -> CompiledPipeline:
    """Compile ``pipeline`` (``settings`` by step name) with kfp (or outline it: ``pipeline_outline``)."""
    if (sketch := outline(name, pipeline, pipeline_root)) is not None:
        return sketch
    from kfp import dsl

    order = topological_order(pipeline)
    chains = condition_chains(pipeline, order)

    # No docstring: kfp would take it for the pipeline's description.
    def program(*values: Any) -> None:
        parameters = dict(zip(pipeline.parameters, values, strict=True))
        _Emitter(name, pipeline, order, chains, settings, parameters).emit_level(())

    program.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(key, _POSITIONAL, default=value, annotation=type(value))
            for key, value in pipeline.parameters.items()
        ]
    )
    component = dsl.pipeline(
        name=name, description=pipeline.description or None, pipeline_root=pipeline_root
    )(program)
    return compiled(component)


@dataclass
class _Emitter:
    """Creates the kfp tasks, opening each condition group once, with its members contiguous."""

    name: str
    pipeline: Pipeline
    order: list[str]
    chains: dict[str, tuple[str, ...]]
    settings: Mapping[str, StepSettings]
    parameters: dict[str, Any]
    """The pipeline's parameters, as kfp channels."""
    tasks: dict[str, Any] = field(default_factory=dict)

    def emit_level(self, chain: tuple[str, ...]) -> None:
        for name in self.order:
            if name in self.tasks or self.chains[name][: len(chain)] != chain:
                continue
            if self.chains[name] == chain:
                self.emit_step(name)
            else:
                self.emit_group((*chain, self.chains[name][len(chain)]))

    def emit_group(self, chain: tuple[str, ...]) -> None:
        """Emit same-level ancestors of the group first, then the group inside its ``dsl.If``."""
        members = [n for n in self.order if self.chains[n][: len(chain)] == chain]
        for ancestor in self.ancestors(members):
            if ancestor not in self.tasks and self.chains[ancestor] == chain[:-1]:
                self.emit_step(ancestor)
        with self.condition(chain[-1]):
            self.emit_level(chain)

    def ancestors(self, names: list[str]) -> list[str]:
        found = ancestors(self.pipeline, names)
        return [n for n in self.order if n in found]

    @contextlib.contextmanager
    def condition(self, name: str) -> Iterator[None]:
        from kfp import dsl

        when = self.pipeline.steps[name].when
        assert when is not None
        producer, output = when.output.split(".", 1)
        channel = self.tasks[producer].outputs[output]
        expression = {
            "==": channel == when.value,
            "!=": channel != when.value,
            ">": channel > when.value,
            ">=": channel >= when.value,
            "<": channel < when.value,
            "<=": channel <= when.value,
        }[when.operator]
        with dsl.If(expression, name=f"when-{name}"):
            yield

    def emit_step(self, name: str) -> None:
        from kfp import dsl

        step = self.pipeline.steps[name]
        settings = self.settings[name]
        loop = step.parallel_for
        if loop is None:
            self.tasks[name] = self.task(name, step, settings, item=None)
            return
        items: Any = loop.items
        if loop.from_output:
            producer, output = loop.from_output.split(".", 1)
            items = self.tasks[producer].outputs[output]
        with dsl.ParallelFor(items, parallelism=loop.parallelism or 0, name=f"each-{name}") as item:
            self.tasks[name] = self.task(name, step, settings, item=item)

    def task(self, name: str, step: Step, settings: StepSettings, item: Any) -> Any:
        component = self.component(name, step, settings, with_item=item is not None)
        arguments: dict[str, Any] = dict(step.inputs)
        for producer, output, (section, *key) in step.references():
            if section == "inputs":
                arguments[key[0]] = self.tasks[producer].outputs[output]
        for parameter, (section, *key) in step.parameter_references():
            if section == "inputs":
                arguments[key[0]] = self.parameters[parameter]
        if item is not None:
            arguments["item"] = item
        if settings.run_id is not None:
            arguments[_run_id_input(step)] = settings.run_id
        task = component(**arguments).set_display_name(name)
        wired = {producer for producer, _, (section, *_) in step.references() if section == "inputs"}
        for dependency in sorted(set(step.depends_on) - wired):
            task.after(self.tasks[dependency])
        _configure(task, step, settings)
        return task

    def component(self, name: str, step: Step, settings: StepSettings, *, with_item: bool) -> Any:
        types = {key: self.input_type(value) for key, value in sorted(step.inputs.items())}
        if with_item:
            types["item"] = _item_type(step)
        stage = launcher_stage(step)
        if step.kind in STAGE_ROLES:
            command, args = self.stage_program(name, step, settings, types)
        elif stage is not None:
            command, args = self.launcher_program(name, step, settings, types, stage)
        else:
            command, args = list(step.command), _user_args(step, types)
        image = settings.launcher.image if stage and settings.launcher else settings.image
        inputs = [{"name": key, "type": kind} for key, kind in types.items()]
        if settings.run_id is not None:
            run_id = _run_id_input(step)
            inputs.append({"name": run_id, "type": "String"})
            args += ["--run-id", {"inputValue": run_id}]
        spec = {
            "name": name,
            "inputs": inputs,
            "outputs": [{"name": key, "type": kfp_type(kind)} for key, kind in sorted(step.outputs.items())],
            "implementation": {"container": {"image": image, "command": command, "args": args}},
        }
        return load_component(spec)

    def stage_program(
        self, name: str, step: Step, settings: StepSettings, types: dict[str, str]
    ) -> tuple[list[str], list[Any]]:
        """``mlopsctl-stage KIND --config JSON`` and a role flag per input and output."""
        roles = stage_roles(self.name, self.pipeline, name)
        assert not roles.problems, "checked by config.checks.stages"
        args: list[Any] = ["--config", config_argument(settings.stage_config)]
        for key, role in sorted(roles.inputs.items()):
            args += [f"--{role.flag}", _input(key, types[key], uri=False)]
        for key, role in sorted(roles.outputs.items()):
            args += [f"--{role.flag}", *([key] if role.per_name else []), {"outputPath": key}]
        return [STAGE_PROGRAM, step.kind], args

    def launcher_program(
        self, name: str, step: Step, settings: StepSettings, types: dict[str, str], stage: str
    ) -> tuple[list[str], list[Any]]:
        """The launcher, handed every input and output by name: artifacts as URIs, for its pods."""
        args: list[Any] = ["--config", config_argument(settings.stage_config)]
        for key, kind in types.items():
            args += ["--input", key, _input(key, kind, uri=True)]
        if stage == "tune-job":
            roles = stage_roles(self.name, self.pipeline, name)
            assert not roles.problems, "checked by config.checks.stages"
            for key, role in sorted(roles.outputs.items()):
                args += [f"--{role.flag}", {"outputPath": key}]
        else:
            for key in sorted(step.outputs):
                args += ["--output", key, {"outputUri": key}]
        return [STAGE_PROGRAM, stage], args

    def input_type(self, value: Any) -> str:
        """The kfp type of an input: that of the output or parameter it reads, or of the literal."""
        match = OUTPUT_REF.match(value) if isinstance(value, str) else None
        if match is None:
            return _SCALAR_TYPES[type(value)]
        if match[1] == PARAMS:
            return _SCALAR_TYPES[type(self.pipeline.parameters[match[2]])]
        return kfp_type(self.pipeline.steps[match[1]].outputs[match[2]])


def config_argument(stage_config: dict[str, JSON] | None) -> str:
    """The ``--config`` argument of a stage or launcher with ``stage_config``."""
    return json.dumps(stage_config or {}, sort_keys=True)


def _input(key: str, kind: str, *, uri: bool) -> dict[str, str]:
    """The placeholder of an input: a path (or URI) for an artifact, the value of a parameter."""
    if kind not in ARTIFACT_TYPES.values():
        return {"inputValue": key}
    return {"inputUri" if uri else "inputPath": key}


def _user_args(step: Step, types: dict[str, str]) -> list[Any]:
    """The step's own args, then ``--NAME <value or path>`` per input and ``--NAME PATH`` per output."""
    args: list[Any] = list(step.args)
    for key, kind in types.items():
        args += [f"--{key}", _input(key, kind, uri=False)]
    for key in sorted(step.outputs):
        args += [f"--{key}", {"outputPath": key}]
    return args


def kfp_type(kind: str) -> str:
    """The kfp component type of a declared output type."""
    return ARTIFACT_TYPES.get(kind) or PARAMETER_TYPES[kind]


def _item_type(step: Step) -> str:
    """The type of the loop item: that of the items (all of one type), or String from an output."""
    items = step.parallel_for.items if step.parallel_for else None
    return _SCALAR_TYPES[type(items[0])] if items else "String"


def _run_id_input(step: Step) -> str:
    """The input holding the run's id: ``run_id``, numbered if the step has an input of that name."""
    names = itertools.chain([RUN_ID_INPUT], (f"{RUN_ID_INPUT}_{i}" for i in itertools.count(2)))
    return next(n for n in names if n not in {*step.inputs, "item"})


def _configure(task: Any, step: Step, settings: StepSettings) -> None:
    """Caching, retries, resources, variables and, on GKE, the pod settings of ``task``. Vertex AI gives
    each step a machine of its own: it has no pools, and no Kubernetes settings."""
    from kfp import kubernetes

    task.set_caching_options(step.caches)
    on_gke = settings.runtime == "gke"
    if step.timeout and on_gke:
        kubernetes.set_timeout(task, parse_duration(step.timeout))
    env = settings.tracking
    if settings.launcher is not None and launcher_stage(step):
        # The job it launches retries, and its pods get the step's resources, variables and secrets.
        where = placement(settings.launcher.pool_name, settings.launcher.pool, 0)
        resources = dict(_LAUNCHER_RESOURCES)
    else:
        if step.retries:
            task.set_retry(step.retries)
        for key, secret in sorted(step.secrets.items()) if on_gke else ():
            kubernetes.use_secret_as_env(
                task, secret_name=secret_object_name(secret), secret_key_to_env={"value": key}
            )
        where = placement(settings.pool_name, settings.pool, step.resources.accelerators)
        resources = _resources(step.resources, settings.runtime)
        env = {**step.env, **env}
    resources = {**resources, **_place(task, where)} if on_gke else _limits(resources)
    set_container(task, resources, dict(sorted(env.items())))
    if settings.in_mesh and on_gke:
        kubernetes.add_pod_label(task, "sidecar.istio.io/inject", "true")
        kubernetes.add_pod_annotation(task, "sidecar.istio.io/nativeSidecar", "true")


def _resources(resources: Resources, runtime: Runtime) -> dict[str, str]:
    """A step's ``ResourceSpec`` fields: its CPU and memory, requested and limited alike, and on Vertex AI
    its accelerators by their Vertex AI type (one when only the type is given, as kfp's
    ``set_accelerator_type`` has it). On GKE the accelerators come with the pool (:func:`_place`)."""
    found: dict[str, str] = {}
    for kind, amount in (("cpu", resources.cpu), ("memory", resources.memory)):
        if amount:
            found.update({f"{kind}_request": amount, f"{kind}_limit": amount})
    if resources.accelerator_type and runtime == "vertex":
        count = str(resources.accelerators or 1)
        found.update(accelerator_type=resources.accelerator_type, accelerator_count=count)
    return found


def _limits(resources: Mapping[str, str]) -> dict[str, str]:
    """Without the requests: Vertex AI picks a step's machine from the limits."""
    return {k: v for k, v in resources.items() if not k.endswith("_request")}


def secret_object_name(reference: str) -> str:
    """The Kubernetes Secret a Secret Manager reference is synced into.

    Its secret id made DNS-safe, plus a short hash of the whole reference, so that
    references differing in project, version or case never share a Secret.
    """
    secret_id = reference.split("/secrets/", 1)[-1].split("/", 1)[0]
    safe = re.sub(r"[^a-z0-9]+", "-", secret_id.lower()).strip("-") or "secret"
    digest = hashlib.sha256(reference.encode()).hexdigest()[:6]
    return f"{safe[:50].rstrip('-')}-{digest}"


def _place(task: Any, where: Placement) -> dict[str, str]:
    """Select the pool's nodes; the ``ResourceSpec`` fields of the accelerators the task asks for there."""
    from kfp import kubernetes

    for key, value in where.node_selector.items():
        kubernetes.add_node_selector(task, key, value)
    for toleration in where.tolerations:
        kubernetes.add_toleration(task, **dataclasses.asdict(toleration))
    if where.accelerator is None:
        return {}
    return {"accelerator_type": where.accelerator, "accelerator_count": str(where.count)}
