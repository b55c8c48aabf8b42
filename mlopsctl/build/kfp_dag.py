"""Translate one pipeline of mlops.yaml into a Kubeflow Pipelines v2 spec with the kfp SDK.

Each step becomes a container component loaded from a component spec built as
data (never as text). The step's own ``args`` come first; built-in stage kinds
then get ``--stage KIND --config JSON``; every input and output follows as
``--NAME <value or path>``. Steps under a ``when`` condition run inside a
``dsl.If`` group together with every step that consumes their outputs; a
``parallelFor`` step runs inside a ``dsl.ParallelFor`` loop with the loop item
as its ``item`` input. Node pools become node selectors and tolerations
(kfp-kubernetes), so the same spec runs on Kubeflow Pipelines and Vertex AI.
"""

import contextlib
import hashlib
import json
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mlopsctl.build.pods import NodePool, placement
from mlopsctl.config.models.pipelines import OUTPUT_REF, Pipeline, Step
from mlopsctl.durations import parse_duration
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


@dataclass(frozen=True)
class StepSettings:
    """What a step needs from the rest of the config, resolved for one target."""

    image: str
    stage_config: dict[str, JSON] | None
    pool_name: str | None
    pool: NodePool | None


@dataclass(frozen=True)
class CompiledPipeline:
    pipeline: dict[str, JSON]
    """The ``Pipeline`` object (pipelines.kubeflow.org/v2beta1)."""
    version: dict[str, JSON]
    """The ``PipelineVersion`` object, embedding the IR and its platform spec."""


def compile_pipeline(
    name: str,
    version_name: str,
    namespace: str,
    pipeline: Pipeline,
    settings: Callable[[str, Step], StepSettings],
) -> CompiledPipeline:
    """Compile ``pipeline`` with kfp into its Pipeline and PipelineVersion objects."""
    import yaml
    from kfp import compiler, dsl
    from kfp.compiler.compiler_utils import KubernetesManifestOptions

    order = topological_order(pipeline)
    chains = condition_chains(pipeline, order)

    def program() -> None:
        _Emitter(pipeline, order, chains, settings).emit_level(())

    options = KubernetesManifestOptions(
        pipeline_name=name,
        pipeline_version_name=version_name,
        namespace=namespace,
        include_pipeline_manifest=True,
    )
    with tempfile.NamedTemporaryFile(suffix=".yaml") as out:
        component = dsl.pipeline(name=name, description=pipeline.description or None)(program)
        compiler.Compiler().compile(
            component, out.name, kubernetes_manifest_format=True, kubernetes_manifest_options=options
        )
        documents = list(yaml.load_all(out.read(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    by_kind = {d["kind"]: d for d in documents}
    return CompiledPipeline(by_kind["Pipeline"], by_kind["PipelineVersion"])


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


class _Emitter:
    """Creates the kfp tasks, opening each condition group once, with its members contiguous."""

    def __init__(
        self,
        pipeline: Pipeline,
        order: list[str],
        chains: dict[str, tuple[str, ...]],
        settings: Callable[[str, Step], StepSettings],
    ) -> None:
        self.pipeline = pipeline
        self.order = order
        self.chains = chains
        self.settings = settings
        self.tasks: dict[str, Any] = {}

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
        settings = self.settings(name, step)
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
        component = _component(name, step, settings, self.pipeline, with_item=item is not None)
        arguments: dict[str, Any] = dict(step.inputs)
        for producer, output, (section, *key) in step.references():
            if section == "inputs":
                arguments[key[0]] = self.tasks[producer].outputs[output]
        if item is not None:
            arguments["item"] = item
        task = component(**arguments).set_display_name(name)
        wired = {producer for producer, _, (section, *_) in step.references() if section == "inputs"}
        for dependency in sorted(set(step.depends_on) - wired):
            task.after(self.tasks[dependency])
        _configure(task, step, settings)
        return task


def _component(name: str, step: Step, settings: StepSettings, pipeline: Pipeline, *, with_item: bool) -> Any:
    from kfp import components

    inputs: list[dict[str, Any]] = []
    args: list[Any] = list(step.args)
    if settings.stage_config is not None:
        args += ["--stage", step.kind, "--config", json.dumps(settings.stage_config, sort_keys=True)]
    for key, value in step.inputs.items():
        kind = _input_type(value, pipeline.steps)
        inputs.append({"name": key, "type": kind})
        placeholder = "inputPath" if kind in ARTIFACT_TYPES.values() else "inputValue"
        args += [f"--{key}", {placeholder: key}]
    if with_item:
        inputs.append({"name": "item", "type": _item_type(step)})
        args += ["--item", {"inputValue": "item"}]
    outputs = []
    for key, kind in step.outputs.items():
        outputs.append({"name": key, "type": kfp_type(kind)})
        args += [f"--{key}", {"outputPath": key}]
    container: dict[str, Any] = {"image": settings.image, "args": args}
    if step.command:
        container["command"] = list(step.command)
    spec = {"name": name, "inputs": inputs, "outputs": outputs, "implementation": {"container": container}}
    return components.load_component_from_text(json.dumps(spec, sort_keys=True))


def _input_type(value: Any, steps: Mapping[str, Step]) -> str:
    if isinstance(value, str) and (match := OUTPUT_REF.match(value)):
        return kfp_type(steps[match[1]].outputs[match[2]])
    return _SCALAR_TYPES[type(value)]


def kfp_type(kind: str) -> str:
    """The kfp component type of a declared output type."""
    return ARTIFACT_TYPES.get(kind) or PARAMETER_TYPES[kind]


def _item_type(step: Step) -> str:
    """The type of the loop item: that of the items (all of one type), or String from an output."""
    items = step.parallel_for.items if step.parallel_for else None
    return _SCALAR_TYPES[type(items[0])] if items else "String"


def _configure(task: Any, step: Step, settings: StepSettings) -> None:
    from kfp import kubernetes

    task.set_caching_options(step.caching)
    if step.retries:
        task.set_retry(step.retries)
    if step.timeout:
        kubernetes.set_timeout(task, parse_duration(step.timeout))
    if step.resources.cpu:
        task.set_cpu_request(step.resources.cpu).set_cpu_limit(step.resources.cpu)
    if step.resources.memory:
        task.set_memory_request(step.resources.memory).set_memory_limit(step.resources.memory)
    for key, value in sorted(step.env.items()):
        task.set_env_variable(key, value)
    for key, secret in sorted(step.secrets.items()):
        kubernetes.use_secret_as_env(
            task, secret_name=secret_object_name(secret), secret_key_to_env={"value": key}
        )
    _place(task, step, settings)


def secret_object_name(reference: str) -> str:
    """The Kubernetes Secret a Secret Manager reference is synced into.

    Its secret id made DNS-safe, plus a short hash of the whole reference, so that
    references differing in project, version or case never share a Secret.
    """
    secret_id = reference.split("/secrets/", 1)[-1].split("/", 1)[0]
    safe = re.sub(r"[^a-z0-9]+", "-", secret_id.lower()).strip("-") or "secret"
    digest = hashlib.sha256(reference.encode()).hexdigest()[:6]
    return f"{safe[:50].rstrip('-')}-{digest}"


def _place(task: Any, step: Step, settings: StepSettings) -> None:
    """Node selection for the step's pool, and the accelerators it asks for."""
    from kfp import kubernetes

    where = placement(settings.pool_name, settings.pool, step.resources.accelerators)
    for key, value in where.node_selector.items():
        kubernetes.add_node_selector(task, key, value)
    for toleration in where.tolerations:
        kubernetes.add_toleration(
            task,
            key=toleration.key,
            operator=toleration.operator,
            value=toleration.value,
            effect=toleration.effect,
        )
    if where.accelerator is not None:
        task.set_accelerator_type(where.accelerator).set_accelerator_limit(where.count)
