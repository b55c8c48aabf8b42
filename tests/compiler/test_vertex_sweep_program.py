"""A config that puts every section on Vertex AI and uses most of what Vertex AI offers (an A/B test on
GPU machines, a feature store with both kinds of online store and an endpoint reading its views,
experiments and TensorBoard with a customer-managed key, a drift monitor and an SLO monitor that retrain,
a new-data trigger) runs through the Pulumi program under mocks: every resource of its graph is
registered with the inputs the real pulumi-gcp classes and the Vertex AI providers accept."""

from __future__ import annotations

import pathlib
import sys

from helpers import compile_text

from mlopsctl.config.target import Target
from mlopsctl.pulumi.program import create
from mlopsctl.pulumi.vertex.resources import PULUMI_TYPES, RESOURCES

sys.path.append(str(pathlib.Path(__file__).resolve().parents[1] / "pulumi"))  # the shared Pulumi mocks
from mocked import Recorder, run  # type: ignore[import-not-found]

DEV = Target("dev", "europe-west4")
CONFIG = """\
apiVersion: mlopsctl.dev/v1alpha1
kind: MLOpsProject
project:
  name: shop
  owner: ml@acme.example
  stageImage: europe-docker.pkg.dev/acme/shop/stages:1.0.0
placement: {pipelines: vertex, endpoints: vertex, monitors: vertex}
environments:
  dev:
    gcpProject: acme-shop-dev
    regions: [europe-west4]
security:
  kms:
    shop-key: {}
  defaultKmsKey: shop-key
tracking: {experiments: true, tensorboard: true}
data:
  buckets:
    raw: {}
  datasets:
    logs: {}
    feats:
      tables:
        baseline:
          schema:
            - {name: price, type: FLOAT64}
            - {name: country, type: STRING}
        customers:
          schema:
            - {name: feature_timestamp, type: TIMESTAMP, mode: REQUIRED}
            - {name: customer_id, type: STRING, mode: REQUIRED}
            - {name: age, type: INT64}
            - {name: Country_CODE, type: STRING}
pipelines:
  train:
    parameters: {epochs: 3}
    steps:
      ingest: {kind: ingest, source: {featureView: recent}, label: age, outputs: {examples: dataset}}
      train:
        kind: train
        image: europe-docker.pkg.dev/acme/shop/trainer:1
        command: [python, train.py]
        inputs: {examples: ingest.examples, epochs: params.epochs}
        outputs: {model: model}
        resources: {cpu: "8", memory: 32Gi, accelerators: 1, acceleratorType: NVIDIA_L4}
      evaluate:
        kind: evaluate
        inputs: {model: train.model, examples: ingest.examples}
        outputs: {metrics: metrics, blessed: boolean}
        thresholds: {accuracy: {min: 0.9}}
      push:
        kind: push
        model: clf
        inputs: {model: train.model}
        when: {output: evaluate.blessed, value: true}
    schedule: {cron: "0 3 * * *", timeZone: Europe/Amsterdam}
    triggers:
      - newData: {bucket: raw, prefix: drops/}
models:
  clf:
    framework: pytorch
    versions:
      v1: {artifactUri: "gs://acme-models/clf/v1"}
      v2: {artifactUri: "gs://acme-models/clf/v2"}
endpoints:
  api:
    variants:
      a:
        model: clf
        version: v1
        machineType: n1-standard-4
        accelerators: 1
        acceleratorType: NVIDIA_TESLA_T4
      b: {model: clf, version: v2, machineType: g2-standard-8, accelerators: 1, acceleratorType: NVIDIA_L4}
    rollout: {strategy: ab, weights: {a: 80, b: 20}}
    logging: {dataset: logs, samplingRate: 0.5}
    features: [recent, everything]
monitors:
  api-drift:
    type: drift
    endpoint: api
    baseline: {dataset: feats, table: baseline}
    features: {price: {kind: numeric}, country: {kind: categorical, threshold: 0.2}}
    window: 36h
    schedule: {cron: "0 * * * *"}
    actions: {notify: [oncall], retrain: train, retrainParameters: {epochs: 9}}
  api-up: {type: availability, endpoint: api, objective: 99.5, actions: {notify: [oncall], retrain: train}}
alertChannels:
  oncall: {type: email, address: oncall@acme.example}
features:
  groups:
    customers:
      source: {dataset: feats, table: customers}
      entityIdColumns: [customer_id]
      features: [age, Country_CODE]
  onlineStores:
    bt: {type: bigtable, bigtable: {minNodes: 1, maxNodes: 4, cpuTarget: 60}}
    fast: {type: optimized}
  views:
    recent: {store: bt, group: customers, features: [age], sync: "0 5 * * *"}
    everything: {store: fast, group: customers, sync: "*/30 * * * *"}
"""


def test_an_all_vertex_config_runs_through_the_pulumi_program(tmp_path: pathlib.Path) -> None:
    graph = compile_text(tmp_path, CONFIG)[DEV]
    recorder = Recorder(
        outputs={
            PULUMI_TYPES["mlopsctl:vertex/modelVersion:ModelVersion"]: {
                "name": "projects/acme-shop-dev/locations/europe-west4/models/shop-clf@1"
            },
        }
    )
    run(lambda: create(graph), recorder, stack="dev-europe-west4")
    registered = {(r.type, r.name) for r in recorder.resources}
    wanted = {(PULUMI_TYPES.get(r.type, r.type), r.name) for r in graph}
    assert wanted <= registered, sorted(wanted - registered)
    types = {r.type for r in graph}
    assert set(RESOURCES) <= types  # model versions, the deployment and the model monitor
    assert not any(r.is_kubernetes for r in graph)
    (deployment,) = recorder.by_type(PULUMI_TYPES["mlopsctl:vertex/deployment:Deployment"])
    assert deployment.inputs["trafficSplit"] == {"a": 80, "b": 20}
