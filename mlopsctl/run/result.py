"""What a local run reports: each step's status and outputs, or a monitor's findings and the runs it started.

``to_json`` gives the documents ``mlopsctl run -f json`` prints; ``text_lines`` the lines of ``-f text``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

from mlopsctl.graph import JSON

StepStatus = Literal["succeeded", "skipped", "failed"]


@dataclass(frozen=True)
class StepResult:
    status: StepStatus
    outputs: dict[str, JSON] = field(default_factory=dict)
    """Parameter values, and the local path of each artifact (a list per item of a ``parallelFor`` step)."""
    message: str | None = None
    """Why the step failed, when known (its last line of output, or why it could not start)."""

    def to_json(self) -> dict[str, JSON]:
        """The step as ``-f json`` prints it: ``message`` only when there is one."""
        found: dict[str, JSON] = {"status": self.status, "outputs": self.outputs}
        if self.message is not None:
            found["message"] = self.message
        return found


@dataclass(frozen=True)
class PipelineResult:
    pipeline: str
    steps: dict[str, StepResult]
    """In the order the steps can run (dependencies first)."""

    @property
    def ok(self) -> bool:
        return all(s.status != "failed" for s in self.steps.values())

    def to_json(self) -> dict[str, JSON]:
        return {
            "pipeline": self.pipeline,
            "steps": {name: step.to_json() for name, step in self.steps.items()},
        }

    def text_lines(self) -> list[str]:
        width = max((len(name) for name in self.steps), default=0)
        return [f"{name:<{width}}  {_step_text(s)}" for name, s in self.steps.items()]


def _step_text(step: StepResult) -> str:
    if step.status == "failed":
        return f"failed: {step.message}" if step.message else "failed"
    values = [
        f"{k}={json.dumps(v)}" for k, v in step.outputs.items() if not isinstance(v, str) or not _is_path(v)
    ]
    return f"{step.status} ({', '.join(values)})" if values else step.status


def _is_path(value: str) -> bool:
    return value.startswith("/")


@dataclass(frozen=True)
class FeatureResult:
    kind: str
    distance: float | None
    """None when either side had no values of the feature."""
    threshold: float
    breach: bool

    def to_json(self) -> dict[str, JSON]:
        return {
            "kind": self.kind,
            "distance": self.distance,
            "threshold": self.threshold,
            "breach": self.breach,
        }


@dataclass(frozen=True)
class MonitorResult:
    monitor: str
    breached: bool
    features: dict[str, FeatureResult]
    actions: list[dict[str, JSON]]
    """What the monitor did or would do: ``notify`` and ``retrain`` entries, each with ``done``."""
    runs: dict[str, PipelineResult] = field(default_factory=dict)
    """The retraining runs started locally (``--act``), by pipeline."""
    failure: str | None = None
    """Why the monitor itself failed (it then reports no features)."""

    @property
    def ok(self) -> bool:
        return self.failure is None and all(r.ok for r in self.runs.values())

    def to_json(self) -> dict[str, JSON]:
        """``failure`` only when the monitor failed."""
        found: dict[str, JSON] = {
            "monitor": self.monitor,
            "breached": self.breached,
            "features": {name: f.to_json() for name, f in self.features.items()},
            "actions": self.actions,
            "runs": {name: r.to_json() for name, r in self.runs.items()},
        }
        if self.failure is not None:
            found["failure"] = self.failure
        return found

    def text_lines(self) -> list[str]:
        if self.failure is not None:
            return [f"monitor {self.monitor} failed: {self.failure}"]
        width = max((len(name) for name in self.features), default=0)
        lines = [
            f"{name:<{width}}  {_distance(f.distance)} (threshold {f.threshold:.4f})"
            + ("  BREACH" if f.breach else "")
            for name, f in self.features.items()
        ]
        breached = [
            f"{name} {_distance(f.distance)} > {f.threshold:g}"
            for name, f in self.features.items()
            if f.breach
        ]
        lines += [_action_text(a, breached) for a in self.actions]
        if not self.actions:
            lines.append("no breach: no action")
        for pipeline, run in self.runs.items():
            lines.append(f"run of {pipeline}:")
            lines += [f"  {line}" for line in run.text_lines()]
        return lines


def _distance(value: float | None) -> str:
    return "no data" if value is None else f"{value:.4f}"


def _action_text(action: dict[str, JSON], breached: list[str]) -> str:
    if action.get("type") == "notify":
        channels = ", ".join(str(c) for c in action.get("channels") or []) or "no channel"
        return f"would notify {channels}: {action.get('event')} of {', '.join(breached)}"
    if action.get("type") == "retrain":
        what = f"pipeline {action.get('pipeline')} ({action.get('pipelineVersion')})"
        return f"retrain: ran {what} locally" if action.get("done") else f"retrain: would run {what}"
    return json.dumps(action, sort_keys=True)
