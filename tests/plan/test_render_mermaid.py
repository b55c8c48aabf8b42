from __future__ import annotations

import textwrap

from helpers import make_change

from mlopsctl.plan import Action, Plan, TargetPlan
from mlopsctl.views.plan_markdown import PIPELINE_VERSION, render_markdown
from mlopsctl.views.plan_mermaid import pipeline_flowchart


def _task(component: str, *after: str, label: str | None = None) -> dict[str, object]:
    task: dict[str, object] = {"componentRef": {"name": component}, "dependentTasks": list(after)}
    if label:
        task["taskInfo"] = {"name": label}
    return task


SPEC = {
    "root": {
        "dag": {
            "tasks": {
                "ingest": _task("comp-ingest"),
                "end": _task("comp-end", "ingest"),
                "condition-1": _task("comp-condition-1", "end", label='when "ok" & ready'),
            }
        }
    },
    "components": {
        "comp-condition-1": {"dag": {"tasks": {"push": _task("comp-push")}}},
        "comp-push": {"executorLabel": "exec-push"},
    },
}


def test_flowchart_nests_groups_and_escapes_labels() -> None:
    assert pipeline_flowchart(SPEC) == textwrap.dedent(
        """\
        flowchart LR
          subgraph t_condition_1 ["when #quot;ok#quot; #amp; ready"]
            t_push["push"]
          end
          t_end["end"]
          t_ingest["ingest"]
          t_end --> t_condition_1
          t_ingest --> t_end"""
    )


def test_markdown_shows_each_new_pipeline_version_once() -> None:
    version = {"spec": {"pipelineName": "train", "pipelineSpec": SPEC}}
    changes = [
        make_change((Action.CREATE,), None, version, name="train-1", type_=PIPELINE_VERSION),
        make_change((Action.DELETE,), version, None, name="train-0", type_=PIPELINE_VERSION),
    ]
    plan = Plan("demo", (TargetPlan(changes[0].target, tuple(changes)),))
    text = render_markdown(plan)
    assert text.count("```mermaid") == 1
    assert "#### Pipeline <code>train</code>, new version in prod/us-central1" in text
