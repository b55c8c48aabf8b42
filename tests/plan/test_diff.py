from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import pytest

from mlopsctl.config.sourcemap import Path
from mlopsctl.config.target import Target
from mlopsctl.graph import JSON, Graph, Resource
from mlopsctl.plan import (
    Action,
    Plan,
    Summary,
    TargetPlan,
    blocked_by_protection,
    destructive_changes,
    diff_plan,
    diff_target,
)
from mlopsctl.state import State, state_from_graph

PROD = Target("prod", "us-central1")
DEV = Target("dev", "us-central1")
BUCKET = "gcp:storage/bucket:Bucket"
DATASET = "gcp:bigquery/dataset:Dataset"
NAMESPACE = "kubernetes:core/v1:Namespace"


def graph(*resources: Resource, target: Target = PROD) -> Graph:
    g = Graph(target, "acme-prod")
    for r in resources:
        g.add(r)
    return g


def res(
    type_: str,
    name: str,
    inputs: Mapping[str, JSON],
    target: Target = PROD,
    *,
    depends_on: tuple[str, ...] = (),
    protect: bool = False,
    source: Path = (),
) -> Resource:
    return Resource(target, type_, name, inputs, depends_on, protect, source)


def applied(*resources: Resource, target: Target = PROD) -> State:
    return state_from_graph(
        graph(*resources, target=target), project="acme", source_commit=None, config_hash="h"
    )


RAW = res(BUCKET, "raw", {"name": "acme-raw", "location": "US", "labels": {"team": "ml"}})
FEATURES = res(DATASET, "features", {"datasetId": "features", "location": "US"}, depends_on=(RAW.address,))
NS = res(NAMESPACE, "serving", {"metadata": {"name": "serving"}}, protect=True)


def test_empty_state_creates_everything_in_dependency_order() -> None:
    plan = diff_target(PROD, graph(FEATURES, RAW), None)
    assert [c.address for c in plan.changes] == [RAW.address, FEATURES.address]
    assert all(c.actions == (Action.CREATE,) and c.before is None for c in plan.changes)
    assert plan.changes[0].after == {"name": "acme-raw", "location": "US", "labels": {"team": "ml"}}
    assert plan.unchanged == 0


def test_removed_target_destroys_everything_in_reverse_dependency_order() -> None:
    plan = diff_target(PROD, None, applied(RAW, FEATURES))
    assert [c.address for c in plan.changes] == [FEATURES.address, RAW.address]
    assert all(c.actions == (Action.DELETE,) and c.after is None for c in plan.changes)
    assert plan.changes[1].before == RAW.inputs
    assert plan.changes[1].source == ()


def test_nothing_to_diff() -> None:
    assert diff_target(PROD, None, None) == TargetPlan(PROD)


def test_unchanged_resources_are_counted_not_listed() -> None:
    plan = diff_target(PROD, graph(RAW, FEATURES), applied(RAW, FEATURES))
    assert plan.changes == ()
    assert plan.unchanged == 2


@pytest.mark.parametrize(
    ("new_inputs", "actions", "forcing"),
    [
        ({"name": "acme-raw", "location": "US", "labels": {"team": "ds"}}, (Action.UPDATE,), ()),
        (
            {"name": "acme-raw", "location": "EU", "labels": {"team": "ml"}},
            (Action.DELETE, Action.CREATE),
            ("location",),
        ),
        ({"name": "acme-raw", "location": "US"}, (Action.UPDATE,), ()),
        # JSON values: a tuple equals a list, a mapping proxy equals a dict.
        (
            MappingProxyType({"name": "acme-raw", "location": "US", "labels": {"team": "ml"}}),
            (Action.NO_OP,),
            (),
        ),
    ],
)
def test_changed_inputs(
    new_inputs: dict[str, JSON], actions: tuple[Action, ...], forcing: tuple[str, ...]
) -> None:
    plan = diff_target(PROD, graph(res(BUCKET, "raw", new_inputs)), applied(RAW))
    if actions == (Action.NO_OP,):
        assert (plan.changes, plan.unchanged) == ((), 1)
        return
    (change,) = plan.changes
    assert change.actions == actions
    assert change.replace_paths == forcing
    assert change.before == dict(RAW.inputs)
    assert change.after == dict(new_inputs)


@pytest.mark.parametrize(("old", "new"), [(True, 1), (1, "1"), (None, False), ([1, 2], [2, 1])])
def test_inputs_are_compared_as_json_values(old: JSON, new: JSON) -> None:
    plan = diff_target(PROD, graph(res(BUCKET, "b", {"v": new})), applied(res(BUCKET, "b", {"v": old})))
    assert [c.actions for c in plan.changes] == [(Action.UPDATE,)]


def test_sequences_compare_as_lists() -> None:
    plan = diff_target(PROD, graph(res(BUCKET, "b", {"v": (1, 2)})), applied(res(BUCKET, "b", {"v": [1, 2]})))
    assert plan.unchanged == 1


def test_deletions_come_after_creates_and_updates() -> None:
    changed_raw = res(BUCKET, "raw", {"name": "acme-raw", "location": "US"})
    plan = diff_target(PROD, graph(NS, changed_raw), applied(RAW, FEATURES))
    assert [(c.address, c.actions) for c in plan.changes] == [
        (RAW.address, (Action.UPDATE,)),
        (NS.address, (Action.CREATE,)),
        (FEATURES.address, (Action.DELETE,)),
    ]


def test_source_and_target_come_from_the_desired_resource() -> None:
    raw = res(BUCKET, "raw", {"name": "x"}, source=("data", "buckets", "raw"))
    (change,) = diff_target(PROD, graph(raw), None).changes
    assert (change.source, change.target, change.type, change.name) == (
        ("data", "buckets", "raw"),
        PROD,
        BUCKET,
        "raw",
    )


@pytest.mark.parametrize(("desired", "state"), [(graph(target=DEV), None), (None, applied(target=DEV))])
def test_target_mismatch_is_rejected(desired: Graph | None, state: State | None) -> None:
    with pytest.raises(ValueError, match="expected prod/us-central1"):
        diff_target(PROD, desired, state)


def test_summary_counts_a_replacement_in_add_and_destroy() -> None:
    moved = res(BUCKET, "raw", {"name": "acme-raw", "location": "EU", "labels": {"team": "ml"}})
    prod = diff_target(PROD, graph(moved, NS), applied(RAW, FEATURES))
    dev = diff_target(DEV, graph(res(BUCKET, "raw", {"name": "d"}, target=DEV), target=DEV), None)
    plan = Plan("acme", (prod, dev))
    assert prod.summary == Summary(add=2, change=0, destroy=2)
    assert plan.summary == Summary(add=3, change=0, destroy=2)
    assert plan.has_changes


def test_plan_without_changes() -> None:
    plan = Plan("acme", (diff_target(PROD, graph(RAW), applied(RAW)),))
    assert plan.summary == Summary(0, 0, 0)
    assert not plan.has_changes
    assert destructive_changes(plan) == []


@pytest.mark.parametrize(
    ("desired_protect", "applied_protect", "desired_location", "blocked"),
    [
        (False, False, "EU", False),
        (True, False, "EU", True),
        (False, True, "EU", True),
        (True, True, "US", False),  # an update is not destructive
    ],
)
def test_protection_blocks_replacements(
    desired_protect: bool, applied_protect: bool, desired_location: str, blocked: bool
) -> None:
    before = res(BUCKET, "raw", {"name": "r", "location": "US"}, protect=applied_protect)
    after = res(BUCKET, "raw", {"name": "r", "location": desired_location, "x": 1}, protect=desired_protect)
    plan = Plan("acme", (diff_target(PROD, graph(after), applied(before)),))
    assert [c.address for c in blocked_by_protection(plan)] == ([RAW.address] if blocked else [])


def test_destructive_changes_and_protected_deletions() -> None:
    plan = Plan("acme", (diff_target(PROD, graph(RAW), applied(RAW, NS, FEATURES)),))
    # Reverse dependency order: the dataset (which needs the bucket) goes first.
    assert [c.address for c in destructive_changes(plan)] == [FEATURES.address, NS.address]
    assert [c.address for c in blocked_by_protection(plan)] == [NS.address]


def test_diff_plan_keeps_desired_order_then_removed_targets() -> None:
    staging = Target("staging", "europe-west4")
    desired = {PROD: graph(RAW), DEV: graph(target=DEV)}
    state = {PROD: applied(RAW), staging: applied(res(BUCKET, "b", {}, target=staging), target=staging)}
    plan = diff_plan("acme", desired, state)
    assert [t.target for t in plan.targets] == [PROD, DEV, staging]
    assert [c.actions for c in plan.targets[2].changes] == [(Action.DELETE,)]
    assert plan.project == "acme"


def test_action_values() -> None:
    assert [a.value for a in Action] == ["create", "update", "delete", "no-op"]
    assert Action("no-op") is Action.NO_OP


@pytest.mark.parametrize(
    ("type_", "old", "new", "actions", "forcing"),
    [
        (
            "gcp:serviceaccount/iAMMember:IAMMember",
            {"role": "roles/a", "member": "m"},
            {"role": "roles/b", "member": "m"},
            (Action.DELETE, Action.CREATE),
            ("role",),
        ),
        (
            "kubernetes:pipelines.kubeflow.org/v2beta1:PipelineVersion",
            {"metadata": {"name": "p"}, "spec": {"pipelineSpec": 1}},
            {"metadata": {"name": "p"}, "spec": {"pipelineSpec": 2}},
            (Action.DELETE, Action.CREATE),
            ("spec",),
        ),
        (
            "gcp:kms/cryptoKey:CryptoKey",
            {"name": "k", "rotationPeriod": "1s"},
            {"name": "k", "rotationPeriod": "2s"},
            (Action.UPDATE,),
            (),
        ),
    ],
)
def test_the_resource_type_decides_between_update_and_replacement(
    type_: str,
    old: dict[str, JSON],
    new: dict[str, JSON],
    actions: tuple[Action, ...],
    forcing: tuple[str, ...],
) -> None:
    (change,) = diff_target(PROD, graph(res(type_, "x", new)), applied(res(type_, "x", old))).changes
    assert (change.actions, change.replace_paths) == (actions, forcing)


def test_removed_resources_of_a_kept_target_are_destroyed_in_reverse_dependency_order() -> None:
    table = res("gcp:bigquery/table:Table", "t", {"tableId": "t"}, depends_on=(FEATURES.address,))
    plan = diff_target(PROD, graph(RAW), applied(table, RAW, FEATURES, NS))
    assert [(c.address, c.actions) for c in plan.changes] == [
        (table.address, (Action.DELETE,)),
        (FEATURES.address, (Action.DELETE,)),
        (NS.address, (Action.DELETE,)),
    ]
    assert plan.unchanged == 1
