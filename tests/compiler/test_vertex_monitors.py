"""Monitors placed on Vertex AI: drift and skew as Model Monitoring, SLOs as alert policies on Vertex
AI's endpoint metrics; nothing of theirs runs in the cluster."""

from __future__ import annotations

import pathlib

import pytest
from helpers import CLF_API, MINIMAL, compile_text

from mlopsctl.compiler.slo import vertex_promql
from mlopsctl.config.models.monitoring import SloMonitor
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource, fn_join, fn_output

DEV = Target("dev", "us-central1")
MONITOR = "mlopsctl:vertex/modelMonitor:ModelMonitor"
POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
ENDPOINT_ID = "755688946"
"""Endpoint 'api' of project demo in dev/us-central1 (vertex_models.endpoint_id)."""
WHERE = (
    'monitored_resource="aiplatform.googleapis.com/Endpoint",'
    f'location="us-central1",endpoint_id="{ENDPOINT_ID}"'
)
MONITORS = """\
    logging: {dataset: logs}
data:
  datasets:
    logs: {}
    training:
      tables:
        train: {}
monitors:
  api-skew:
    type: skew
    endpoint: api
    baseline: {dataset: training, table: train}
    features:
      amount: {kind: numeric}
      country: {kind: categorical, threshold: 0.3}
    thresholds: {numeric: 0.2, categorical: 0.15}
    window: 7d
    schedule: {cron: "0 4 * * 1", timeZone: Europe/Paris}
    actions: {notify: [team]}
  api-drift:
    type: drift
    endpoint: api
    baseline: {dataset: training, table: train}
    features: {amount: {kind: numeric}}
    schedule: {cron: "0 3 * * *"}
  api-latency:
    {type: latency, endpoint: api, objective: 250, percentile: 95, window: 10m, actions: {notify: [team]}}
  api-errors: {type: error-rate, endpoint: api, objective: 2}
  api-up: {type: availability, endpoint: api, objective: 99.5}
alertChannels:
  team: {type: email, address: ml@acme.example}
placement: {endpoints: vertex, monitors: vertex}
"""


def _graph(tmp_path: pathlib.Path, extra: str = "") -> Graph:
    return compile_text(tmp_path, MINIMAL + CLF_API + MONITORS + extra)[DEV]


def _get(graph: Graph, type_: str, name: str) -> Resource:
    return graph.resources[f"{DEV}/{type_}/{name}"]


def test_a_skew_monitor_is_a_model_monitor_of_the_endpoints_default_version(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path)
    monitor = _get(graph, MONITOR, "api-skew")
    version = f"{DEV}/mlopsctl:vertex/modelVersion:ModelVersion/clf@v1"
    endpoint = f"{DEV}/gcp:vertex/aiEndpoint:AiEndpoint/api"
    channel = f"{DEV}/{CHANNEL}/team"
    where = ["projects", "acme-demo-dev", "locations", "us-central1", "endpoints"]
    assert monitor.inputs == {
        "project": "acme-demo-dev",
        "location": "us-central1",
        "displayName": "demo api-skew (dev)",
        "model": fn_output(version, "name"),
        "trainingDataset": "bq://acme-demo-dev.training_dev_us_central1.train",
        "features": [{"name": "amount", "type": "float"}, {"name": "country", "type": "categorical"}],
        "skewThresholds": {"amount": 0.2, "country": 0.3},
        "defaultThreshold": 0.15,
        "schedule": "TZ=Europe/Paris 0 4 * * 1",
        "window": "1w",
        "endpoints": [fn_join("/", [*where, fn_output(endpoint, "name")])],
        "notificationChannels": [fn_output(channel, "name")],
    }
    assert set(monitor.depends_on) == {version, endpoint, channel}


def test_a_drift_monitor_checks_drift_only(tmp_path: pathlib.Path) -> None:
    inputs = _get(_graph(tmp_path), MONITOR, "api-drift").inputs
    assert inputs["driftThresholds"] == {"amount": 0.1} and "skewThresholds" not in inputs
    assert (inputs["window"], inputs["schedule"], inputs["notificationChannels"]) == (
        "1d",
        "TZ=Etc/UTC 0 3 * * *",
        [],
    )


@pytest.mark.parametrize(
    ("name", "query", "duration"),
    [
        (
            "api-latency",
            "histogram_quantile(0.95, sum by (le) (rate(aiplatform_googleapis_com:"
            f'prediction_online_prediction_latencies_bucket{{{WHERE},latency_type="total"}}[5m]))) > 250',
            "600s",
        ),
        (
            "api-errors",
            "100 * sum(rate(aiplatform_googleapis_com:prediction_online_response_count"
            f'{{{WHERE},response_code=~"5.."}}[5m])) / sum(rate(aiplatform_googleapis_com:'
            f"prediction_online_response_count{{{WHERE}}}[5m])) > 2",
            "300s",
        ),
        (
            "api-up",
            "100 * (1 - sum(rate(aiplatform_googleapis_com:prediction_online_response_count"
            f'{{{WHERE},response_code=~"5.."}}[5m])) / sum(rate(aiplatform_googleapis_com:'
            f"prediction_online_response_count{{{WHERE}}}[5m]))) < 99.5",
            "300s",
        ),
    ],
)
@pytest.mark.parametrize("metrics", ["managed", "in-cluster"])
def test_an_slo_is_an_alert_policy_on_vertex_ais_endpoint_metrics(
    tmp_path: pathlib.Path, name: str, query: str, duration: str, metrics: str
) -> None:
    graph = _graph(tmp_path, f"platform: {{metrics: {metrics}}}\n")
    [condition] = _get(graph, POLICY, name).inputs["conditions"]
    assert condition["conditionPrometheusQueryLanguage"] == {
        "query": query,
        "duration": duration,
        "evaluationInterval": "60s",
        "labels": {"monitor": name, "endpoint": "api"},
    }


def test_the_vertex_query_keeps_the_objective_of_any_percentile() -> None:
    monitor = SloMonitor(type="latency", endpoint="api", objective=80, percentile=99.9)
    assert vertex_promql(monitor, "1234567890", "europe-west4").startswith("histogram_quantile(0.999, ")


def test_nothing_of_theirs_runs_in_the_cluster(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path)
    assert not [r for r in graph if r.is_kubernetes or r.is_addon], (
        "no cluster: no section declared runs there"
    )
    assert "gcp:container/cluster:Cluster" not in {r.type for r in graph}
    assert {r.name for r in graph if r.type == POLICY} == {
        "api-latency",
        "api-errors",
        "api-up",
    }  # no log match
    assert not [r for r in graph if r.type == "gcp:serviceaccount/account:Account" and "monitor" in r.name]
    assert [r.name for r in graph if r.type == "gcp:bigquery/table:Table"] == ["training.train"]
    # Vertex AI's service agent writes the request log's dataset and reads the baseline table.
    agent = [r for r in graph if r.name.startswith("vertex-ai-agent-")]
    assert sorted((r.name, r.inputs["role"]) for r in agent) == [
        ("vertex-ai-agent-data-editor-logs", "roles/bigquery.dataEditor"),
        ("vertex-ai-agent-data-viewer-training-train", "roles/bigquery.dataViewer"),
    ]


def test_features_keep_the_order_the_config_lists_them_in(tmp_path: pathlib.Path) -> None:
    """Model Monitoring names an array instance's values by the order of its features."""
    text = MONITORS.replace(
        "      amount: {kind: numeric}\n      country: {kind: categorical, threshold: 0.3}\n",
        "      country: {kind: categorical, threshold: 0.3}\n      amount: {kind: numeric}\n",
    )
    graph = compile_text(tmp_path, MINIMAL + CLF_API + text)[DEV]
    assert [f["name"] for f in _get(graph, MONITOR, "api-skew").inputs["features"]] == ["country", "amount"]
