"""A compiled pipeline spec run on this machine by kfp.local, each step a local process.

kfp.local's own orchestrator runs the DAG exactly as compiled: conditions, loops, retries,
placeholders and artifact passing come from the spec, never from a second description of the
pipeline. Where kfp.local needs help (a handler for container commands, the outputs of
containers, conditions on named outputs), :mod:`mlopsctl.run.seams` gives it for the run.
kfp's own logs go to stderr with the steps' output; stdout stays for the result.

A step is ``succeeded`` or ``failed`` as kfp reports its (last) execution; a step kfp never
executed is ``skipped``: its condition was false, or a step it depends on failed.
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from mlopsctl.graph import JSON
from mlopsctl.run.handler import Outcome, Session
from mlopsctl.run.result import PipelineResult, StepResult
from mlopsctl.run.seams import installed

SETTINGS = "local.json"
DATA = "data"
PIPELINE_ROOT = "pipeline-root"
_NO_LOCAL_EFFECT = ".*no effect in the current local runner.*"
"""kfp.local's warning about resources and display names, which a local run ignores by design."""


@dataclass(frozen=True)
class Workspace:
    """The folder a local run writes to (``--out``), and the settings its processes read."""

    out: pathlib.Path
    code: dict[str, pathlib.Path] = field(default_factory=dict)
    """Image → the folder it is built from."""
    trials: int = 2
    declared: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Each pipeline's steps in declaration order: how its result lists steps that could run in any order."""

    @property
    def settings(self) -> pathlib.Path:
        return self.out / SETTINGS

    @property
    def root(self) -> pathlib.Path:
        """The stage runtime's local storage root (``gcs/``, ``bigquery/``)."""
        return self.out / DATA

    @property
    def pipeline_root(self) -> pathlib.Path:
        return self.out / PIPELINE_ROOT

    def write_settings(self, endpoints: Mapping[str, str] | None = None) -> None:
        """The ``MLOPSCTL_STAGE_LOCAL`` file (docs/stages.md)."""
        settings = {
            "root": str(self.root),
            "code": {image: str(folder) for image, folder in sorted(self.code.items())},
            "trials": self.trials,
            "endpoints": dict(endpoints or {}),
            "now": None,
        }
        self.out.mkdir(parents=True, exist_ok=True)
        self.settings.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")


def run_pipeline(
    workspace: Workspace, spec: Mapping[str, JSON], arguments: Mapping[str, JSON], name: str
) -> PipelineResult:
    """Run the compiled pipeline ``spec`` (its IR, as JSON) with ``arguments`` for its parameters."""
    from google.protobuf import json_format  # type: ignore[import-untyped, unused-ignore]
    from kfp import local
    from kfp.local import pipeline_orchestrator
    from kfp.pipeline_spec import pipeline_spec_pb2

    proto = json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())
    session = Session(workspace.settings, workspace.code, workspace.out)
    workspace.pipeline_root.mkdir(parents=True, exist_ok=True)
    with (
        installed(session, proto),
        _local_config(),
        contextlib.redirect_stdout(sys.stderr),
        warnings.catch_warnings(),
    ):
        warnings.filterwarnings("ignore", message=_NO_LOCAL_EFFECT)
        local.init(
            runner=local.SubprocessRunner(use_venv=False),
            pipeline_root=str(workspace.pipeline_root),
            raise_on_error=False,
        )
        pipeline_orchestrator.run_local_pipeline(proto, dict(arguments))
    steps = steps_of(spec, workspace.declared.get(name, ()))
    return PipelineResult(name, {step: step_result(session.outcomes.get(step, [])) for step in steps})


@contextlib.contextmanager
def _local_config() -> Iterator[None]:
    """kfp.local's session settings as they were before the run, afterwards."""
    from kfp.local import config

    previous = config.LocalExecutionConfig.instance
    try:
        yield
    finally:
        config.LocalExecutionConfig.instance = previous


def steps_of(spec: Mapping[str, JSON], declared: Sequence[str] = ()) -> list[str]:
    """The steps of a compiled pipeline (its container tasks, in condition and loop groups too):
    dependencies first, ties in ``declared`` order, then by name."""
    components: Mapping[str, JSON] = spec["components"]
    rank = {name: index for index, name in enumerate(declared)}

    def members(name: str, task: Mapping[str, JSON]) -> list[str]:
        """The steps of a task: itself, or those of its group."""
        component = components[task["componentRef"]["name"]]
        if "dag" in component:
            return ordered(component["dag"])
        return [task.get("taskInfo", {}).get("name", name)]

    def ordered(dag: Mapping[str, JSON]) -> list[str]:
        tasks: Mapping[str, JSON] = dag.get("tasks", {})
        steps = {name: members(name, task) for name, task in tasks.items()}

        def first(name: str) -> tuple[int, str]:
            return min(((rank.get(s, len(rank)), s) for s in steps[name]), default=(len(rank), name))

        done: list[str] = []
        while len(done) < len(tasks):
            ready = [
                n
                for n in tasks
                if n not in done and set(tasks[n].get("dependentTasks", [])) & set(tasks) <= set(done)
            ]
            done.append(min(ready, key=first))
        return [step for name in done for step in steps[name]]

    return list(dict.fromkeys(ordered(spec["root"]["dag"])))


def step_result(outcomes: list[Outcome]) -> StepResult:
    """A step's result from its executions: one, or one per loop item (outputs then list the items')."""
    if not outcomes:
        return StepResult("skipped")
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        return StepResult("failed", message=failed[0].message)
    if len(outcomes) == 1 and outcomes[0].item is None:
        return StepResult("succeeded", outcomes[0].outputs)
    ordered = sorted(outcomes, key=lambda o: o.item or 0)
    keys = dict.fromkeys(k for o in ordered for k in o.outputs)
    return StepResult("succeeded", {k: [o.outputs.get(k) for o in ordered] for k in keys})
