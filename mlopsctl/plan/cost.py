"""The estimated monthly cost of node pools, and how a plan changes it.

Prices come from ``mlopsctl/data/prices.json`` (list prices with their source and
date). A pool costs between its smallest and its largest size: autoscaling bounds
are per zone unless given as totals. The estimate is for comparing changes in a
review, not for budgeting.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from mlopsctl.config.target import Target
from mlopsctl.graph import JSON
from mlopsctl.plan.diff import Plan

NODE_POOL = "gcp:container/nodePool:NodePool"
_RESOURCE_BASED = re.compile(r"^(?P<family>[a-z0-9]+)-(?P<kind>standard|highmem|highcpu)-(?P<vcpus>[0-9]+)$")
_TPU = re.compile(r"^(?P<family>ct[0-9a-z]+)-[a-z]+-(?P<chips>[0-9]+)t$")


@dataclass(frozen=True)
class Range:
    """Monthly cost at the smallest and at the largest size."""

    low: float = 0.0
    high: float = 0.0

    def __add__(self, other: Range) -> Range:
        return Range(self.low + other.low, self.high + other.high)

    def __sub__(self, other: Range) -> Range:
        return Range(self.low - other.low, self.high - other.high)


@dataclass(frozen=True)
class TargetCost:
    target: Target
    before: Range
    after: Range
    unpriced: tuple[str, ...]
    """Machine types of changed pools that the price table does not know."""


@functools.cache
def prices() -> Mapping[str, Any]:
    text = resources.files("mlopsctl.data").joinpath("prices.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def hourly_price(machine_type: str, gpus: Mapping[str, int]) -> float | None:
    """On-demand price per node and hour, or None when the table does not know the machine type."""
    table = prices()
    if machine_type in table["machineTypes"]:
        return float(table["machineTypes"][machine_type])
    if tpu := _TPU.match(machine_type):
        chip = table["tpuChips"].get(tpu["family"])
        return None if chip is None else chip["price"] * int(tpu["chips"])
    found = _RESOURCE_BASED.match(machine_type)
    family = table["families"].get(found["family"]) if found else None
    if found is None or family is None:
        return None
    vcpus = int(found["vcpus"])
    memory = vcpus * table["memoryPerVcpu"][f"{found['family']}-{found['kind']}"]
    attached = 0.0
    for gpu, count in gpus.items():
        if gpu not in table["attachedGpus"]:
            return None
        attached += table["attachedGpus"][gpu] * count
    return float(vcpus * family["vcpu"] + memory * family["gbMemory"] + attached)


def pool_cost(inputs: Mapping[str, JSON]) -> Range | None:
    """The monthly cost range of one node pool from its inputs, or None when unpriced."""
    config = inputs.get("nodeConfig", {})
    gpus = {g["type"]: int(g.get("count", 1)) for g in config.get("guestAccelerators", [])}
    hourly = hourly_price(config.get("machineType", "e2-medium"), gpus)
    if hourly is None:
        return None
    table = prices()
    if config.get("spot") or config.get("preemptible"):
        hourly *= table["spotFactor"]
    low, high = node_counts(inputs)
    month = hourly * table["hoursPerMonth"]
    return Range(low * month, high * month)


def node_counts(inputs: Mapping[str, JSON]) -> tuple[int, int]:
    zones = max(1, len(inputs.get("nodeLocations", [])))
    scaling = inputs.get("autoscaling")
    if scaling:
        if "totalMinNodeCount" in scaling or "totalMaxNodeCount" in scaling:
            return int(scaling.get("totalMinNodeCount", 0)), int(scaling.get("totalMaxNodeCount", 0))
        return zones * int(scaling.get("minNodeCount", 0)), zones * int(scaling.get("maxNodeCount", 0))
    fixed = int(inputs.get("nodeCount", inputs.get("initialNodeCount", 1)))
    return zones * fixed, zones * fixed


def plan_costs(plan: Plan) -> list[TargetCost]:
    """The node-pool cost before and after, for each target whose node pools change."""
    found: list[TargetCost] = []
    for target_plan in plan.targets:
        pools = [c for c in target_plan.changes if c.type == NODE_POOL]
        if not pools:
            continue
        before, after, unpriced = Range(), Range(), set()
        for change in pools:
            for side, inputs in (("before", change.before), ("after", change.after)):
                if inputs is None:
                    continue
                cost = pool_cost(inputs)
                if cost is None:
                    unpriced.add(inputs.get("nodeConfig", {}).get("machineType", "?"))
                elif side == "before":
                    before += cost
                else:
                    after += cost
        found.append(TargetCost(target_plan.target, before, after, tuple(sorted(unpriced))))
    return found
