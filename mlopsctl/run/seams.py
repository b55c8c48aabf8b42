"""Where a local run joins kfp.local (2.17), for the length of one run.

kfp.local looks each of these up on its module when it uses it, so replacing the module
attribute and restoring it afterwards is enough:

- ``subprocess_task_handler.SubprocessTaskHandler``: the SubprocessRunner's task handler, which
  runs only lightweight Python components; ours runs any container command
  (:func:`mlopsctl.run.handler.handler_class`);
- ``task_executor.execute_single_task``: called by both orchestrators for every container task;
  observed to record each step's outcome (:meth:`mlopsctl.run.handler.Session.observe`);
- ``executor_output_utils.get_outputs_for_task``: kfp.local learns a task's output
  artifacts only from an ``executor_output.json``, which only its Python components write; in the
  cluster the KFP launcher reports every declared output artifact of a container at the URI it
  assigned, so :func:`_outputs_for_task` does the same (and, as the launcher, fails the step when
  a declared output was not written);
- ``enhanced_dag_orchestrator.ConditionEvaluator``: it resolves a condition's channel
  (``pipelinechannel--<task>-<output>``) by guessing where the task name ends, which fails for
  named outputs; ours first looks the channel up in the compiled spec, where each condition
  task's inputs say which task and output it is, and reads CEL's ``double(X)`` (which kfp writes
  to compare a float with an integer) as Python's ``float(X)``, where kfp.local's evaluation
  fails and skips the step;
- ``executor_input_utils.construct_executor_input``: the KFP launcher creates the folder of each
  output parameter's file and of each output artifact before a container starts, so a step may
  write ``--NAME PATH`` without creating its folder; kfp.local leaves that to its Python
  components, so :func:`_prepared` does what the launcher does;
- ``enhanced_dag_orchestrator._run_parallel_for_task``: kfp.local finds the items of a loop over
  another task's output only when that output is named ``Output`` (a Python component's single
  return value), and gives every input the loop task takes from another task's output the loop
  item's value; ours first resolves those inputs from the tasks' outputs, as the KFP driver does
  (:func:`_loops`), so a loop over ``fromOutput`` runs and its steps get the values they name;
- ``dag_orchestrator.run_dag``: kfp.local runs a DAG without conditions or loops with an
  orchestrator that stops at the first failed task, skipping steps that do not depend on it,
  which Argo runs in the cluster; its orchestrator of conditions and loops skips only the tasks
  downstream of a failure, as the cluster does, and runs every DAG;
- ``logging_utils.color_text``: kfp.local colours task names and states in its log whatever the
  stream; ours colours them only as mlopsctl colours its own output (:func:`_color_text`).

``builtins.print`` is also put back when the run ends: kfp.local indents a task's output by
swapping ``print`` for the length of the task, and two tasks running at once in its threads can
restore each other's indenting version, leaving every later ``print`` of the process indented.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from mlopsctl.io.terminal import use_colour
from mlopsctl.run.handler import Session, handler_class

_INSTALLED = threading.Lock()
"""kfp.local's settings and these seams are process-wide: one local run at a time."""


@contextlib.contextmanager
def installed(session: Session, spec: Any) -> Iterator[None]:
    """kfp.local runs the compiled ``spec`` (a PipelineSpec) through ``session`` until the block ends."""
    from kfp.local import executor_input_utils, executor_output_utils, logging_utils, subprocess_task_handler
    from kfp.local.orchestrator import dag_orchestrator, enhanced_dag_orchestrator, task_executor

    seams: list[tuple[Any, str, Any]] = [
        (subprocess_task_handler, "SubprocessTaskHandler", handler_class(session)),
        (task_executor, "execute_single_task", session.observe(task_executor.execute_single_task)),
        (executor_output_utils, "get_outputs_for_task", _outputs_for_task),
        (enhanced_dag_orchestrator, "ConditionEvaluator", _evaluator(condition_channels(spec))),
        (
            executor_input_utils,
            "construct_executor_input",
            _prepared(executor_input_utils.construct_executor_input),
        ),
        (
            enhanced_dag_orchestrator,
            "_run_parallel_for_task",
            _loops(enhanced_dag_orchestrator._run_parallel_for_task),
        ),
        (dag_orchestrator, "run_dag", enhanced_dag_orchestrator.run_enhanced_dag),
        (logging_utils, "color_text", _color_text),
    ]
    with _INSTALLED:
        saved = [
            (module, name, getattr(module, name)) for module, name, _ in [*seams, (builtins, "print", None)]
        ]
        for module, name, value in seams:
            setattr(module, name, value)
        try:
            yield
        finally:
            for module, name, value in saved:
                setattr(module, name, value)


def _loops(run_parallel_for: Any) -> Any:
    """kfp.local's ``_run_parallel_for_task``, given the loop task with each input it takes from
    another task's output resolved to that output's value (a constant), and those values also as
    inputs of the enclosing DAG, where kfp.local looks up the items of a loop over a channel."""

    def run_parallel_for_task(*, task_spec: Any, io_store: Any, **kwargs: Any) -> Any:
        from kfp.compiler import pipeline_spec_builder

        resolved = type(task_spec)()
        resolved.CopyFrom(task_spec)
        for name, parameter in task_spec.inputs.parameters.items():
            if parameter.WhichOneof("kind") != "task_output_parameter":
                continue
            source = parameter.task_output_parameter
            value = io_store.get_task_output(source.producer_task, source.output_parameter_key)
            io_store.put_parent_input(name, value)
            constant = resolved.inputs.parameters[name]
            constant.ClearField("task_output_parameter")
            constant.runtime_value.constant.CopyFrom(pipeline_spec_builder.to_protobuf_value(value))
        return run_parallel_for(task_spec=resolved, io_store=io_store, **kwargs)

    return run_parallel_for_task


def _color_text(text: str, color: Any) -> str:
    """kfp.local's log lines go to stderr: coloured only on a terminal, never with ``NO_COLOR``."""
    return f"{color}{text}\x1b[0m" if use_colour(sys.stderr, no_color_flag=False) else text


def _prepared(construct: Any) -> Any:
    """kfp.local's ``construct_executor_input``, also creating the folders of the task's outputs."""

    def construct_executor_input(*args: Any, **kwargs: Any) -> Any:
        executor_input = construct(*args, **kwargs)
        prepare_output_folders(executor_input)
        return executor_input

    return construct_executor_input


def prepare_output_folders(executor_input: Any) -> None:
    """As the KFP launcher before a container starts: the folder that will hold each output
    parameter's file and each output artifact (never the artifact itself)."""
    outputs = executor_input.outputs
    paths = [parameter.output_file for parameter in outputs.parameters.values()]
    paths += [a.uri for artifacts in outputs.artifacts.values() for a in artifacts.artifacts]
    for path in paths:
        if path and "://" not in path:
            os.makedirs(os.path.dirname(path), exist_ok=True)


def _outputs_for_task(executor_input: Any, component_spec: Any) -> dict[str, Any]:
    """A container task's outputs: its parameters as kfp.local reads them, and every declared
    output artifact at the path it was given, as the KFP launcher reports them."""
    from kfp.local import executor_output_utils

    found = executor_output_utils.load_executor_output(executor_input.outputs.output_file)
    for key, parameter in executor_input.outputs.parameters.items():
        if key not in found.parameter_values and not os.path.exists(parameter.output_file):
            raise ValueError(f"output {key} was not written (expected at {parameter.output_file})")
    for key, artifacts in executor_input.outputs.artifacts.items():
        missing = [a.uri for a in artifacts.artifacts if not os.path.exists(a.uri)]
        if missing:
            raise ValueError(f"output {key} was not written (expected at {missing[0]})")
        if key not in found.artifacts:
            found.artifacts[key].CopyFrom(artifacts)
    outputs: dict[str, Any] = executor_output_utils.get_outputs_from_executor_output(
        executor_output=found, executor_input=executor_input, component_spec=component_spec
    )
    return outputs


def condition_channels(spec: Any) -> dict[str, tuple[str, str]]:
    """Channel name → (producer task, output) of every task output a condition reads."""
    found: dict[str, tuple[str, str]] = {}
    dags = [
        spec.root.dag,
        *(c.dag for c in spec.components.values() if c.WhichOneof("implementation") == "dag"),
    ]
    for dag in dags:
        for task in dag.tasks.values():
            if not task.trigger_policy.condition:
                continue
            for name, parameter in task.inputs.parameters.items():
                if parameter.WhichOneof("kind") == "task_output_parameter":
                    source = parameter.task_output_parameter
                    found[name] = (source.producer_task, source.output_parameter_key)
    return found


_QUOTED = re.compile(r"('(?:[^'\\]|\\.)*')")
_CEL_DOUBLE = re.compile(r"\bdouble\(")


def python_casts(condition: str) -> str:
    """A compiled condition with CEL's ``double(X)`` as Python's ``float(X)``, outside quoted text:
    kfp writes it when a condition compares a float output with an integer (or the reverse), and
    kfp.local evaluates conditions as Python, where ``double`` is unknown and the step is skipped."""
    parts = _QUOTED.split(condition)
    return "".join(part if index % 2 else _CEL_DOUBLE.sub("float(", part) for index, part in enumerate(parts))


def _evaluator(channels: Mapping[str, tuple[str, str]]) -> type:
    from kfp.local.orchestrator import enhanced_dag_orchestrator

    base = enhanced_dag_orchestrator.ConditionEvaluator

    class ConditionEvaluator(base):  # type: ignore[misc, valid-type]
        @staticmethod
        def evaluate_condition(condition: str, io_store: Any) -> bool:
            return bool(base.evaluate_condition(python_casts(condition), io_store))

        @staticmethod
        def _resolve_pipeline_channel(channel_ref: str, io_store: Any) -> Any:
            producer = channels.get(channel_ref)
            if producer is not None:
                with contextlib.suppress(ValueError):
                    return io_store.get_task_output(*producer)
            return base._resolve_pipeline_channel(channel_ref, io_store)

    return ConditionEvaluator
