"""A small valid project for the semantic checks, and helpers that mutate and check it."""

from __future__ import annotations

import copy
import pathlib
from collections.abc import Callable
from typing import Any

from mlopsctl.config.checks import CheckContext, run_checks
from mlopsctl.config.diagnostics import Diagnostic
from mlopsctl.config.models import MLOpsConfig
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
                    "embed": {
                        "image": "us-docker.pkg.dev/acme/fraud/embedder:1.0",
                        "command": ["python", "embed.py"],
                        "inputs": {"examples": "ingest.examples"},
                        "resources": {"nodePool": "tpu-v5e", "accelerators": 4},
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
LONG_BUCKET = "raw-events-from-the-payment-gateway"

Case = tuple[Callable[[Doc], None], list[tuple[str, tuple[object, ...]]]]
