from __future__ import annotations

import pathlib

import pytest
from policy_helpers import PASSING, assert_errors_at, edited

MAIN = "      main: {model: m, version: v1, minReplicas: 2}\n"
TWO = MAIN + "      next: {model: m, version: v2, minReplicas: 2}\n"
PROD_OVERRIDE = "    regions: [us-central1]\nsecurity:"


def rollout(spec: str) -> tuple[str, str]:
    return MAIN, TWO + f"    rollout: {spec}\n"


# (name, [(old, new) replacements of PASSING], [(id, marker the finding points at)]); severity is error.
CASES = [
    ("passing", [], []),
    (
        "one replica in every environment: production only",
        [("minReplicas: 2}", "minReplicas: 1}")],
        [("MLP001", "minReplicas: 1")],
    ),
    (
        "one replica in a prod overlay",
        [
            ("minReplicas: 2}", "minReplicas: 3}"),
            (
                PROD_OVERRIDE,
                "    regions: [us-central1]\n    overrides:\n      endpoints:\n        score:\n"
                "          variants:\n            main: {minReplicas: 1}\nsecurity:",
            ),
        ],
        [("MLP001", "minReplicas: 1")],
    ),
    ("a shadow keeps one replica", [rollout("{strategy: shadow, primary: main, shadow: next}")], []),
    ("blue-green in production", [rollout("{strategy: blue-green, blue: main, green: next}")], []),
    (
        "one replica on the idle colour of a blue-green rollout",
        [
            (
                MAIN,
                MAIN + "      next: {model: m, version: v2, minReplicas: 1}\n"
                "    rollout: {strategy: blue-green, blue: main, green: next}\n",
            ),
        ],
        [("MLP001", "minReplicas: 1")],
    ),
    (
        "inference-graph steps take no replica settings",
        [
            (
                MAIN,
                "      main: {model: m, version: v1, minReplicas: 2}\n  triage:\n    graph:\n      steps:\n"
                "        a: {model: m, version: v1}\n        b: {model: m, version: v2}\n",
            )
        ],
        [("MLP009", "triage:")],
    ),
    (
        "a single-step canary",
        [rollout("{strategy: canary, baseline: main, candidate: next, steps: [100]}")],
        [("MLP002", "steps: [100]"), ("MLP003", "100]")],
    ),
    (
        "a gradual canary",
        [rollout("{strategy: canary, baseline: main, candidate: next, steps: [5, 100]}")],
        [],
    ),
    ("an A/B split", [rollout("{strategy: ab, weights: {main: 50, next: 50}}")], []),
    (
        "a canary starting at 20%",
        [rollout("{strategy: canary, baseline: main, candidate: next, steps: [20, 100]}")],
        [("MLP003", "20,")],
    ),
    (
        "a canary starting at 20% with a higher limit",
        [
            rollout("{strategy: canary, baseline: main, candidate: next, steps: [20, 100]}"),
            ("monitors:", "policies: {canaryMaxFirstStep: 25}\nmonitors:"),
        ],
        [],
    ),
    ("no drift monitor", [("type: drift", "type: skew")], [("MLP009", "score:\n    logging")]),
    (
        "production named otherwise",
        [
            ("type: drift", "type: skew"),
            ("minReplicas: 2}", "minReplicas: 1}"),
            ("monitors:", "policies:\n  production: []\nmonitors:"),
        ],
        [],
    ),
]


@pytest.mark.parametrize(("changes", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_serving_policies(
    tmp_path: pathlib.Path, changes: list[tuple[str, str]], expected: list[tuple[str, str]]
) -> None:
    assert_errors_at(tmp_path, edited(PASSING, changes), expected)
