"""Accelerators and spend: node pools at their maximum size against the environment's limits."""

from __future__ import annotations

from collections.abc import Iterator

from mlopsctl.compiler.cluster import NODE_POOL
from mlopsctl.config import catalog
from mlopsctl.config.models.policies import Limits
from mlopsctl.graph import Resource
from mlopsctl.plan.cost import node_counts, pool_cost
from mlopsctl.policies import Finding, PolicyContext, policy


def _limits(ctx: PolicyContext) -> Limits | None:
    return ctx.settings.limits.get(ctx.target.env)


def _path(ctx: PolicyContext, field: str) -> tuple[str, ...]:
    return ("policies", "limits", ctx.target.env, field)


def gpus(pool: Resource) -> int:
    """GPUs of a node pool at its maximum size."""
    per_node = sum(
        int(g.get("count", 1)) for g in pool.inputs.get("nodeConfig", {}).get("guestAccelerators", [])
    )
    return per_node * node_counts(pool.inputs)[1]


def tpu_chips(pool: Resource) -> int:
    """TPU chips of a node pool at its maximum size (TPU machine types carry a fixed number each)."""
    machine = pool.inputs.get("nodeConfig", {}).get("machineType", "")
    per_host = next(
        (t.chips_per_host[machine] for t in catalog.catalog().tpus.values() if machine in t.chips_per_host), 0
    )
    return per_host * node_counts(pool.inputs)[1]


@policy("MLP007")
def accelerator_limits(ctx: PolicyContext) -> Iterator[Finding]:
    limits = _limits(ctx)
    if limits is None:
        return
    pools = ctx.of_type(NODE_POOL)
    for field, noun, limit, count in (
        ("gpus", "GPUs", limits.gpus, gpus),
        ("tpuChips", "TPU chips", limits.tpu_chips, tpu_chips),
    ):
        used = {p.name: count(p) for p in pools if count(p)}
        if limit is not None and sum(used.values()) > limit:
            detail = ", ".join(f"{name}: {n}" for name, n in sorted(used.items()))
            yield Finding(
                f"node pools at maximum size use {sum(used.values())} {noun} in {ctx.target}, "
                f"above the limit of {limit} ({detail})",
                hint="lower autoscaling.maxNodes of the pools, or raise the limit if the quota allows it",
                path=_path(ctx, field),
            )


@policy("MLP008")
def monthly_budget(ctx: PolicyContext) -> Iterator[Finding]:
    limits = _limits(ctx)
    if limits is None or limits.monthly_budget is None:
        return
    total, unpriced = 0.0, []
    for pool in ctx.of_type(NODE_POOL):
        cost = pool_cost(pool.inputs)
        if cost is None:
            unpriced.append(pool.name)
        else:
            total += cost.high
    note = f"; not priced: {', '.join(unpriced)}" if unpriced else ""
    if total > limits.monthly_budget:
        yield Finding(
            f"node pools at maximum size cost an estimated {total:,.0f} USD a month in {ctx.target}, "
            f"above the budget of {limits.monthly_budget:,.0f}{note}",
            hint="lower autoscaling.maxNodes, use spot nodes, or raise policies.limits budget",
            path=_path(ctx, "monthlyBudget"),
        )
