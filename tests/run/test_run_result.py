"""The text of a local run's result: one line per step, or a monitor's features and actions."""

from __future__ import annotations

import pytest

from mlopsctl.run.local import steps_of
from mlopsctl.run.result import FeatureResult, MonitorResult, PipelineResult, StepResult

RUN = PipelineResult(
    "train",
    {
        "ingest": StepResult("succeeded", {"examples": "/out/pipeline-root/train-1/ingest/examples"}),
        "evaluate": StepResult("succeeded", {"blessed": False, "accuracy": 0.5, "metrics": "/out/m"}),
        "push": StepResult("skipped"),
        "report": StepResult("failed", message="exit code 2: no such table"),
        "loop": StepResult("failed"),
    },
)


def test_pipeline_text_has_one_line_per_step() -> None:
    assert RUN.text_lines() == [
        "ingest    succeeded",
        "evaluate  succeeded (blessed=false, accuracy=0.5)",
        "push      skipped",
        "report    failed: exit code 2: no such table",
        "loop      failed",
    ]
    assert not RUN.ok
    assert PipelineResult("p", {"a": StepResult("skipped")}).ok


FEATURES = {
    "amount": FeatureResult("numeric", 0.31234, 0.1, True),
    "country": FeatureResult("categorical", 0.05, 0.15, False),
    "empty": FeatureResult("numeric", None, 0.1, False),
}
NOTIFY = {"type": "notify", "event": "drift-breach", "channels": ["team", "pager"], "done": False}
RETRAIN = {"type": "retrain", "pipeline": "train", "pipelineVersion": "train-abc", "done": False}


@pytest.mark.parametrize(
    ("result", "lines"),
    [
        (
            MonitorResult("m", True, FEATURES, [NOTIFY, RETRAIN]),
            [
                "amount   0.3123 (threshold 0.1000)  BREACH",
                "country  0.0500 (threshold 0.1500)",
                "empty    no data (threshold 0.1000)",
                "would notify team, pager: drift-breach of amount 0.3123 > 0.1",
                "retrain: would run pipeline train (train-abc)",
            ],
        ),
        (
            MonitorResult(
                "m",
                True,
                FEATURES,
                [NOTIFY, {**RETRAIN, "done": True}],
                {"train": PipelineResult("train", {"a": StepResult("succeeded")})},
            ),
            [
                "amount   0.3123 (threshold 0.1000)  BREACH",
                "country  0.0500 (threshold 0.1500)",
                "empty    no data (threshold 0.1000)",
                "would notify team, pager: drift-breach of amount 0.3123 > 0.1",
                "retrain: ran pipeline train (train-abc) locally",
                "run of train:",
                "  a  succeeded",
            ],
        ),
        (
            MonitorResult("m", False, {"country": FEATURES["country"]}, []),
            ["country  0.0500 (threshold 0.1500)", "no breach: no action"],
        ),
        (
            MonitorResult("m", False, {}, [], failure="exit code 1: boom"),
            ["monitor m failed: exit code 1: boom"],
        ),
    ],
)
def test_monitor_text(result: MonitorResult, lines: list[str]) -> None:
    assert result.text_lines() == lines


def _task(component: str, *after: str, name: str | None = None) -> dict[str, object]:
    task: dict[str, object] = {"componentRef": {"name": component}, "dependentTasks": list(after)}
    if name:
        task["taskInfo"] = {"name": name}
    return task


SPEC = {
    "components": {
        "comp-step": {"executorLabel": "exec-step"},
        "comp-condition-1": {"dag": {"tasks": {"push": _task("comp-step", name="push")}}},
    },
    "root": {
        "dag": {
            "tasks": {
                "condition-1": _task("comp-condition-1", "evaluate"),
                "evaluate": _task("comp-step", "train", name="evaluate"),
                "report": _task("comp-step", name="report"),
                "train": _task("comp-step", name="train"),
            }
        }
    },
}


@pytest.mark.parametrize(
    ("declared", "order"),
    [
        (("train", "evaluate", "push", "report"), ["train", "evaluate", "push", "report"]),
        (("report", "push", "evaluate", "train"), ["report", "train", "evaluate", "push"]),
        ((), ["report", "train", "evaluate", "push"]),  # ties by name
    ],
)
def test_steps_are_listed_dependencies_first_then_as_declared(
    declared: tuple[str, ...], order: list[str]
) -> None:
    assert steps_of(SPEC, declared) == order
