"""Every feature of the language, used at least once, validates; and its constraints hold."""

from __future__ import annotations

import json
import pathlib

import pytest
from helpers import write

from mlopsctl.api import compile_graphs, validate
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target

EVERYTHING = """\
apiVersion: mlopsctl.dev/v1alpha1
kind: MLOpsProject
project: {name: full, owner: ml@acme.example, stageImage: us-docker.pkg.dev/acme/full/stages:1.0}
environments:
  dev: {gcpProject: acme-full-dev, regions: [us-central1]}
data:
  buckets:
    raw: {storageClass: NEARLINE, retention: 7d, versioning: false, lifecycle: {deleteAfterDays: 365}}
    history: {lifecycle: {keepVersions: 3}}
  datasets:
    logs:
      defaultTableExpiration: 90d
      tables:
        events: {schema: [{name: ts, type: TIMESTAMP, mode: REQUIRED}], partitioning: {field: ts}}
  external:
    census: {uri: "https://data.example.org/census.csv", format: CSV}
accelerators:
  cpu: {type: cpu, machineType: n2-standard-8}
  gpu: {type: gpu, accelerator: nvidia-l4, count: 1, timeSharing: {maxSharedClientsPerGpu: 2}}
  tpu: {type: tpu, version: v5e, topology: 2x4}
pipelines:
  train:
    parameters: {epochs: 3, optimizer: adam}
    steps:
      ingest:
        kind: ingest
        source: {external: census}
        label: label
        split: {eval: 0.1, seed: 7}
        cache: true
        outputs: {examples: dataset}
      drops:
        kind: ingest
        source: {gcs: raw/drops/, format: jsonl}
        outputs: {examples: dataset}
      listing:
        image: us-docker.pkg.dev/acme/full/shard:1.0
        command: [python, -m, listing]
        inputs: {data: drops.examples}
        outputs: {shards: list}
      shard:
        image: us-docker.pkg.dev/acme/full/shard:1.0
        command: [python, -m, shard]
        code: shard
        parallelFor: {fromOutput: listing.shards, parallelism: 2}
      prepare:
        kind: transform
        inputs: {examples: ingest.examples}
        outputs: {transformed: dataset}
        transforms:
          age: {type: bucketize, boundaries: [18, 65]}
          income: {type: fill, value: 0}
          city: {type: onehot}
      fit:
        kind: train
        image: us-docker.pkg.dev/acme/full/trainer:1.0
        command: [python, train.py]
        inputs: {data: prepare.transformed, epochs: params.epochs}
        outputs: {model: model}
        distributed: {framework: pytorch, workers: 2}
        resources: {nodePool: tpu, accelerators: 4}
        env: {LOG_LEVEL: info}
        secrets: {WANDB_KEY: projects/acme-full-dev/secrets/wandb/versions/2}
      tune:
        kind: tune
        image: us-docker.pkg.dev/acme/full/trainer:1.0
        command: [python, trial.py]
        inputs: {data: ingest.examples, optimizer: params.optimizer}
        outputs: {best: artifact}
        tuning:
          searchSpace:
            lr: {type: double, min: 0.0001, max: 0.1, scale: log}
            depth: {type: int, min: 2, max: 8}
            opt: {type: categorical, values: [adam, sgd]}
          objective: {metric: auc, goal: maximize}
          algorithm: tpe
      evaluate:
        kind: evaluate
        inputs: {model: fit.model, examples: prepare.transformed}
        outputs: {auc_roc: float}
        label: label
        thresholds: {auc_roc: {min: 0.8}}
      push:
        kind: push
        model: tf-model
        inputs: {model: fit.model}
        when: {output: evaluate.auc_roc, operator: ">=", value: 0.8}
models:
  tf-model: {framework: tensorflow, versions: {v1: {artifactUri: gs://acme-models/tf/1}}}
  hf-model: {framework: huggingface, versions: {v1: {artifactUri: gs://acme-models/hf/1}}}
  scorer: {framework: sklearn, versions: {v1: {artifactUri: gs://acme-models/sk/1}}}
endpoints:
  chat:
    graph:
      steps:
        embed: {model: hf-model, version: v1, nodePool: gpu, accelerators: 1}
        rank: {model: scorer, version: v1}
  gated:
    variants:
      stable: {model: tf-model, version: v1, autoscaling: {metric: rps, target: 50}}
      next: {model: tf-model, version: v1}
    rollout:
      strategy: canary
      baseline: stable
      candidate: next
      steps: [10, 50, 100]
      analysis: {interval: 2m, maxFailedChecks: 3, minSuccessRate: 99.5, maxLatencyMs: 300}
    logging: {dataset: logs}
  mirror:
    variants:
      live: {model: scorer, version: v1}
      dark: {model: scorer, version: v1}
    rollout: {strategy: shadow, primary: live, shadow: dark, mirrorPercent: 25}
    callers: [frontend, frontend/web]
  colours:
    variants:
      blue: {model: scorer, version: v1}
      green: {model: scorer, version: v1}
    rollout: {strategy: blue-green, blue: blue, green: green, active: green}
batchJobs:
  nightly:
    model: scorer
    version: v1
    input: {bigquery: {dataset: logs, table: events}}
    output: {gcs: raw/scores/}
    schedule: {cron: "0 1 * * *"}
monitors:
  up: {type: availability, endpoint: gated, objective: 99.9, actions: {notify: [pager]}}
  shift:
    type: drift
    endpoint: gated
    baseline: {dataset: logs, table: events}
    features: {ts: {kind: numeric}}
    schedule: {cron: "0 5 * * *"}
    actions: {notify: [pager], retrain: train, retrainParameters: {epochs: 5}}
alertChannels:
  pager: {type: pagerduty, secret: pagerduty-key}
security:
  serviceAccounts:
    shared: {description: extra identity, roles: [roles/logging.logWriter]}
  network:
    privateCluster: true
    authorizedNetworks: [{name: office, cidr: 203.0.113.0/24}]
  mtls: PERMISSIVE
"""


def _write(tmp_path: pathlib.Path, text: str) -> pathlib.Path:
    """mlops.yaml with the code folder it names."""
    (tmp_path / "shard").mkdir(exist_ok=True)
    return write(tmp_path, text)


def _diagnostics(tmp_path: pathlib.Path, text: str) -> list[tuple[str, str]]:
    validation = validate(ConfigSource(_write(tmp_path, text), "mlops.yaml", None))
    return [(d.code, d.to_text()) for d in validation.diagnostics]


def test_every_feature_validates_and_compiles(tmp_path: pathlib.Path) -> None:
    validation = validate(ConfigSource(_write(tmp_path, EVERYTHING), "mlops.yaml", None))
    assert [d.to_text() for d in validation.diagnostics] == []
    graph = compile_graphs(validation)[Target("dev", "us-central1")]
    [version] = [
        r
        for r in graph
        if r.type.endswith(":PipelineVersion")
        and r.inputs["metadata"]["labels"]["app.kubernetes.io/component"] == "pipeline"
    ]
    executors = version.inputs["spec"]["pipelineSpec"]["deploymentSpec"]["executors"]
    assert executors["exec-shard"]["container"]["command"] == ["python", "-m", "shard"]
    ingest_args = executors["exec-ingest"]["container"]["args"]
    assert json.loads(ingest_args[ingest_args.index("--config") + 1]) == {
        "source": {"uri": "https://data.example.org/census.csv", "format": "csv"},
        "split": {"eval": 0.1, "seed": 7},
        "label": "label",
    }


@pytest.mark.parametrize(
    ("old", "new", "code", "fragment"),
    [
        ("mirrorPercent: 25", "mirrorPercent: 125", "E205", "less than or equal to 100"),
        ("objective: 99.9", "objective: 199.9", "E205", "is a percentage"),
        ("cidr: 203.0.113.0/24", "cidr: 203.0.113.0", "E205", "an IPv4 CIDR block"),
        ("mtls: PERMISSIVE", "mtls: PERMISIVE", "E204", "did you mean 'PERMISSIVE'?"),
        ("embed: {model: hf-model", "embed: {model: hf-modle", "E301", "hf-modle"),
        ("active: green", "active: red", "E204", "use one of: blue, green"),
        ("maxFailedChecks: 3", "maxFailedChecks: 0", "E205", "greater than or equal to 1"),
        (
            "{type: double, min: 0.0001, max: 0.1",
            "{type: double, min: 0.1, max: 0.0001",
            "E205",
            "must be less",
        ),
        ("roles: [roles/logging.logWriter]", "roles: [logging.logWriter]", "E205", "an IAM role"),
        ("framework: huggingface", "framework: hugginface", "E204", "did you mean 'huggingface'?"),
    ],
)
def test_feature_constraints(tmp_path: pathlib.Path, old: str, new: str, code: str, fragment: str) -> None:
    assert old in EVERYTHING
    found = _diagnostics(tmp_path, EVERYTHING.replace(old, new, 1))
    assert any(c == code and fragment in text for c, text in found), found
