"""The program of the stacks/ project: the stack names the target, its config names mlops.yaml."""

from __future__ import annotations

import json
import pathlib

import pulumi
import pytest
from conftest import EXAMPLES, ROOT
from mocked import Recorder, run

from mlopsctl.pulumi.program import STATE_OUTPUT
from mlopsctl.stack import CONFIG_KEY, StackError, main

DIGITS = next(p for p in EXAMPLES if p.parent.name == "digits")


def _run(stack: str, config: pathlib.Path) -> Recorder:
    recorder = Recorder()

    def program() -> dict[str, object]:
        pulumi.runtime.set_config(CONFIG_KEY, str(config))
        return main()

    run(program, recorder, stack=stack)
    return recorder


def test_the_stack_creates_its_targets_graph_and_exports_its_state() -> None:
    recorder = _run("prod-us-central1", DIGITS)
    buckets = recorder.by_type("gcp:storage/bucket:Bucket")
    assert sorted(b.inputs["name"] for b in buckets) == [
        "digits-prod-us-central1-images",
        "digits-prod-us-central1-models",
        "digits-prod-us-central1-pipeline-root",
    ]
    state = json.loads(recorder.exports[STATE_OUTPUT])
    assert (state["project"], state["target"]) == ("digits", {"env": "prod", "region": "us-central1"})
    assert len(state["resources"]) == len([r for r in recorder.resources if "providers" not in r.type])


def test_a_stack_without_a_target_is_refused() -> None:
    with pytest.raises(StackError, match="has no target for stack prod-mars1; its stacks: dev-us-central1"):
        _run("prod-mars1", DIGITS)


def test_the_project_files_run_this_program() -> None:
    assert (ROOT / "stacks" / "__main__.py").read_text(encoding="utf-8").count("main()") == 1
    assert "runtime:\n  name: python" in (ROOT / "stacks" / "Pulumi.yaml").read_text(encoding="utf-8")
