"""Names that refer to nothing: edits of checks_base.base_config and their diagnostics."""

from __future__ import annotations

from checks_base import GPU, ROLLOUT, SCORING, STEPS, TRAIN, Case, put

REFERENCE_CASES: dict[str, Case] = {
    # references
    "pipeline node pool": (put(((*TRAIN, "nodePool"), "cpuu")), [("E301", (*TRAIN, "nodePool"))]),
    "step node pool": (
        put(((*STEPS, "train", "resources", "nodePool"), "gpu-l5")),
        [("E301", (*STEPS, "train", "resources", "nodePool")), ("W301", GPU)],
    ),
    "push model": (put(((*STEPS, "push", "model"), "frod")), [("E301", (*STEPS, "push", "model"))]),
    "ingest dataset": (
        put(((*STEPS, "ingest", "source", "bigquery", "dataset"), "featurez")),
        [("E301", (*STEPS, "ingest", "source", "bigquery", "dataset"))],
    ),
    "ingest bucket": (
        put(((*STEPS, "ingest", "source"), {"gcs": "landing/incoming/"})),
        [("E301", (*STEPS, "ingest", "source", "gcs"))],
    ),
    "ingest external": (
        put(((*STEPS, "ingest", "source"), {"external": "kaggle"})),
        [("E301", (*STEPS, "ingest", "source", "external"))],
    ),
    "pipeline service account": (
        put(((*TRAIN, "serviceAccount"), "traner")),
        [("E301", (*TRAIN, "serviceAccount"))],
    ),
    "endpoint service account": (
        put(((*SCORING, "serviceAccount"), "ghost")),
        [("E301", (*SCORING, "serviceAccount"))],
    ),
    "variant model": (
        put(((*SCORING, "variants", "green", "model"), "fraudd")),
        [("E301", (*SCORING, "variants", "green", "model"))],
    ),
    "variant version": (
        put(((*SCORING, "variants", "green", "version"), "v3")),
        [("E301", (*SCORING, "variants", "green", "version"))],
    ),
    "variant node pool": (
        put(((*SCORING, "variants", "green", "nodePool"), "gpu")),
        [("E301", (*SCORING, "variants", "green", "nodePool"))],
    ),
    "logging dataset": (
        put(((*SCORING, "logging", "dataset"), "request")),
        [("E301", (*SCORING, "logging", "dataset"))],
    ),
    "batch output bucket": (
        put((("batchJobs", "nightly", "output", "gcs"), "scores/daily/")),
        [("E301", ("batchJobs", "nightly", "output", "gcs"))],
    ),
    "batch version": (
        put((("batchJobs", "nightly", "version"), "v9")),
        [("E301", ("batchJobs", "nightly", "version"))],
    ),
    "monitor endpoint": (
        put((("monitors", "drift", "endpoint"), "score")),
        [("E301", ("monitors", "drift", "endpoint"))],
    ),
    "monitor baseline": (
        put((("monitors", "drift", "baseline", "dataset"), "training")),
        [("E301", ("monitors", "drift", "baseline", "dataset"))],
    ),
    "monitor notify": (
        put((("monitors", "drift", "actions", "notify"), ["on-call"])),
        [("E301", ("monitors", "drift", "actions", "notify", 0)), ("W301", ("alertChannels", "oncall"))],
    ),
    "monitor retrain": (
        put((("monitors", "drift", "actions", "retrain"), "retrain")),
        [("E301", ("monitors", "drift", "actions", "retrain"))],
    ),
    "trigger monitor": (
        put(((*TRAIN, "triggers"), [{"monitor": "drfit"}])),
        [("E301", (*TRAIN, "triggers", 0, "monitor"))],
    ),
    "trigger bucket": (
        put(((*TRAIN, "triggers"), [{"newData": {"bucket": "landing"}}])),
        [("E301", (*TRAIN, "triggers", 0, "newData", "bucket"))],
    ),
    "bucket kms key": (
        put((("data", "buckets", "raw", "kmsKey"), "other")),
        [("E301", ("data", "buckets", "raw", "kmsKey"))],
    ),
    "default kms key": (
        put((("security", "defaultKmsKey"), "mian")),
        [("E301", ("security", "defaultKmsKey")), ("W301", ("security", "kms", "main"))],
    ),
    "canary candidate": (put(((*ROLLOUT, "candidate"), "greeen")), [("E301", (*ROLLOUT, "candidate"))]),
    "ab weights variant": (
        put((ROLLOUT, {"strategy": "ab", "weights": {"blue": 50, "gren": 50}})),
        [("E301", (*ROLLOUT, "weights", "gren"))],
    ),
    "ab match variant": (
        put(
            (
                ROLLOUT,
                {
                    "strategy": "ab",
                    "weights": {"blue": 50, "green": 50},
                    "match": [{"header": "x-beta", "value": "1", "variant": "red"}],
                },
            )
        ),
        [("E301", (*ROLLOUT, "match", 0, "variant"))],
    ),
    "blue-green variant": (
        put((ROLLOUT, {"strategy": "blue-green", "blue": "blue", "green": "grene"})),
        [("E301", (*ROLLOUT, "green"))],
    ),
    "promotion from": (
        put((("environments", "prod", "promotion", "from"), "stage")),
        [("E308", ("environments", "prod", "promotion", "from"))],
    ),
    "promotion cycle": (
        put((("environments", "dev", "promotion"), {"from": "prod"})),
        [("E308", ("environments", "dev", "promotion", "from"))],
    ),
    "region override": (
        put((("environments", "prod", "regionOverrides"), {"asia-east1": {}})),
        [("E307", ("environments", "prod", "regionOverrides", "asia-east1"))],
    ),
    "unused model": (
        put(
            (
                ("models", "churn"),
                {"framework": "sklearn", "versions": {"v1": {"artifactUri": "gs://fraud-models/churn"}}},
            )
        ),
        [("W301", ("models", "churn"))],
    ),
    "unused gpu pool": (
        put((("accelerators", "gpu-t4"), {"type": "gpu", "accelerator": "nvidia-tesla-t4"})),
        [("W301", ("accelerators", "gpu-t4"))],
    ),
    "unused alert channel": (
        put((("alertChannels", "team"), {"type": "email", "address": "team@example.com"})),
        [("W301", ("alertChannels", "team"))],
    ),
}
