"""An overlay that switches a rollout's strategy, a node pool's type or a monitor's type to a kind with
other fields replaces the mapping whole, as Kubernetes' retainKeys does for a Deployment's strategy:
the old kind's fields would be unknown to the new one. Within one kind, mappings still merge."""

from __future__ import annotations

import pathlib

from helpers import CLF_API, MINIMAL, diagnostics

from mlopsctl.config.load import load_bytes
from mlopsctl.config.resolve import UNIONS, resolve
from mlopsctl.config.target import Target

SHADOW = """\
      candidate: {model: clf, version: v1}
    rollout: {strategy: shadow, primary: main, shadow: candidate, mirrorPercent: 20}
"""
TO_CANARY = """\
    overrides:
      endpoints:
        api:
          rollout:
            strategy: canary
            baseline: main
            candidate: candidate
            steps: [25, 100]
"""


def _config(overlay: str) -> str:
    base = MINIMAL.replace("    regions: [us-central1]\n", "    regions: [us-central1]\n" + overlay, 1)
    return base + CLF_API + SHADOW


def test_switching_the_rollout_strategy_in_an_overlay_replaces_the_rollout(tmp_path: pathlib.Path) -> None:
    text = _config(TO_CANARY)
    assert [m for m, _ in diagnostics(tmp_path, text) if " error " in m] == []
    doc, _ = load_bytes(text.encode(), "mlops.yaml", tmp_path)
    assert doc is not None
    dev, _ = resolve(doc, Target("dev", "us-central1"))
    assert dev.data["endpoints"]["api"]["rollout"] == {
        "strategy": "canary",
        "baseline": "main",
        "candidate": "candidate",
        "steps": [25, 100],
    }
    assert ("endpoints", "api", "rollout", "mirrorPercent") not in dev.sources.values
    prod, _ = resolve(doc, Target("prod", "us-central1"))
    assert prod.data["endpoints"]["api"]["rollout"]["strategy"] == "shadow"


def test_an_overlay_within_one_kind_still_merges(tmp_path: pathlib.Path) -> None:
    text = _config("    overrides:\n      endpoints:\n        api:\n          rollout: {mirrorPercent: 50}\n")
    doc, _ = load_bytes(text.encode(), "mlops.yaml", tmp_path)
    assert doc is not None
    dev, _ = resolve(doc, Target("dev", "us-central1"))
    rollout = dev.data["endpoints"]["api"]["rollout"]
    assert rollout == {"strategy": "shadow", "primary": "main", "shadow": "candidate", "mirrorPercent": 50}


def test_drift_to_skew_is_one_kind_of_monitor_and_merges() -> None:
    key, kinds = UNIONS[("monitors", "*")]
    assert key == "type" and kinds["drift"] is kinds["skew"] and kinds["drift"] is not kinds["latency"]
    key, kinds = UNIONS[("accelerators", "*")]
    assert key == "type" and len({kinds["gpu"], kinds["tpu"], kinds["cpu"]}) == 3


def test_nulls_of_the_old_kinds_keys_in_a_switch_are_not_warned_about(tmp_path: pathlib.Path) -> None:
    """Written for an older mlopsctl, they removed what the switch now drops anyway."""
    overlay = (
        TO_CANARY + "            primary: null\n            shadow: null\n            mirrorPercent: null\n"
    )
    found = diagnostics(tmp_path, _config(overlay))
    assert [m for m, _ in found if " W304: " in m or " error " in m] == []


def test_a_null_for_a_key_neither_kind_has_is_still_warned_about(tmp_path: pathlib.Path) -> None:
    found = diagnostics(tmp_path, _config(TO_CANARY + "            stpes: null\n"))
    assert [m for m, _ in found if " W304: " in m], found
