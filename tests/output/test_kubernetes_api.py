"""The kubernetes target through the library, named as the command line names it; its errors."""

from __future__ import annotations

import pathlib

import pytest
from helpers import applied, apply_saved, plan_text, planned, save_plan, validated
from kube_cluster import DIGITS, ONLY_PROD, PROD, MemoryStore, recorded, validation_of
from kubefake import DIGITS_PROD_CONTEXT, FakeApiServer, write_kubeconfig
from kubernetes_cases import GET_CREDENTIALS, GRAPH, OBJECTS, _object, apply, assert_first_apply, target_for

from mlopsctl import api
from mlopsctl.graph import Graph, Resource, fn_output
from mlopsctl.output import ApplyError, Release

# Through the library, with the target named as the command line names it


PROD_ENV = api.Selection(("prod",))


def kube(kubeconfig: pathlib.Path | None = None, state: str | None = None) -> api.TargetSpec:
    """The kubernetes target as ``--target kubernetes --kubeconfig K --state S`` name it."""
    return api.TargetSpec(
        api.TargetKind.kubernetes, kubeconfig=str(kubeconfig) if kubeconfig else None, state=state
    )


def plan_and_preview(spec: api.TargetSpec, selection: api.Selection = PROD_ENV) -> None:
    """What ``plan`` does against ``spec``'s target: plan, then the target's server-side dry run."""
    with validated(DIGITS, selection) as validation:
        api.plan(validation, DIGITS, selection, spec).preview()


def refusal(command: str, spec: api.TargetSpec, selection: api.Selection = PROD_ENV) -> list[str]:
    """The lines of the UserError that refuses ``command`` (plan or apply) of the digits example."""
    with pytest.raises(api.UserError) as caught:
        if command == "plan":
            plan_and_preview(spec, selection)
        else:
            applied(DIGITS, spec, selection=selection)
    return str(caught.value).splitlines()


def test_apply_through_the_api(
    digits_copy: pathlib.Path, server: FakeApiServer, kubeconfig: pathlib.Path
) -> None:
    result = applied(digits_copy, kube(kubeconfig), selection=PROD_ENV)
    assert result.plan.summary.add == OBJECTS
    assert f"Plan: {OBJECTS} to add, 0 to change, 0 to destroy." in plan_text(result.plan)
    assert result.outcome.detail.endswith(
        f"to {DIGITS_PROD_CONTEXT} (server-side apply as mlopsctl); pruned 0."
    )
    assert_first_apply(server.requests, GRAPH)
    state = recorded(digits_copy.parent / ".mlopsctl" / "state")  # without --state: beside the config
    assert state is not None and len(state.resources) == OBJECTS


def test_a_plan_fails_when_the_dry_run_is_rejected(
    state_folder: pathlib.Path, server: FakeApiServer, kubeconfig: pathlib.Path
) -> None:
    server.put("v1", "Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "digits"}})
    server.rejections["/api/v1/namespaces/digits/services/digits"] = 'Service "digits" is invalid: spec.ports'
    printed: list[str] = []
    with pytest.raises(api.UserError) as caught, validated(DIGITS, PROD_ENV) as validation:
        result = api.plan(validation, DIGITS, PROD_ENV, kube(kubeconfig, str(state_folder)))
        printed.append(plan_text(result.plan))
        result.preview()
    assert f"Plan: {OBJECTS} to add" in printed[0]
    assert str(caught.value).splitlines() == [
        f"the API server ({DIGITS_PROD_CONTEXT}) rejects 1 of {OBJECTS} objects of prod/us-central1 "
        "in a server-side dry run:",
        '  - prod/us-central1/kubernetes:core/v1:Service/digits: Service "digits" is invalid: spec.ports',
    ]


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_an_unreachable_api_server_is_one_error_line(
    state_folder: pathlib.Path, tmp_path: pathlib.Path, command: str
) -> None:
    kubeconfig = write_kubeconfig(tmp_path, server="https://127.0.0.1:1")
    [line] = refusal(command, kube(kubeconfig, state_folder.as_uri()))
    assert line.startswith(
        f"cannot reach the Kubernetes API at https://127.0.0.1:1 (context {DIGITS_PROD_CONTEXT}: "
    )
    assert line.endswith(f"): check that the cluster is up and reachable from here, or {GET_CREDENTIALS}")


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_without_a_kubeconfig_the_error_says_how_to_get_one(
    state_folder: pathlib.Path, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    missing = tmp_path / "missing"
    monkeypatch.setenv("KUBECONFIG", str(missing))
    assert refusal(command, kube(state=str(state_folder))) == [
        f"no kubeconfig with a context at {missing}: {GET_CREDENTIALS}, or pass --kubeconfig"
    ]


def test_refused_credentials_are_one_error_line(
    state_folder: pathlib.Path, server: FakeApiServer, kubeconfig: pathlib.Path
) -> None:
    server.unauthorized = True
    assert refusal("apply", kube(kubeconfig, str(state_folder))) == [
        "the Kubernetes API at https://k8s.test refused the credentials of context "
        f"{DIGITS_PROD_CONTEXT} (401 Unauthorized): {GET_CREDENTIALS}"
    ]


def test_one_cluster_at_a_time(
    state_folder: pathlib.Path, server: FakeApiServer, kubeconfig: pathlib.Path
) -> None:
    with validated(DIGITS) as validation:
        targets = ", ".join(str(t) for t in validation.targets)
    assert len(validation.targets) > 1
    assert refusal("apply", kube(kubeconfig, str(state_folder)), api.ALL) == [
        f"the kubernetes target applies to one cluster at a time, and the selection holds {targets}: "
        "choose one with --env and --region"
    ]
    assert server.requests == []


def test_a_state_url_that_names_no_store_is_a_clear_error(kubeconfig: pathlib.Path) -> None:
    assert refusal("plan", kube(kubeconfig, "gs://")) == ["gs://: name the bucket, as gs://BUCKET/PREFIX"]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (api.TargetSpec(context="x"), "--context is for --target kubernetes"),
        (api.TargetSpec(api.TargetKind.pulumi, kubeconfig="k"), "--kubeconfig is for --target kubernetes"),
        (
            api.TargetSpec(api.TargetKind.kubernetes, backend="file:///b"),
            "--repo and --backend are not for the kubernetes target; it keeps its state in --state",
        ),
    ],
)
def test_kubernetes_options_belong_to_its_target(spec: api.TargetSpec, expected: str) -> None:
    with pytest.raises(api.UserError) as caught:
        planned(DIGITS, spec)
    assert str(caught.value) == expected


def test_a_saved_plan_applies_with_the_options_it_was_made_with(
    state_folder: pathlib.Path, server: FakeApiServer, kubeconfig: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    saved = tmp_path / "plan.json"
    save_plan(DIGITS, saved, kube(kubeconfig, state_folder.as_uri()), selection=PROD_ENV)
    server.clear()
    outcome = apply_saved(saved).outcome
    assert outcome.detail.endswith("(server-side apply as mlopsctl); pruned 0.")
    assert_first_apply(server.requests, GRAPH)
    assert recorded(state_folder) is not None  # the store the saved plan names
    assert not (DIGITS.parent / ".mlopsctl").exists()


def test_values_only_pulumi_can_resolve_are_refused(store: MemoryStore, kubeconfig: pathlib.Path) -> None:
    graph = Graph(PROD, "acme-digits-prod")
    account = _object("ServiceAccount", "sa", "digits")
    email = fn_output("prod/us-central1/gcp:serviceaccount/account:Account/a", "email")
    metadata = {**account.inputs["metadata"], "annotations": {"iam.gke.io/gcp-service-account": email}}
    graph.add(Resource(PROD, account.type, "sa", {**account.inputs, "metadata": metadata}))
    release = Release("digits", {PROD: graph}, {PROD: "h"}, None)
    with pytest.raises(ApplyError) as caught:
        target_for(store, kubeconfig).preview(release)
    assert str(caught.value) == (
        "prod/us-central1/kubernetes:core/v1:ServiceAccount/sa holds a value known only when Pulumi "
        "applies it (at metadata.annotations.iam.gke.io/gcp-service-account): apply it with --target pulumi"
    )


def test_a_state_changed_since_the_plan_stops_the_apply(
    store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path
) -> None:
    validation = validation_of()
    target = target_for(store, kubeconfig)
    graphs = api.graphs_for(validation, target)
    plan, removed = api.make_plan(validation, graphs, target.applied("digits"), ONLY_PROD)
    apply(store, kubeconfig)  # another apply in between
    server.clear()
    with pytest.raises(ApplyError) as caught:
        target.apply(plan, api.release_of(validation, graphs), removed)
    assert (
        str(caught.value) == "the state of prod/us-central1 changed since it was read: plan and apply again"
    )
    assert server.requests == []
