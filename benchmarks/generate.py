"""Generate a large, valid mlops.yaml for benchmarks.

    python benchmarks/generate.py --endpoints 200 --pipelines 40 --regions 3 --out /tmp/bench

The project has a `dev` environment in one region and a `prod` environment spanning the
first R regions of a fixed list. Every endpoint gets its own model; pipelines, buckets and
datasets grow with the pipeline count. The same arguments always give the same bytes.
"""

from __future__ import annotations

import argparse
import pathlib
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

# Regions that offer NVIDIA T4 GPUs, in the order prod spans them.
REGIONS = (
    "us-central1",
    "europe-west4",
    "us-east1",
    "asia-southeast1",
    "us-west1",
    "europe-west1",
    "asia-northeast1",
    "us-east4",
)
FRAMEWORKS = ("pytorch", "sklearn", "xgboost", "tensorflow")
"""Model frameworks in turn; each endpoint uses the runtime of the same name (the GPU ones PyTorch)."""
GPU_EVERY = 4
"""Every GPU_EVERY-th endpoint serves on the T4 pool; the others on CPU."""
MONITOR_EVERY = 10
"""Every MONITOR_EVERY-th endpoint gets a latency SLO."""

Doc = dict[str, Any]


def endpoint_name(i: int) -> str:
    return f"svc-{i:04d}"


def model_name(i: int) -> str:
    return f"model-{i:04d}"


def pipeline_name(j: int) -> str:
    return f"train-{j:03d}"


def _model(i: int) -> Doc:
    uri = f"gs://${{project}}-${{env}}-${{region}}-models/{model_name(i)}"
    return {
        "framework": FRAMEWORKS[i % len(FRAMEWORKS)],
        "description": f"Model behind {endpoint_name(i)}.",
        "versions": {"v1": {"artifactUri": f"{uri}/v1"}, "v2": {"artifactUri": f"{uri}/v2"}},
    }


def _variant(i: int, version: str) -> Doc:
    variant: Doc = {"model": model_name(i), "version": version, "minReplicas": 1, "maxReplicas": 3}
    if i % GPU_EVERY == 0:
        variant |= {"nodePool": "gpu-t4", "accelerators": 1, "memory": "8Gi"}
    else:
        variant |= {"nodePool": "cpu", "cpu": "1", "memory": "2Gi"}
    return variant


def _endpoint(i: int) -> Doc:
    """Cycles through a single variant, a canary and an A/B test."""
    endpoint: Doc = {
        "runtime": FRAMEWORKS[i % len(FRAMEWORKS)],
        "variants": {"stable": _variant(i, "v1")},
        "logging": {"dataset": "serving", "samplingRate": 0.1},
    }
    shape = i % 3
    if shape == 1:
        endpoint["variants"]["next"] = _variant(i, "v2")
        endpoint["rollout"] = {
            "strategy": "canary",
            "baseline": "stable",
            "candidate": "next",
            "steps": [10, 50, 100],
            "currentStep": 0,
        }
    elif shape == 2:
        endpoint["variants"]["next"] = _variant(i, "v2")
        endpoint["rollout"] = {"strategy": "ab", "weights": {"stable": 80, "next": 20}}
    return endpoint


def _steps(dataset: str, model: str) -> Doc:
    """ingest → transform → train → evaluate → push, wired through step outputs."""
    trainer = "us-docker.pkg.dev/acme-bench/trainers/tabular:1.0.0"
    return {
        "ingest": {
            "kind": "ingest",
            "source": {"bigquery": {"dataset": dataset, "table": "examples"}},
            "outputs": {"examples": "dataset"},
        },
        "transform": {
            "kind": "transform",
            "inputs": {"examples": "ingest.examples"},
            "outputs": {"transformed": "dataset"},
        },
        "train": {
            "kind": "train",
            "image": trainer,
            "command": ["python", "train.py"],
            "inputs": {"examples": "transform.transformed"},
            "outputs": {"model": "model"},
            "resources": {"cpu": "4", "memory": "16Gi"},
        },
        "evaluate": {
            "kind": "evaluate",
            "inputs": {"model": "train.model", "examples": "transform.transformed"},
            "outputs": {"metrics": "metrics", "blessed": "boolean"},
            "thresholds": {"auc_roc": {"min": 0.8}},
        },
        "push": {
            "kind": "push",
            "model": model,
            "inputs": {"model": "train.model"},
            "when": {"output": "evaluate.blessed", "value": True},
        },
    }


def _pipeline(j: int, endpoints: int) -> Doc:
    dataset, model = f"source-{j:03d}", model_name(j % endpoints)
    return {
        "description": f"Retrains {model} from {dataset}.",
        "nodePool": "cpu",
        "steps": _steps(dataset, model),
        "schedule": {"cron": f"{j % 60} {j % 24} * * *"},
        "triggers": [{"newData": {"bucket": f"landing-{j:03d}", "prefix": "incoming/"}}],
    }


def _source_table() -> Doc:
    return {
        "schema": [
            {"name": "event_time", "type": "TIMESTAMP", "mode": "REQUIRED"},
            {"name": "entity_id", "type": "STRING", "mode": "REQUIRED"},
            {"name": "score", "type": "FLOAT64"},
            {"name": "label", "type": "BOOL"},
        ],
        "partitioning": {"type": "DAY", "field": "event_time"},
        "clustering": ["entity_id"],
    }


def _data(pipelines: int) -> Doc:
    buckets: Doc = {"models": {"lifecycle": {"keepVersions": 5}}}
    buckets |= {f"landing-{j:03d}": {"lifecycle": {"deleteAfterDays": 30}} for j in range(pipelines)}
    datasets: Doc = {"serving": {"description": "Request logs of every endpoint."}}
    datasets |= {f"source-{j:03d}": {"tables": {"examples": _source_table()}} for j in range(pipelines)}
    return {"buckets": buckets, "datasets": datasets}


def _monitors(endpoints: int) -> Doc:
    return {
        f"{endpoint_name(i)}-latency": {
            "type": "latency",
            "endpoint": endpoint_name(i),
            "objective": 200,
            "actions": {"notify": ["oncall"]},
        }
        for i in range(0, endpoints, MONITOR_EVERY)
    }


def build(endpoints: int, pipelines: int, regions: int) -> Doc:
    """The whole document as plain data, camelCase keys."""
    if endpoints < 1 or pipelines < 0 or not 1 <= regions <= len(REGIONS):
        raise ValueError(f"need endpoints >= 1, pipelines >= 0 and 1 <= regions <= {len(REGIONS)}")
    return {
        "apiVersion": "mlopsctl.dev/v1alpha1",
        "kind": "MLOpsProject",
        "project": {
            "name": "bench",
            "description": f"{endpoints} endpoints, {pipelines} pipelines",
            "owner": "platform@acme.example",
            "stageImage": "us-docker.pkg.dev/acme-bench/stages/stages:1.0.0",
        },
        "environments": {
            "dev": {"gcpProject": "acme-bench-dev", "regions": [REGIONS[0]]},
            "prod": {
                "gcpProject": "acme-bench-prod",
                "regions": list(REGIONS[:regions]),
                "promotion": {"from": "dev", "soak": "24h"},
                "overrides": {
                    "accelerators": {
                        "cpu": {"autoscaling": {"minNodes": 2, "maxNodes": 50}},
                        "gpu-t4": {"spot": False},
                    }
                },
            },
        },
        "data": _data(pipelines),
        "accelerators": {
            "cpu": {
                "type": "cpu",
                "machineType": "n2-standard-8",
                "autoscaling": {"minNodes": 1, "maxNodes": 10},
            },
            "gpu-t4": {
                "type": "gpu",
                "accelerator": "nvidia-tesla-t4",
                "count": 1,
                "spot": True,
                "autoscaling": {"minNodes": 0, "maxNodes": 10},
            },
        },
        "pipelines": {pipeline_name(j): _pipeline(j, endpoints) for j in range(pipelines)},
        "models": {model_name(i): _model(i) for i in range(endpoints)},
        "endpoints": {endpoint_name(i): _endpoint(i) for i in range(endpoints)},
        "monitors": _monitors(endpoints),
        "alertChannels": {"oncall": {"type": "email", "address": "oncall@acme.example"}},
    }


def write(out: pathlib.Path, endpoints: int, pipelines: int, regions: int) -> pathlib.Path:
    """Write ``out/mlops.yaml`` and return its path."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "mlops.yaml"
    yaml = YAML()  # round-trip dumper: keeps key order
    yaml.width = 120
    yaml.indent(mapping=2, sequence=4, offset=2)
    with path.open("w", encoding="utf-8") as stream:
        yaml.dump(_compact(build(endpoints, pipelines, regions)), stream)
    return path


def _compact(value: Any, depth: int = 0) -> Any:
    """Block style, but below the top two levels a list of scalars, or a mapping of more than two,
    on one line, as people write them: so that 1,000 endpoints stay under the 1 MiB that mlopsctl
    reads."""
    if isinstance(value, dict):
        found: Any = CommentedMap((k, _compact(v, depth + 1)) for k, v in value.items())
    elif isinstance(value, list):
        found = CommentedSeq(_compact(v, depth + 1) for v in value)
    else:
        return value
    items = list(value.values() if isinstance(value, dict) else value)
    if (
        depth >= 2
        and not any(isinstance(v, dict | list) for v in items)
        and (isinstance(value, list) or len(items) > 2)
    ):
        found.fa.set_flow_style()
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--endpoints", type=int, required=True)
    parser.add_argument("--pipelines", type=int, required=True)
    parser.add_argument("--regions", type=int, default=2, help=f"prod regions, 1 to {len(REGIONS)}")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="folder to write mlops.yaml into")
    args = parser.parse_args(argv)
    try:
        path = write(args.out, args.endpoints, args.pipelines, args.regions)
    except ValueError as exc:
        parser.error(str(exc))
    print(path)


if __name__ == "__main__":
    main()
