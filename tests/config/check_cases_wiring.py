"""Mis-wired pipelines and rollouts: edits of checks_base.base_config and their diagnostics."""

from __future__ import annotations

from checks_base import DELETE, ROLLOUT, SCORING, STEPS, Case, put

WIRING_CASES: dict[str, Case] = {
    # pipeline wiring
    "input step": (
        put(((*STEPS, "train", "inputs", "examples"), "ingst.examples")),
        [("E309", (*STEPS, "train", "inputs", "examples"))],
    ),
    "input output": (
        put(((*STEPS, "train", "inputs", "examples"), "ingest.rows")),
        [("E309", (*STEPS, "train", "inputs", "examples"))],
    ),
    "depends on": (
        put(((*STEPS, "push", "dependsOn"), ["evaluat"])),
        [("E301", (*STEPS, "push", "dependsOn", 0)), ("E309", (*STEPS, "push"))],
    ),
    "cycle": (
        put(((*STEPS, "ingest", "dependsOn"), ["push"])),
        [("E302", (*STEPS, "ingest")), ("E302", (*STEPS, "ingest"))],  # through train, and through evaluate
    ),
    "depends on itself": (
        put(((*STEPS, "push", "dependsOn"), ["push"])),
        [("E302", (*STEPS, "push")), ("E309", (*STEPS, "push"))],
    ),
    "when on own output": (
        put(((*STEPS, "train", "when"), {"output": "train.auc", "value": 1})),
        [("E309", (*STEPS, "train", "when", "output"))],
    ),
    "parallelFor output": (
        put(((*STEPS, "train", "parallelFor"), {"fromOutput": "ingest.shards"})),
        [
            ("E309", (*STEPS, "evaluate", "inputs", "model")),
            ("E309", (*STEPS, "push", "inputs", "model")),
            ("E309", (*STEPS, "push", "when", "output")),
            ("E309", (*STEPS, "train", "parallelFor", "fromOutput")),
        ],
    ),
    # rollouts
    "ab weights sum": (
        put((ROLLOUT, {"strategy": "ab", "weights": {"blue": 60, "green": 30}})),
        [("E303", (*ROLLOUT, "weights"))],
    ),
    "canary order": (put(((*ROLLOUT, "steps"), [10, 10, 100])), [("E303", (*ROLLOUT, "steps", 1))]),
    "canary end": (put(((*ROLLOUT, "steps"), [10, 50])), [("E303", (*ROLLOUT, "steps", 1))]),
    "canary current step": (put(((*ROLLOUT, "currentStep"), 3)), [("E303", (*ROLLOUT, "currentStep"))]),
    "canary same variant": (put(((*ROLLOUT, "candidate"), "blue")), [("E303", (*ROLLOUT, "candidate"))]),
    "shadow same variant": (
        put((ROLLOUT, {"strategy": "shadow", "primary": "blue", "shadow": "blue"})),
        [("E303", (*ROLLOUT, "shadow"))],
    ),
    "single variant rollout": (put(((*SCORING, "variants", "green"), DELETE)), [("E303", ROLLOUT)]),
}
