"""Values from the config stay values in mesh objects; what Istio or Flagger would refuse is reported."""

from __future__ import annotations

import pathlib
import re
from typing import Any

import pytest
from mesh_cases import CANARY_ROLLOUT, VS, codes, endpoint, get, graph

HOSTILE = ['x" }\nevil: {{ 7 * 7 }}', "a: [b, {c: d}] # e", "{% raw %}'\"'", "--- !!python/object"]


@pytest.mark.parametrize("value", [v.replace("\n", " ") for v in HOSTILE])
def test_header_values_stay_values(tmp_path: pathlib.Path, value: str) -> None:
    rollout = {
        "strategy": "ab",
        "weights": {"a": 50, "b": 50},
        "match": [{"header": "x-t", "value": value, "variant": "b"}],
    }
    vs = get(graph(tmp_path, {"ep": endpoint(rollout)}), VS, "ep")
    assert vs["spec"]["http"][0]["match"] == [{"headers": {"x-t": {"exact": value}}}]
    assert sorted(vs["spec"]) == ["gateways", "hosts", "http"]
    assert len(vs["spec"]["http"]) == 2


@pytest.mark.parametrize("value", ["{{7*7}}", "a.b*c+(d)|[e]^$?", "x{%y%}"])
def test_cookie_values_are_matched_literally(tmp_path: pathlib.Path, value: str) -> None:
    rollout = {
        "strategy": "ab",
        "weights": {"a": 50, "b": 50},
        "match": [{"cookie": "g", "value": value, "variant": "b"}],
    }
    vs = get(graph(tmp_path, {"ep": endpoint(rollout)}), VS, "ep")
    pattern = vs["spec"]["http"][0]["match"][0]["headers"]["cookie"]["regex"]
    assert re.fullmatch(pattern, f"lang=en; g={value}; theme=dark")
    assert re.fullmatch(pattern, f"g={value}")
    assert not re.fullmatch(pattern, f"g={value}x")
    assert not re.fullmatch(pattern, "g=" + "x" * len(value))


@pytest.mark.parametrize("caller", ['web"', "web\nevil", "{{ ns }}", "a: b", "web/sa/extra"])
def test_callers_outside_the_name_pattern_are_refused(tmp_path: pathlib.Path, caller: str) -> None:
    assert codes(tmp_path, {"ep": endpoint(callers=[caller])}) == [("E205", "endpoints.ep.callers.0")]


ANALYSED = {**CANARY_ROLLOUT, "analysis": {}}
BAD = {
    "host with a quote": ({"ep": endpoint(host='ep".example.com')}, [("E304", "endpoints.ep.host")]),
    "host with a newline": ({"ep": endpoint(host="ep.example.com\nx: y")}, [("E304", "endpoints.ep.host")]),
    "host in the cluster domain": (
        {"ep": endpoint(host="ep.demo.svc.cluster.local")},
        [("E304", "endpoints.ep.host")],
    ),
    "upper-case host": ({"ep": endpoint(host="EP.example.com")}, [("E304", "endpoints.ep.host")]),
    "shared host": (
        {"ep": endpoint(host="ml.example.com"), "other": endpoint(host="ml.example.com")},
        [("E310", "endpoints.other.host")],
    ),
    "header value with a line break": (
        {
            "ep": endpoint(
                {
                    "strategy": "ab",
                    "weights": {"a": 50, "b": 50},
                    "match": [{"header": "x", "value": "a\nb", "variant": "b"}],
                }
            )
        },
        [("E312", "endpoints.ep.rollout.match.0.value")],
    ),
    "cookie value with a semicolon": (
        {
            "ep": endpoint(
                {
                    "strategy": "ab",
                    "weights": {"a": 50, "b": 50},
                    "match": [{"cookie": "g", "value": "a; b=c", "variant": "b"}],
                }
            )
        },
        [("E312", "endpoints.ep.rollout.match.0.value")],
    ),
    "analysis on two protocols": (
        {"ep": endpoint(ANALYSED, protocols=["http", "grpc"])},
        [("E312", "endpoints.ep.rollout.analysis")],
    ),
    "endpoint named like a canary copy": (
        {"ep": endpoint(ANALYSED), "ep-canary": endpoint()},
        [("E310", "endpoints.ep-canary")],
    ),
}


@pytest.mark.parametrize(("endpoints", "expected"), BAD.values(), ids=BAD.keys())
def test_what_istio_or_flagger_would_refuse_is_reported(
    tmp_path: pathlib.Path, endpoints: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert codes(tmp_path, endpoints) == expected
