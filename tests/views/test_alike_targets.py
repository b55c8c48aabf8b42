"""Targets whose changes read exactly alike (their addresses aside) are shown once: the others
are named on one line, so a change made for every region reads as one change."""

from __future__ import annotations

import pytest

from mlopsctl.config.target import Target
from mlopsctl.graph import JSON, Graph, Resource
from mlopsctl.plan import Plan, diff_plan
from mlopsctl.state import state_from_graph
from mlopsctl.views.plan_text import render_text

DEV = Target("dev", "us-central1")
US = Target("prod", "us-central1")
EU = Target("prod", "europe-west4")
ASIA = Target("prod", "asia-southeast1")
ISVC = "kubernetes:serving.kserve.io/v1beta1:InferenceService"


def isvc(target: Target, max_replicas: int, *, uri: str = "gs://models/v1") -> dict[str, JSON]:
    """An InferenceService's inputs; ``uri`` stands for what differs between regions."""
    return {"spec": {"predictor": {"maxReplicas": max_replicas, "storageUri": f"{uri}/{target.region}"}}}


def plan_of(changes: dict[Target, tuple[dict[str, JSON], dict[str, JSON]]]) -> Plan:
    """The plan moving resource ``fraud`` of each target from its first inputs to its second."""

    def graph(target: Target, inputs: dict[str, JSON]) -> Graph:
        g = Graph(target, "acme")
        g.add(Resource(target, ISVC, "fraud", inputs))
        return g

    applied = {
        t: state_from_graph(graph(t, before), project="acme", source_commit=None, config_hash="h")
        for t, (before, _) in changes.items()
    }
    return diff_plan("acme", {t: graph(t, after) for t, (_, after) in changes.items()}, applied)


def change(target: Target, before: int, after: int) -> tuple[dict[str, JSON], dict[str, JSON]]:
    return isvc(target, before), isvc(target, after)


def block(target: Target, before: int, after: int) -> str:
    return f"""\
  # {target}/{ISVC}/fraud will be updated in-place
  ~ resource "{ISVC}" "fraud" {{
      ~ spec = {{
          ~ predictor = {{
              ~ maxReplicas = {before} -> {after}
                # (1 unchanged attribute hidden)
            }}
        }}
    }}"""


def test_targets_alike_are_named_on_one_line_where_the_first_of_them_stood() -> None:
    """Hidden attributes (here a per-region storage URI) may differ: the changes are what is alike."""
    plan = plan_of(
        {DEV: change(DEV, 3, 5), US: change(US, 3, 5), EU: change(EU, 3, 5), ASIA: change(ASIA, 3, 3)}
    )
    assert render_text(plan) == (
        f"Target dev/us-central1:\n\n{block(DEV, 3, 5)}\n\n"
        "Targets prod/us-central1, prod/europe-west4: the same changes as dev/us-central1.\n\n"
        "Target prod/asia-southeast1: no changes.\n\n"
        "Plan: 0 to add, 3 to change, 0 to destroy.\n"
    )


def test_each_group_of_alike_targets_is_named_after_its_first() -> None:
    plan = plan_of(
        {DEV: change(DEV, 3, 5), US: change(US, 3, 8), EU: change(EU, 3, 5), ASIA: change(ASIA, 3, 8)}
    )
    assert render_text(plan) == (
        f"Target dev/us-central1:\n\n{block(DEV, 3, 5)}\n\n"
        f"Target prod/us-central1:\n\n{block(US, 3, 8)}\n\n"
        "Target prod/europe-west4: the same changes as dev/us-central1.\n\n"
        "Target prod/asia-southeast1: the same changes as prod/us-central1.\n\n"
        "Plan: 0 to add, 4 to change, 0 to destroy.\n"
    )


@pytest.mark.parametrize(
    ("eu_before", "eu_after"),
    [
        (isvc(EU, 3), isvc(EU, 5, uri="gs://models/v2")),
        (isvc(EU, 2), isvc(EU, 5)),
    ],
    ids=["a changed value differs", "an old value differs"],
)
def test_targets_whose_changes_read_differently_are_each_shown(
    eu_before: dict[str, JSON], eu_after: dict[str, JSON]
) -> None:
    plan = plan_of({US: change(US, 3, 5), EU: (eu_before, eu_after)})
    text = render_text(plan)
    assert "the same changes" not in text
    assert text.count("will be updated in-place") == 2


def test_colour_does_not_change_what_is_alike() -> None:
    plan = plan_of({DEV: change(DEV, 3, 5), US: change(US, 3, 5)})
    assert "Target prod/us-central1: the same changes as dev/us-central1.\n" in render_text(plan, color=True)
