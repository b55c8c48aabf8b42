"""The kubernetes target retries what the API server refuses for a passing reason (a webhook not serving
yet, throttling, an overloaded server), with backoff and within bounds, and nothing else."""

from __future__ import annotations

import pathlib

import pytest
from kube_cluster import ONLY_PROD, FakeClock, MemoryStore, validation_of
from kubefake import FakeApiServer, Response, status, too_many_requests, webhook_down
from kubernetes_cases import DRY_SSA, OBJECTS, SSA

from mlopsctl import api
from mlopsctl.output import ApplyError
from mlopsctl.output.kubernetes import KubernetesTarget
from mlopsctl.output.kubewait import RETRY_BUDGET

ISVC = "serving.kserve.io/v1beta1:InferenceService/digits-baseline"
BASELINE = "/apis/serving.kserve.io/v1beta1/namespaces/digits/inferenceservices/digits-baseline"
KSERVE_WEBHOOK = "inferenceservice.kserve-webhook-server.defaulter"
KSERVE_SERVICE = "kserve-webhook-server-service.kserve"
APPLIED_BEFORE = 35
"""The objects of the digits example applied before its first InferenceService."""


def _target(store: MemoryStore, kubeconfig: pathlib.Path, clock: FakeClock) -> KubernetesTarget:
    return KubernetesTarget(lambda: store, kubeconfig=str(kubeconfig), clock=clock.clock)


def _apply(store: MemoryStore, kubeconfig: pathlib.Path, clock: FakeClock) -> api.Outcome:
    validation = validation_of()
    target = _target(store, kubeconfig, clock)
    _, outcome = api.apply_graphs(validation, api.graphs_for(validation, target), target, ONLY_PROD)
    return outcome


def _fail_with(answer: Response, times: int = 1) -> dict[str, list[Response]]:
    return {"InferenceService": [answer] * times}


@pytest.mark.parametrize(
    "answer",
    [
        webhook_down(KSERVE_WEBHOOK, KSERVE_SERVICE),
        webhook_down(KSERVE_WEBHOOK, KSERVE_SERVICE, "dial tcp 10.8.0.12:443: connect: connection refused"),
        webhook_down(KSERVE_WEBHOOK, KSERVE_SERVICE, "context deadline exceeded"),
        status(503, "Service Unavailable", "the server is currently unable to handle the request"),
        status(504, "Gateway Timeout", "Timeout: request did not complete within requested timeout"),
    ],
    ids=["no-endpoints", "connection-refused", "deadline", "503", "504"],
)
def test_a_webhook_not_serving_yet_is_retried_with_backoff_until_it_serves(
    store: MemoryStore,
    server: FakeApiServer,
    kubeconfig: pathlib.Path,
    fake_clock: FakeClock,
    answer: Response,
) -> None:
    server.failing = _fail_with(answer, 4)
    outcome = _apply(store, kubeconfig, fake_clock)
    assert outcome.detail.startswith(f"Applied {OBJECTS} objects")
    assert server.requests.count(f"PATCH {BASELINE}{SSA}") == 5
    assert fake_clock.slept == [1.0, 2.0, 4.0, 8.0]
    assert ("serving.kserve.io/v1beta1", "inferenceservices", "digits", "digits-baseline") in server.objects
    assert store.writes == 1


def test_a_webhook_that_never_serves_fails_the_apply_saying_how_long_it_was_retried(
    store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path, fake_clock: FakeClock
) -> None:
    server.failing = _fail_with(webhook_down(KSERVE_WEBHOOK, KSERVE_SERVICE), 100)
    with pytest.raises(ApplyError) as caught:
        _apply(store, kubeconfig, fake_clock)
    assert fake_clock.slept == [1.0, 2.0, 4.0, 8.0, 16.0, 16.0, 16.0, 16.0, 16.0, 16.0, 9.0]
    assert fake_clock.now == RETRY_BUDGET
    url = "https://kserve-webhook-server-service.kserve.svc:443/mutate?timeout=10s"
    assert str(caught.value) == (
        f"cannot apply prod/us-central1/kubernetes:{ISVC}: Internal error occurred: failed calling webhook "
        f'"{KSERVE_WEBHOOK}": failed to call webhook: Post "{url}": no endpoints available for service '
        '"kserve-webhook-server-service" (the API server answered 500 to 12 attempts over 120s, retried '
        "with backoff for at most 120s per request: a webhook is not serving: check that the pods of the "
        "add-on that runs it are ready); "
        f"{APPLIED_BEFORE} of {OBJECTS} objects were applied before it, nothing was pruned and the state "
        "was not recorded: fix it and apply again"
    )
    assert server.requests.count(f"PATCH {BASELINE}{SSA}") == 12
    assert (store.states, store.locks) == ({}, {})


def test_throttling_waits_as_long_as_the_server_asks(
    store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path, fake_clock: FakeClock
) -> None:
    server.failing = _fail_with(too_many_requests(7), 2)
    _apply(store, kubeconfig, fake_clock)
    assert fake_clock.slept == [7.0, 7.0]
    assert server.requests.count(f"PATCH {BASELINE}{SSA}") == 3


def test_a_retry_after_beyond_the_budget_fails_at_once(
    store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path, fake_clock: FakeClock
) -> None:
    server.failing = _fail_with(too_many_requests(600))
    with pytest.raises(ApplyError) as caught:
        _apply(store, kubeconfig, fake_clock)
    assert fake_clock.slept == []
    assert str(caught.value).startswith(
        f"cannot apply prod/us-central1/kubernetes:{ISVC}: Too many requests, please try again later. (the "
        "API server answered 429 to 1 attempt over 0s and asked to wait 600s more, retried with backoff for "
        "at most 120s per request: the API server is throttling requests); "
    )


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (400, 'admission webhook "vinferenceservice.kserve-webhook-server.validator" denied the request'),
        (403, 'inferenceservices.serving.kserve.io "digits-baseline" is forbidden: User cannot patch'),
        (404, 'namespaces "digits" not found'),
        (409, "Operation cannot be fulfilled: the object has been modified"),
        (422, 'InferenceService.serving.kserve.io "digits-baseline" is invalid: spec.predictor'),
        (500, "Internal error occurred: etcdserver: request is too large"),
        # A webhook's answers, whatever status it chose, and a conversion it refused.
        (503, 'admission webhook "v.kserve" denied the request: context deadline exceeded in predictor'),
        (500, "Internal error occurred: conversion webhook for serving.kserve.io/v1, Kind=X failed: no"),
    ],
)
def test_other_refusals_fail_at_once(
    store: MemoryStore,
    server: FakeApiServer,
    kubeconfig: pathlib.Path,
    fake_clock: FakeClock,
    code: int,
    message: str,
) -> None:
    server.failing = _fail_with(status(code, "Refused", message), 5)
    with pytest.raises(ApplyError) as caught:
        _apply(store, kubeconfig, fake_clock)
    assert str(caught.value).startswith(f"cannot apply prod/us-central1/kubernetes:{ISVC}: {message}; ")
    assert fake_clock.slept == []
    assert server.requests.count(f"PATCH {BASELINE}{SSA}") == 1


def _preview_with_webhook_down(
    store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path, clock: FakeClock, times: int
) -> str:
    """The dry run of the digits example, its namespace there, KServe's webhook down ``times`` times."""
    server.put("v1", "Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "digits"}})
    server.failing = _fail_with(webhook_down(KSERVE_WEBHOOK, KSERVE_SERVICE), times)
    validation = validation_of()
    target = _target(store, kubeconfig, clock)
    return target.preview(api.release_of(validation, api.graphs_for(validation, target))).detail


def test_the_dry_run_retries_a_webhook_not_serving_yet(
    store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path, fake_clock: FakeClock
) -> None:
    detail = _preview_with_webhook_down(store, server, kubeconfig, fake_clock, 2)
    assert detail.endswith(
        f"{OBJECTS - 1} accepted, 1 not checked (their namespace, kind or pipeline is created by this apply)"
    )
    assert server.requests.count(f"PATCH {BASELINE}{DRY_SSA}") == 3
    assert fake_clock.slept == [1.0, 2.0]


def test_a_dry_run_spends_one_retry_budget_for_all_its_objects(
    store: MemoryStore, server: FakeApiServer, kubeconfig: pathlib.Path, fake_clock: FakeClock
) -> None:
    """A webhook that stays down costs a plan two minutes, not two minutes per object it admits."""
    with pytest.raises(ApplyError) as caught:
        _preview_with_webhook_down(store, server, kubeconfig, fake_clock, 100)
    assert fake_clock.now == RETRY_BUDGET
    candidate = BASELINE.replace("digits-baseline", "digits-candidate")
    assert server.requests.count(f"PATCH {BASELINE}{DRY_SSA}") == 12
    assert server.requests.count(f"PATCH {candidate}{DRY_SSA}") == 1
    rejected = [line for line in str(caught.value).splitlines() if line.startswith("  - ")]
    assert len(rejected) == 2, rejected
    assert "(the API server answered 500 to 12 attempts over 120s" in rejected[0]
    assert "(the API server answered 500 to 1 attempt over 0s" in rejected[1]
    assert all("retried with backoff for at most 120s per dry run" in line for line in rejected)
