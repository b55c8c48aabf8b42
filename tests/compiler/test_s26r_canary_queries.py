"""Queries on the requests of an endpoint that Flagger routes must find them.

A destination sidecar labels a request with one Service selecting its pod (the oldest). With a
canary under analysis the predictor pods are also selected by Flagger's target ``<endpoint>``
(applied before KServe makes ``<isvc>-predictor``) and its copies ``-primary`` and ``-canary``, so
selecting ``destination_service_name="<isvc>-predictor"`` alone can miss every request.
"""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

from helpers import STAGED_DATA, compile_text

from mlopsctl.config.target import Target
from mlopsctl.graph import Graph

DEV = Target("dev", "us-central1")
MODELS = """\
models:
  sk:
    framework: sklearn
    versions: {v1: {artifactUri: gs://acme-models/sk/1}, v2: {artifactUri: gs://acme-models/sk/2}}
"""
CANARY: dict[str, Any] = {"strategy": "canary", "baseline": "a", "candidate": "b", "steps": [10, 100]}
SCALE = {"metric": "rps", "target": 20}


def _graph(tmp_path: pathlib.Path, rollout: dict[str, Any]) -> Graph:
    variant = {"model": "sk", "minReplicas": 1, "maxReplicas": 3, "autoscaling": SCALE}
    endpoint = {
        "variants": {"a": {**variant, "version": "v1"}, "b": {**variant, "version": "v2"}},
        "rollout": rollout,
    }
    monitors = {
        "ep-errors": {"type": "error-rate", "endpoint": "ep", "objective": 1},
        "ep-latency": {"type": "latency", "endpoint": "ep", "objective": 100},
    }
    text = (
        STAGED_DATA
        + MODELS
        + f"endpoints: {json.dumps({'ep': endpoint})}\n"
        + f"monitors: {json.dumps(monitors)}\n"
    )
    return compile_text(tmp_path, text)[DEV]


def _keda_queries(graph: Graph) -> dict[str, str]:
    return {
        r.name: r.inputs["spec"]["predictor"]["autoScaling"]["metrics"][0]["external"]["metric"]["query"]
        for r in graph
        if r.inputs.get("kind") == "InferenceService"
    }


def _slo_services(graph: Graph) -> list[set[str]]:
    found = []
    for r in graph:
        if r.inputs.get("kind") == "Rules":
            for group in r.inputs["spec"]["groups"]:
                for rule in group["rules"]:
                    found += [
                        set(s.split("|"))
                        for s in re.findall(r'destination_service_name=~"([^"]+)"', rule["expr"])
                    ]
    assert found
    return found


def test_slo_rules_of_an_analysed_canary_count_flaggers_services(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path, {**CANARY, "analysis": {"interval": "1m"}})
    expected = {"ep-a-predictor", "ep-b-predictor", "ep", "ep-primary", "ep-canary"}
    assert all(services == expected for services in _slo_services(graph))


def test_slo_rules_of_a_manual_canary_keep_to_the_predictors(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path, CANARY)
    assert all(services == {"ep-a-predictor", "ep-b-predictor"} for services in _slo_services(graph))


def test_keda_queries_of_an_analysed_canary_select_the_variants_workload(tmp_path: pathlib.Path) -> None:
    queries = _keda_queries(_graph(tmp_path, {**CANARY, "analysis": {"interval": "1m"}}))
    for isvc, query in queries.items():
        assert f'destination_workload="{isvc}-predictor"' in query
        assert 'destination_workload_namespace="demo"' in query
        assert "destination_service_name" not in query


def test_keda_queries_of_a_manual_canary_select_the_predictor_service(tmp_path: pathlib.Path) -> None:
    queries = _keda_queries(_graph(tmp_path, CANARY))
    for isvc, query in queries.items():
        assert f'destination_service_name="{isvc}-predictor"' in query
