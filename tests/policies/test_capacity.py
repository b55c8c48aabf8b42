from __future__ import annotations

import pathlib

import pytest
from policy_helpers import PASSING, assert_errors_at, findings

POOLS = """\
accelerators:
  l4:
    type: gpu
    accelerator: nvidia-l4
    count: 2
    zones: [us-central1-a, us-central1-b]
    autoscaling: {minNodes: 0, maxNodes: 3}
  v5e:
    type: tpu
    version: v5e
    topology: 2x4
    machineType: ct5lp-hightpu-4t
    zones: [us-central1-a]
    autoscaling: {minNodes: 0, maxNodes: 2}
"""
"""12 GPUs (3 nodes in each of 2 zones, 2 GPUs each) and a slice of 8 TPU chips at maximum size."""


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        ("{prod: {gpus: 12, tpuChips: 8}}", []),
        ("{prod: {gpus: 11, tpuChips: 8}}", [("MLP007", "gpus: 11")]),
        ("{prod: {tpuChips: 4}, dev: {gpus: 100}}", [("MLP007", "tpuChips: 4")]),
        ("{prod: {monthlyBudget: 1000000}}", []),
        ("{prod: {monthlyBudget: 1000}}", [("MLP008", "monthlyBudget: 1000")]),
    ],
)
def test_limits(tmp_path: pathlib.Path, limits: str, expected: list[tuple[str, str]]) -> None:
    text = PASSING + POOLS + f"policies:\n  limits: {limits}\n"
    assert_errors_at(tmp_path, text, expected)


def test_limit_messages_sum_the_pools(tmp_path: pathlib.Path) -> None:
    text = PASSING + POOLS + "policies:\n  limits: {prod: {gpus: 11, tpuChips: 4, monthlyBudget: 1000}}\n"
    gpus, chips, budget = (d.message for d in findings(tmp_path, text))
    assert gpus.startswith(
        "node pools at maximum size use 12 GPUs in prod/us-central1, above the limit of 11 (l4: 12)"
    )
    assert chips.startswith(
        "node pools at maximum size use 8 TPU chips in prod/us-central1, above the limit of 4"
    )
    assert budget.startswith("node pools at maximum size cost an estimated ")
    assert "USD a month in prod/us-central1, above the budget of 1,000" in budget
