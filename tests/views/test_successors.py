"""A created PipelineVersion is shown as its changes from the version it succeeds."""

from __future__ import annotations

from mlopsctl.config.target import Target
from mlopsctl.plan.diff import CREATE, DELETE, Plan, ResourceChange, TargetPlan
from mlopsctl.views.plan_text import render_text
from mlopsctl.views.successors import PIPELINE_VERSION, successors

T = Target("dev", "us-central1")


def _version(name: str, pipeline: str, image: str, actions: tuple[object, ...]) -> ResourceChange:
    inputs = {
        "metadata": {"name": name, "namespace": "demo"},
        "spec": {"pipelineName": pipeline, "image": image},
    }
    created = actions == CREATE
    return ResourceChange(
        f"{T}/{PIPELINE_VERSION}/{name}",
        PIPELINE_VERSION,
        name,
        T,
        actions,  # type: ignore[arg-type]
        None if created else inputs,
        inputs if created else None,
    )


def test_a_new_version_reads_as_its_changes_and_the_old_one_as_one_line() -> None:
    changes = (_version("train-2", "train", "img:2", CREATE), _version("train-1", "train", "img:1", DELETE))
    text = render_text(Plan("demo", (TargetPlan(T, changes),)))
    assert text == (
        "Target dev/us-central1:\n\n"
        f"  # {T}/{PIPELINE_VERSION}/train-2 will be created, succeeding train-1\n"
        f'  + resource "{PIPELINE_VERSION}" "train-2" {{\n'
        "      ~ metadata = {\n"
        '          ~ name = "train-1" -> "train-2"\n'
        "            # (1 unchanged attribute hidden)\n"
        "        }\n"
        "      ~ spec     = {\n"
        '          ~ image = "img:1" -> "img:2"\n'
        "            # (1 unchanged attribute hidden)\n"
        "        }\n"
        "    }\n\n"
        f"  # {T}/{PIPELINE_VERSION}/train-1 will be destroyed (succeeded by train-2)\n"
        f'  - resource "{PIPELINE_VERSION}" "train-1"\n\n'
        "Plan: 1 to add, 0 to change, 1 to destroy.\n"
    )


def test_versions_of_other_pipelines_or_ambiguous_ones_are_not_paired() -> None:
    other = (_version("a-2", "a", "x", CREATE), _version("b-1", "b", "x", DELETE))
    assert successors(other) == {}
    two_new = (*other, _version("b-2", "b", "y", CREATE), _version("b-3", "b", "z", CREATE))
    assert successors(two_new) == {}
