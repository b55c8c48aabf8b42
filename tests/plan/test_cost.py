from __future__ import annotations

import pytest
from helpers import make_change

from mlopsctl.graph import JSON
from mlopsctl.plan import Action, Plan, TargetPlan
from mlopsctl.plan.cost import NODE_POOL, Range, plan_costs, pool_cost, prices
from mlopsctl.views.plan_markdown import render_markdown


def _pool(
    machine: str, *, zones: int = 1, gpus: dict[str, int] | None = None, **extra: JSON
) -> dict[str, JSON]:
    config: dict[str, JSON] = {"machineType": machine}
    if gpus:
        config["guestAccelerators"] = [{"type": t, "count": n} for t, n in gpus.items()]
    if extra.pop("spot", False):
        config["spot"] = True
    return {"nodeConfig": config, "nodeLocations": [f"us-central1-{z}" for z in "abcf"[:zones]], **extra}


MONTH = 730
CASES = {
    "g2 per-zone autoscaling": (
        _pool("g2-standard-8", zones=3, autoscaling={"minNodeCount": 0, "maxNodeCount": 4}),
        (0.0, 12 * 0.85366 * MONTH),
    ),
    "spot": (
        _pool("g2-standard-8", spot=True, autoscaling={"minNodeCount": 1, "maxNodeCount": 1}),
        (0.4 * 0.85366 * MONTH, 0.4 * 0.85366 * MONTH),
    ),
    "n1 with an attached T4": (
        _pool("n1-standard-4", gpus={"nvidia-tesla-t4": 1}, nodeCount=1),
        ((4 * 0.031611 + 15 * 0.004237 + 0.35) * MONTH,) * 2,
    ),
    "TPU slice of two hosts": (_pool("ct5lp-hightpu-4t", nodeCount=2), (2 * 4 * 1.20 * MONTH,) * 2),
    "total autoscaling bounds": (
        _pool("e2-standard-4", zones=3, autoscaling={"totalMinNodeCount": 1, "totalMaxNodeCount": 5}),
        ((4 * 0.021811 + 16 * 0.002923) * MONTH, 5 * (4 * 0.021811 + 16 * 0.002923) * MONTH),
    ),
}


@pytest.mark.parametrize(("inputs", "expected"), CASES.values(), ids=CASES.keys())
def test_pool_cost(inputs: dict[str, JSON], expected: tuple[float, float]) -> None:
    cost = pool_cost(inputs)
    assert cost is not None
    assert (cost.low, cost.high) == pytest.approx(expected)


@pytest.mark.parametrize(
    "inputs", [_pool("c3-standard-4"), _pool("n1-standard-4", gpus={"nvidia-l4": 1}), _pool("ct9-x-4t")]
)
def test_unknown_machines_are_unpriced(inputs: dict[str, JSON]) -> None:
    assert pool_cost(inputs) is None


def test_the_price_table_names_its_source_and_date() -> None:
    table = prices()
    assert table["date"] and all(url.startswith("https://cloud.google.com/") for url in table["source"])


def _plan(*changes: object) -> Plan:
    return Plan("demo", (TargetPlan(changes[0].target, tuple(changes)),))  # type: ignore[attr-defined]


def test_a_plan_that_grows_a_pool_shows_the_change_in_markdown() -> None:
    before = _pool("g2-standard-8", autoscaling={"minNodeCount": 1, "maxNodeCount": 2})
    after = _pool("g2-standard-8", autoscaling={"minNodeCount": 2, "maxNodeCount": 2})
    added = _pool("c3-standard-4", nodeCount=1)
    plan = _plan(
        make_change((Action.UPDATE,), before, after, name="gpu", type_=NODE_POOL),
        make_change((Action.CREATE,), None, added, name="cpu", type_=NODE_POOL),
    )
    (cost,) = plan_costs(plan)
    assert cost.after - cost.before == Range(pytest.approx(623.17, abs=0.01), 0.0)  # type: ignore[arg-type]
    assert cost.unpriced == ("c3-standard-4",)
    text = render_markdown(plan)
    assert "| prod | us-central1 | $623 to $1,246 | $1,246 | +$623 to +$0 |" in text
    assert "_Not in the price table, left out: c3-standard-4._" in text


def test_no_cost_section_without_node_pool_changes() -> None:
    plan = _plan(make_change((Action.CREATE,), None, {"name": "x"}))
    assert "Estimated monthly cost" not in render_markdown(plan)
