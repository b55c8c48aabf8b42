"""Semantic checks: a small valid project, and one mistake at a time."""

from __future__ import annotations

import copy
import pathlib
from collections.abc import Callable
from typing import Any

import pytest
from helpers import write

from mlopsctl.api import validate
from mlopsctl.config.checks import CheckContext, run_checks
from mlopsctl.config.checks.names import bucket_name_problem, dns_label_problem
from mlopsctl.config.diagnostics import Diagnostic, Severity
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target

Doc = dict[str, Any]
DELETE = object()


def base_config() -> Doc:
    """A small but complete project that passes every check in both environments."""
    return {
        "apiVersion": "mlopsctl.dev/v1alpha1",
        "kind": "MLOpsProject",
        "project": {
            "name": "fraud",
            "owner": "risk-ml@acme.example",
            "stageImage": "us-docker.pkg.dev/acme/fraud/stages:1.0",
        },
        "environments": {
            "dev": {"gcpProject": "fraud-dev-1234", "regions": ["us-central1"]},
            "prod": {
                "gcpProject": "fraud-prod-1234",
                "regions": ["us-central1", "europe-west4"],
                "promotion": {"from": "dev", "soak": "1h"},
                "regionOverrides": {"europe-west4": {}},
            },
        },
        "data": {
            "buckets": {"raw": {}},
            "datasets": {"features": {}, "requests": {}},
        },
        "accelerators": {
            "cpu": {"type": "cpu"},
            "gpu-l4": {"type": "gpu", "accelerator": "nvidia-l4", "count": 1},
            "tpu-v5e": {"type": "tpu", "version": "v5e", "topology": "2x2"},
        },
        "pipelines": {
            "train": {
                "nodePool": "cpu",
                "serviceAccount": "trainer",
                "schedule": {"cron": "0 3 * * *"},
                "triggers": [{"monitor": "drift"}],
                "steps": {
                    "ingest": {
                        "kind": "ingest",
                        "source": {"bigquery": {"dataset": "features", "table": "tx"}},
                        "outputs": {"examples": "dataset"},
                    },
                    "train": {
                        "kind": "train",
                        "image": "us-docker.pkg.dev/acme/fraud/trainer:1.0",
                        "command": ["python", "train.py"],
                        "inputs": {"examples": "ingest.examples", "epochs": 3},
                        "outputs": {"model": "model", "auc": "float"},
                        "resources": {"nodePool": "gpu-l4", "accelerators": 1},
                    },
                    "evaluate": {
                        "kind": "evaluate",
                        "inputs": {"model": "train.model", "examples": "ingest.examples"},
                        "thresholds": {"auc_roc": {"min": 0.9}},
                    },
                    "push": {
                        "kind": "push",
                        "model": "fraud",
                        "inputs": {"model": "train.model"},
                        "dependsOn": ["evaluate"],
                        "when": {"output": "train.auc", "operator": ">=", "value": 0.9},
                    },
                },
            },
        },
        "models": {
            "fraud": {
                "framework": "xgboost",
                "versions": {
                    "v1": {"artifactUri": "gs://fraud-models/v1"},
                    "v2": {"artifactUri": "gs://fraud-models/v2"},
                },
            },
        },
        "endpoints": {
            "scoring": {
                "serviceAccount": "scorer",
                "variants": {
                    "blue": {"model": "fraud", "version": "v1"},
                    "green": {"model": "fraud", "version": "v2"},
                },
                "rollout": {
                    "strategy": "canary",
                    "baseline": "blue",
                    "candidate": "green",
                    "steps": [10, 50, 100],
                    "currentStep": 1,
                },
                "logging": {"dataset": "requests"},
            },
        },
        "batchJobs": {
            "nightly": {
                "model": "fraud",
                "version": "v1",
                "input": {"bigquery": {"dataset": "features", "table": "tx"}},
                "output": {"gcs": "raw/scores/"},
                "nodePool": "tpu-v5e",
            },
        },
        "monitors": {
            "drift": {
                "type": "drift",
                "endpoint": "scoring",
                "baseline": {"dataset": "features", "table": "tx"},
                "features": {"amount": {"kind": "numeric"}},
                "schedule": {"cron": "0 * * * *"},
                "actions": {"notify": ["oncall"], "retrain": "train"},
            },
        },
        "alertChannels": {"oncall": {"type": "email", "address": "ml@example.com"}},
        "security": {
            "serviceAccounts": {"trainer": {}, "scorer": {}},
            "kms": {"main": {}},
            "defaultKmsKey": "main",
        },
    }


def diagnose(doc: Doc, env: str = "prod", region: str = "us-central1") -> list[Diagnostic]:
    config = MLOpsConfig.model_validate(doc)
    return run_checks(CheckContext(config, Target(env, region), pathlib.Path(".")))


def found(doc: Doc, env: str = "prod", region: str = "us-central1") -> list[tuple[str, tuple[object, ...]]]:
    return sorted((d.code, d.path) for d in diagnose(doc, env, region))


def put(*changes: tuple[tuple[str, ...], object]) -> Callable[[Doc], None]:
    """A mutation setting (or, with DELETE, removing) values at document paths."""

    def mutate(doc: Doc) -> None:
        for path, value in changes:
            parent = doc
            for key in path[:-1]:
                parent = parent.setdefault(key, {})
            if value is DELETE:
                del parent[path[-1]]
            else:
                parent[path[-1]] = copy.deepcopy(value)

    return mutate


TRAIN = ("pipelines", "train")
STEPS = ("pipelines", "train", "steps")
SCORING = ("endpoints", "scoring")
ROLLOUT = ("endpoints", "scoring", "rollout")
GPU = ("accelerators", "gpu-l4")
TPU = ("accelerators", "tpu-v5e")
LONG_VARIANT = "a-candidate-variant-with-a-very-long-name"[:40]
LONG_PIPELINE = "nightly-retraining-of-the-fraud-detector"
LONG_BUCKET = "raw-events-from-the-payment-gateway"

Case = tuple[Callable[[Doc], None], list[tuple[str, tuple[object, ...]]]]

CASES: dict[str, Case] = {
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
    # names
    "bucket uppercase": (
        put((("data", "buckets", "raw", "name"), "Fraud-Raw")),
        [("E304", ("data", "buckets", "raw", "name"))],
    ),
    "bucket google": (
        put((("data", "buckets", "raw", "name"), "my-google-data")),
        [("E304", ("data", "buckets", "raw", "name"))],
    ),
    "bucket ip address": (
        put((("data", "buckets", "raw", "name"), "192.168.1.1")),
        [("E304", ("data", "buckets", "raw", "name"))],
    ),
    "bucket too long": (
        put((("data", "buckets", "raw", "name"), "b" * 64)),
        [("E404", ("data", "buckets", "raw", "name"))],
    ),
    "generated bucket too long": (
        put((("project", "name"), "fraud-detection-platform"), (("data", "buckets", LONG_BUCKET), {})),
        [("E404", ("data", "buckets", LONG_BUCKET))],
    ),
    "bucket name clash": (
        put((("data", "buckets", "copy"), {"name": "fraud-prod-us-central1-raw"})),
        [("E310", ("data", "buckets", "copy", "name"))],
    ),
    "dataset id": (
        put((("data", "datasets", "features", "datasetId"), "features-prod")),
        [("E304", ("data", "datasets", "features", "datasetId"))],
    ),
    "dataset id clash": (
        put(
            (("data", "datasets", "features", "datasetId"), "events"),
            (("data", "datasets", "requests", "datasetId"), "events"),
        ),
        [("E310", ("data", "datasets", "requests", "datasetId"))],
    ),
    "inference service name": (
        put(
            ((*SCORING, "variants", LONG_VARIANT), {"model": "fraud", "version": "v2"}),
            ((*SCORING, "variants", "green"), DELETE),
            ((*ROLLOUT, "candidate"), LONG_VARIANT),
        ),
        [("E404", (*SCORING, "variants", LONG_VARIANT))],
    ),
    "training job name": (
        put(
            (
                ("pipelines", LONG_PIPELINE),
                {
                    "steps": {
                        "train-distributed-model": {
                            "kind": "train",
                            "image": "trainer:1",
                            "command": ["python", "train.py"],
                            "distributed": {"framework": "pytorch", "workers": 4},
                        }
                    }
                },
            )
        ),
        [("E404", ("pipelines", LONG_PIPELINE, "steps", "train-distributed-model"))],
    ),
    "project id": (
        put((("environments", "prod", "gcpProject"), "google-fraud-prod")),
        [("E304", ("environments", "prod", "gcpProject"))],
    ),
    # cloud limits
    "zone of another region": (put(((*GPU, "zones"), ["us-east1-b"])), [("E401", (*GPU, "zones", 0))]),
    "zone without the gpu": (put(((*GPU, "zones"), ["us-central1-f"])), [("E401", (*GPU, "zones", 0))]),
    "cpu pool zone": (
        put((("accelerators", "cpu", "zones"), ["us-central1-z"])),
        [("E401", ("accelerators", "cpu", "zones", 0))],
    ),
    "gpu machine type": (put(((*GPU, "machineType"), "n1-standard-4")), [("E402", (*GPU, "machineType"))]),
    "gpu count for machine type": (
        put(((*GPU, "machineType"), "g2-standard-4"), ((*GPU, "count"), 2)),
        [("E402", (*GPU, "count"))],
    ),
    "gpu count": (put(((*GPU, "count"), 3)), [("E402", (*GPU, "count"))]),
    "tpu version not in region": (
        put(((*TPU, "version"), "v4"), ((*TPU, "topology"), "2x2x1")),
        [("E401", (*TPU, "version"))],
    ),
    "tpu zone": (put(((*TPU, "zones"), ["us-central1-b"])), [("E401", (*TPU, "zones", 0))]),
    "tpu topology": (put(((*TPU, "topology"), "3x3")), [("E403", (*TPU, "topology"))]),
    "tpu machine type": (put(((*TPU, "machineType"), "ct5lp-hightpu-8t")), [("E402", (*TPU, "machineType"))]),
    "step gpus per node": (
        put(((*STEPS, "train", "resources", "accelerators"), 2)),
        [("E402", (*STEPS, "train", "resources", "accelerators"))],
    ),
    "variant on cpu pool": (
        put(
            ((*SCORING, "variants", "blue", "nodePool"), "cpu"),
            ((*SCORING, "variants", "blue", "accelerators"), 1),
        ),
        [("E402", (*SCORING, "variants", "blue", "accelerators"))],
    ),
    "variant without pool": (
        put(((*SCORING, "variants", "blue", "accelerators"), 1)),
        [("E402", (*SCORING, "variants", "blue", "accelerators"))],
    ),
    "batch tpu chips per node": (
        put((("batchJobs", "nightly", "accelerators"), 8)),
        [
            ("E205", ("batchJobs", "nightly", "accelerators")),  # it only calls the endpoint
            ("E402", ("batchJobs", "nightly", "accelerators")),
        ],
    ),
    "gpu machine type of another family": (
        put(((*GPU, "machineType"), "a2-highgpu-1g")),
        [("E402", (*GPU, "machineType"))],
    ),
    "multi-host tpu slice in two zones": (
        put(
            ((*TPU, "topology"), "2x4"),
            ((*TPU, "machineType"), "ct5lp-hightpu-4t"),
            ((*TPU, "zones"), ["us-central1-a", "us-central1-a"]),
        ),
        [("E403", (*TPU, "zones"))],
    ),
    "cluster name": (
        put((("project", "name"), "fraud-detection-for-card-payments-ab")),
        [("E404", ("project", "name")), ("E404", ("project", "name"))],  # and the pipeline root bucket
    ),
    "pool named like the system pool": (
        put((("accelerators", "system"), {"type": "cpu", "spot": True})),
        [("E310", ("accelerators", "system"))],
    ),
    "cmek registry key location": (
        put((("security", "kms", "main", "location"), "europe-west4")),
        [
            ("E405", ("data", "buckets", "raw")),
            ("E405", ("data", "datasets", "features")),
            ("E405", ("data", "datasets", "requests")),
            ("E405", ("security", "defaultKmsKey")),
        ],
    ),
    "cmek key location": (
        put(
            (("data", "buckets", "raw", "kmsKey"), "eu"),
            (("security", "kms", "eu"), {"location": "europe-west4"}),
        ),
        [("E405", ("data", "buckets", "raw", "kmsKey"))],
    ),
    "cmek default key location": (
        put(
            (("data", "datasets", "features", "location"), "EU"),
            (("security", "kms", "main", "location"), "US"),
        ),
        [
            ("E405", ("data", "datasets", "features")),
            ("E405", ("data", "datasets", "requests")),
            ("E405", ("data", "buckets", "raw")),
            ("E405", ("security", "defaultKmsKey")),
        ],
    ),
    "cmek existing key": (
        put((("security", "kms", "main", "key"), "projects/p/locations/us-east1/keyRings/r/cryptoKeys/k")),
        [
            ("E405", ("data", "buckets", "raw")),
            ("E405", ("data", "datasets", "features")),
            ("E405", ("data", "datasets", "requests")),
            ("E405", ("security", "defaultKmsKey")),
        ],
    ),
    # serving
    "inference graph over gRPC": (
        put(
            (
                ("endpoints", "triage"),
                {
                    "protocols": ["http", "grpc"],
                    "graph": {
                        "steps": {
                            "first": {"model": "fraud", "version": "v1"},
                            "second": {"model": "fraud", "version": "v1"},
                        }
                    },
                },
            )
        ),
        [("E204", ("endpoints", "triage", "protocols"))],
    ),
    "runtime without the model's format": (
        put(((*SCORING, "runtime"), "triton")),
        [("E204", (*SCORING, "runtime"))],
    ),
    "protocol the runtime does not serve": (
        put(
            ((*SCORING, "runtime"), "triton"),
            (("models", "fraud", "framework"), "onnx"),
            ((*SCORING, "protocolVersion"), "v1"),
        ),
        [("E204", (*SCORING, "protocolVersion"))],
    ),
    "grpc only in a version its grpc does not serve": (
        put(((*SCORING, "protocols"), ["grpc"])),
        [
            ("E204", (*SCORING, "logging")),
            ("E204", (*SCORING, "protocols")),
            ("E301", ("batchJobs", "nightly", "version")),
        ],
    ),
}


@pytest.mark.parametrize(
    "env, region", [("prod", "us-central1"), ("prod", "europe-west4"), ("dev", "us-central1")]
)
def test_base_config_is_clean(env: str, region: str) -> None:
    assert diagnose(base_config(), env, region) == []


@pytest.mark.parametrize("name", list(CASES))
def test_mistake_is_reported(name: str) -> None:
    mutate, expected = CASES[name]
    doc = base_config()
    mutate(doc)
    assert found(doc) == sorted(expected)


@pytest.mark.parametrize(
    ("region", "pools", "hint"),
    [
        ("us-centrl1", True, "did you mean 'us-central1'?"),
        ("us-centrall1", False, "did you mean 'us-central1'?"),
        ("eurpoe-west4", False, "did you mean 'europe-west4'?"),
        ("europe-west2", True, "list the zones of europe-west2 that offer the accelerators of node pools "),
        ("europe-west2", False, "if the region is intended, nothing needs to change"),
        ("asia-south1", False, "if the region is intended, nothing needs to change"),
        ("me-west1", False, "if the region is intended, nothing needs to change"),
        ("us-east5", True, "list the zones of us-east5 that offer the accelerators of node pools "),
    ],
)
def test_region_outside_the_catalog(region: str, pools: bool, hint: str) -> None:
    """A catalog cannot be complete: a warning naming its date; a suggestion for a likely typo."""
    doc = base_config()
    doc["environments"]["prod"]["regions"] = ["us-central1", "europe-west4", region]
    if not pools:
        for section in ("accelerators", "batchJobs"):
            del doc[section]
        for step in doc["pipelines"]["train"]["steps"].values():
            step.pop("resources", None)
        del doc["pipelines"]["train"]["nodePool"]
    (diag,) = diagnose(doc, "prod", region)
    assert (diag.code, diag.path) == ("W401", ("environments", "prod", "regions", 2))
    assert diag.severity is Severity.WARNING
    assert diag.hint is not None and diag.hint.startswith(hint)
    assert f"region '{region}' is not in the accelerator catalog of " in diag.message


@pytest.mark.parametrize(
    ("output_type", "operator", "value"),
    [
        ("float", ">=", 1),
        ("float", "<", 0.5),
        ("integer", "!=", 0),
        ("boolean", "==", True),
        ("string", "==", "ok"),
    ],
)
def test_condition_matching_the_output_type_is_accepted(
    output_type: str, operator: str, value: object
) -> None:
    doc = base_config()
    doc["pipelines"]["train"]["steps"]["train"]["outputs"]["auc"] = output_type
    doc["pipelines"]["train"]["steps"]["push"]["when"] = {
        "output": "train.auc",
        "operator": operator,
        "value": value,
    }
    assert diagnose(doc) == []


def test_gpu_missing_from_region_lists_regions_that_offer_it() -> None:
    doc = base_config()
    doc["environments"]["dev"]["regions"] = ["us-west1"]
    doc["accelerators"]["gpu-l4"]["accelerator"] = "nvidia-a100-80gb"
    (diag,) = diagnose(doc, "dev", "us-west1")
    assert (diag.code, diag.path) == ("E401", ("accelerators", "gpu-l4", "accelerator"))
    assert diag.hint is not None and "us-central1" in diag.hint and "us-west1" not in diag.hint


def test_zone_hint_lists_zones_that_offer_the_gpu() -> None:
    doc = base_config()
    doc["accelerators"]["gpu-l4"]["zones"] = ["us-central1-f"]
    (diag,) = diagnose(doc)
    assert diag.hint == "zones of us-central1 that offer it: us-central1-a, us-central1-b, us-central1-c"


def test_cycle_is_listed_in_order() -> None:
    doc = base_config()
    doc["pipelines"]["train"]["steps"]["ingest"]["dependsOn"] = ["push"]
    assert [d.message.rpartition(": ")[2] for d in diagnose(doc)] == [
        "ingest → push → train → ingest",
        "ingest → push → evaluate → ingest",
    ]


def test_promotion_cycle_is_listed_in_promotion_order() -> None:
    doc = base_config()
    doc["environments"]["dev"]["promotion"] = {"from": "prod"}
    (diag,) = diagnose(doc)
    assert diag.message.endswith("dev → prod → dev")


def test_unknown_name_hint_suggests_the_closest() -> None:
    doc = base_config()
    doc["pipelines"]["train"]["serviceAccount"] = "traner"
    (diag,) = diagnose(doc)
    assert diag.message == "service account 'traner' is not declared under security.serviceAccounts"
    assert diag.hint == "did you mean 'trainer'?"


def test_runtime_hint_names_runtimes_that_serve_the_format() -> None:
    doc = base_config()
    put(((*SCORING, "runtime"), "sklearn"))(doc)
    [diagnostic] = diagnose(doc)
    assert (
        diagnostic.message
        == "runtime 'sklearn' of endpoint 'scoring' cannot serve model 'fraud': it is a xgboost model"
    )
    assert diagnostic.hint == "use runtime xgboost, or leave 'runtime' out to default to one"


def test_unused_declarations_are_warnings() -> None:
    doc = base_config()
    doc["alertChannels"]["team"] = {"type": "email", "address": "team@example.com"}
    (diag,) = diagnose(doc)
    assert diag.severity is Severity.WARNING


def test_inference_service_hint_explains_the_limit() -> None:
    mutate, _ = CASES["inference service name"]
    doc = base_config()
    mutate(doc)
    (diag,) = diagnose(doc)
    assert diag.hint is not None and "KServe" in diag.hint and "63" in diag.hint


@pytest.mark.parametrize(
    "name, code",
    [
        ("my-bucket", None),
        ("data.example.com", None),
        ("ab", "E304"),
        ("-bucket", "E304"),
        ("bucket-", "E304"),
        ("my..bucket", "E304"),
        ("goog-data", "E304"),
        ("10.0.0.1", "E304"),
        ("a" * 63, None),
        ("a" * 64, "E404"),
        (".".join(["a" * 63] * 3), None),
        (".".join(["a" * 64, "b"]), "E404"),
    ],
)
def test_bucket_name_rules(name: str, code: str | None) -> None:
    problem = bucket_name_problem(name)
    assert (problem[0] if problem else None) == code


@pytest.mark.parametrize(
    "name, limit, code",
    [("fraud", 63, None), ("a" * 46, 45, "E404"), ("Fraud", 63, "E304"), ("fraud-", 63, "E304")],
)
def test_dns_label_rules(name: str, limit: int, code: str | None) -> None:
    problem = dns_label_problem(name, limit)
    assert (problem[0] if problem else None) == code


POOLS = """\
apiVersion: mlopsctl.dev/v1alpha1
kind: MLOpsProject
project:
  name: vision
environments:
  prod:
    gcpProject: acme-vision-prod
    regions: [us-central1]
accelerators:
  l4:
    type: gpu
    accelerator: nvidia-l4
    count: 1
    machineType: g2-standard-8
  v5e:
    type: tpu
    version: v5e
    topology: 2x4
    machineType: ct5lp-hightpu-4t
    zones: [us-central1-a]
security:
  kms:
    main: {}
  defaultKmsKey: main
"""


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # A GPU machine type of another family: n1 cannot carry L4s.
        ("machineType: g2-standard-8", "machineType: n1-standard-8", "mlops.yaml:14:18: error E402"),
        ("count: 1", "count: 3", "mlops.yaml:13:12: error E402"),
        # A GPU pool in a zone that does not offer its GPU.
        (
            "machineType: g2-standard-8\n",
            "machineType: g2-standard-8\n    zones: [us-central1-f]\n",
            "mlops.yaml:15:13: error E401",
        ),
        ("topology: 2x4", "topology: 3x3", "mlops.yaml:18:15: error E403"),
        # A TPU pool in a zone that does not offer it.
        ("[us-central1-a]", "[us-central1-c]", "mlops.yaml:20:13: error E401"),
        # A multi-host slice across zones.
        ("[us-central1-a]", "[us-central1-a, us-central1-a]", "mlops.yaml:20:12: error E403"),
        # The cluster name: vision-of-a-very-large-retail-chain-prod-usc1 is 45 characters.
        ("name: vision", "name: vision-of-a-very-large-retail-chain", "mlops.yaml:4:9: error E404"),
        ("main: {}", "main: {location: us-east1}", "mlops.yaml:24:18: error E405"),
        ("  l4:\n", "  system:\n", "mlops.yaml:11:5: error E310"),
    ],
)
def test_pool_mistakes_point_at_their_line_and_column(
    tmp_path: pathlib.Path, old: str, new: str, expected: str
) -> None:
    assert old in POOLS
    path = write(tmp_path, POOLS.replace(old, new))
    diagnostics = validate(ConfigSource(path, "mlops.yaml", None)).diagnostics
    errors = [d.to_text() for d in diagnostics if d.severity is Severity.ERROR]
    assert [e.split(":", 4)[:4] for e in errors] == [expected.split(":")], errors


def test_pools_for_the_positioned_mistakes_are_valid(tmp_path: pathlib.Path) -> None:
    diagnostics = validate(ConfigSource(write(tmp_path, POOLS), "mlops.yaml", None)).diagnostics
    assert [d.code for d in diagnostics] == ["W301", "W301"]  # the pools are not used
