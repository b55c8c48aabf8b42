"""A project on Vertex AI whose monitors retrain: a drift monitor with ``actions.retrain`` and parameters
of its own, and an SLO monitor that a pipeline's trigger names."""

from __future__ import annotations

from helpers import CLF_API, OWNED_STAGED_DATA

MONITORS = """\
    logging: {dataset: features}
monitors:
  shift:
    type: drift
    endpoint: api
    baseline: {dataset: features, table: train}
    features: {amount: {kind: numeric}}
    schedule: {cron: "0 3 * * *"}
    actions: {notify: [team], retrain: train, retrainParameters: {lr: 0.9}}
  slow: {type: latency, endpoint: api, objective: 300, actions: {notify: [team]}}
  quiet: {type: error-rate, endpoint: api, objective: 1}
alertChannels:
  team: {type: email, address: ml@acme.example}
"""
PIPELINE = """\
pipelines:
  train:
    parameters: {lr: 0.1, epochs: 3}
    schedule: {cron: "0 3 * * *"}
    triggers:
      - monitor: slow
    steps:
      fit:
        image: trainer:1
        command: [python, train.py]
        inputs: {lr: params.lr}
        outputs: {model: model}
"""
ON_VERTEX = "placement: {endpoints: vertex, monitors: vertex, pipelines: vertex}\n"
RETRAINING = OWNED_STAGED_DATA + CLF_API + MONITORS + PIPELINE + ON_VERTEX
ON_KFP = RETRAINING.replace(ON_VERTEX, "placement: {endpoints: vertex, monitors: vertex, pipelines: gke}\n")
"""The same monitors on Vertex AI, retraining pipelines on Kubeflow Pipelines in the cluster."""
ACCOUNT = "mon-shift-dev-usc1@acme-demo-dev.iam.gserviceaccount.com"
PIPELINE_ACCOUNT = "pl-train-dev-usc1@acme-demo-dev.iam.gserviceaccount.com"
TOPIC = "projects/acme-demo-dev/topics/demo-dev-usc1-monitor-shift-retrain"
WORKFLOW = "projects/acme-demo-dev/locations/us-central1/workflows/demo-dev-usc1-monitor-shift-retrain"
JOBS = "https://us-central1-aiplatform.googleapis.com/v1/projects/acme-demo-dev/locations/us-central1/pipelineJobs"
