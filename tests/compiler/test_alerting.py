from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest
from conftest import EXAMPLES
from helpers import CLF_API, STAGED, write

from mlopsctl.api import compile_graphs, validate
from mlopsctl.compiler.alerting import ALERT_POLICY, NOTIFICATION_CHANNEL
from mlopsctl.compiler.slo import promql
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.models.monitoring import SloMonitor
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource

DEV = Target("dev", "us-central1")
SECRET_VERSION = "gcp:secretmanager/getSecretVersion:getSecretVersion"
CONFIG = (
    CLF_API
    + """\
monitors:
  api-latency:
    type: latency
    endpoint: api
    objective: 250
    percentile: 90
    window: 10m
    actions: {notify: [pager, team-mail]}
  api-errors:
    type: error-rate
    endpoint: api
    objective: 2
    actions: {notify: [chat]}
  api-up:
    type: availability
    endpoint: api
    objective: 99.5
    window: 1h
alertChannels:
  team-mail: {type: email, address: ml-team@acme.example}
  chat: {type: slack, channel: "#ml-alerts", secret: slack-token}
  pager: {type: pagerduty, secret: projects/oncall-prj/secrets/pd-key/versions/4}
"""
)


def _compiled(tmp_path: pathlib.Path) -> tuple[Graph, MLOpsConfig]:
    validation = validate(ConfigSource(write(tmp_path, STAGED + CONFIG), "mlops.yaml", None))
    assert validation.ok
    return compile_graphs(validation)[DEV], validation.targets[DEV].config


def _graph(tmp_path: pathlib.Path) -> Graph:
    return _compiled(tmp_path)[0]


def _get(graph: Graph, type_token: str, name: str) -> Resource:
    return graph.resources[f"{graph.target}/{type_token}/{name}"]


def _secret(project: str, secret: str, version: str) -> dict[str, object]:
    return {
        "fn::invoke": {
            "function": SECRET_VERSION,
            "arguments": {"project": project, "secret": secret, "version": version},
            "return": "secretData",
        }
    }


@pytest.mark.parametrize(
    ("name", "type_", "labels", "sensitive"),
    [
        ("team-mail", "email", {"email_address": "ml-team@acme.example"}, None),
        (
            "chat",
            "slack",
            {"channel_name": "#ml-alerts"},
            {"authToken": _secret("acme-demo-dev", "slack-token", "latest")},
        ),
        ("pager", "pagerduty", None, {"serviceKey": _secret("oncall-prj", "pd-key", "4")}),
    ],
)
def test_notification_channels(
    tmp_path: pathlib.Path,
    name: str,
    type_: str,
    labels: dict[str, str] | None,
    sensitive: dict[str, object] | None,
) -> None:
    channel = _get(_graph(tmp_path), NOTIFICATION_CHANNEL, name)
    assert channel.inputs["type"] == type_
    assert channel.inputs["project"] == "acme-demo-dev"
    assert channel.inputs.get("labels") == labels
    assert channel.inputs.get("sensitiveLabels") == sensitive
    assert channel.source == ("alertChannels", name)


@pytest.mark.parametrize(
    ("monitor", "channels", "duration", "severity"),
    [
        ("api-latency", ["pager", "team-mail"], "600s", "WARNING"),
        ("api-errors", ["chat"], "300s", "ERROR"),
        ("api-up", [], "3600s", "CRITICAL"),
    ],
)
def test_alert_policies_reference_their_channels(
    tmp_path: pathlib.Path, monitor: str, channels: list[str], duration: str, severity: str
) -> None:
    graph = _graph(tmp_path)
    policy = _get(graph, ALERT_POLICY, monitor)
    addresses = [_get(graph, NOTIFICATION_CHANNEL, c).address for c in channels]
    assert policy.inputs["notificationChannels"] == [
        {"fn::output": {"resource": a, "property": "name"}} for a in addresses
    ]
    assert policy.depends_on == tuple(sorted(addresses))
    assert policy.inputs["severity"] == severity
    assert policy.inputs["combiner"] == "OR"
    [condition] = policy.inputs["conditions"]
    query = condition["conditionPrometheusQueryLanguage"]
    assert query["duration"] == duration
    assert query["evaluationInterval"] == "60s"
    assert policy.inputs["userLabels"]["mlops-monitor"] == monitor
    assert policy.inputs["documentation"]["mimeType"] == "text/markdown"
    assert policy.source == ("monitors", monitor)


def test_policy_query_is_the_slo_expression_on_the_targets_cluster(tmp_path: pathlib.Path) -> None:
    graph, config = _compiled(tmp_path)
    policy = _get(graph, ALERT_POLICY, "api-errors")
    query = policy.inputs["conditions"][0]["conditionPrometheusQueryLanguage"]["query"]
    monitor = config.monitors["api-errors"]
    assert isinstance(monitor, SloMonitor)
    # Both selectors (server errors and all requests) keep to this target's cluster.
    assert query.count(',cluster="demo-dev-usc1"') == 2
    assert query.replace(',cluster="demo-dev-usc1"', "") == promql(config, monitor)


DATA_MONITORS = (
    """\
data:
  datasets:
    logs: {}
    base: {tables: {reference: {}}}
"""
    + CLF_API
    + """\
    logging: {dataset: logs}
monitors:
  api-drift:
    type: drift
    endpoint: api
    baseline: {dataset: base, table: reference}
    features: {amount: {kind: numeric}}
    schedule: {cron: "0 * * * *"}
    actions: {notify: [pager, team-mail]}
  api-skew:
    type: skew
    endpoint: api
    baseline: {dataset: base, table: reference}
    features: {amount: {kind: numeric}}
    schedule: {cron: "0 6 * * *"}
    actions: {notify: [team-mail]}
  api-quiet:
    type: drift
    endpoint: api
    baseline: {dataset: base, table: reference}
    features: {amount: {kind: numeric}}
    schedule: {cron: "0 6 * * *"}
alertChannels:
  team-mail: {type: email, address: ml-team@acme.example}
  pager: {type: pagerduty, secret: pd-key}
"""
)


def _data_monitors(tmp_path: pathlib.Path) -> Graph:
    validation = validate(ConfigSource(write(tmp_path, STAGED + DATA_MONITORS), "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return compile_graphs(validation)[DEV]


@pytest.mark.parametrize(
    ("monitor", "event", "channels"),
    [("api-drift", "drift-breach", ["pager", "team-mail"]), ("api-skew", "skew-breach", ["team-mail"])],
)
def test_a_data_monitor_that_notifies_matches_the_breaches_its_job_logs(
    tmp_path: pathlib.Path, monitor: str, event: str, channels: list[str]
) -> None:
    graph = _data_monitors(tmp_path)
    policy = _get(graph, ALERT_POLICY, monitor)
    [condition] = policy.inputs["conditions"]
    assert condition["conditionMatchedLog"] == {
        "filter": 'resource.type="k8s_container" AND resource.labels.cluster_name="demo-dev-usc1" AND '
        f'resource.labels.namespace_name="demo" AND jsonPayload.event="{event}" AND '
        f'jsonPayload."mlopsctl.dev/monitor"="{monitor}"'
    }
    # Cloud Monitoring refuses a log-match policy without a notification rate limit.
    assert policy.inputs["alertStrategy"]["notificationRateLimit"] == {"period": "300s"}
    addresses = [_get(graph, NOTIFICATION_CHANNEL, c).address for c in channels]
    assert policy.inputs["notificationChannels"] == [
        {"fn::output": {"resource": a, "property": "name"}} for a in addresses
    ]
    assert policy.depends_on == tuple(sorted(addresses))
    assert policy.source == ("monitors", monitor, "actions", "notify")


def test_with_in_cluster_metrics_slos_get_no_cloud_monitoring_policy(tmp_path: pathlib.Path) -> None:
    """Cloud Monitoring holds none of the series an in-cluster Prometheus collects: a PromQL policy
    there would never fire. Log-match policies of drift and skew monitors stay."""
    in_cluster = "platform: {metrics: in-cluster}\n"
    validation = validate(ConfigSource(write(tmp_path, STAGED + CONFIG + in_cluster), "mlops.yaml", None))
    assert validation.ok
    assert [r.name for r in compile_graphs(validation)[DEV] if r.type == ALERT_POLICY] == []
    validation = validate(
        ConfigSource(write(tmp_path, STAGED + DATA_MONITORS + in_cluster), "mlops.yaml", None)
    )
    assert sorted(r.name for r in compile_graphs(validation)[DEV] if r.type == ALERT_POLICY) == [
        "api-drift",
        "api-skew",
    ]


def test_a_data_monitor_that_notifies_no_one_gets_no_policy(tmp_path: pathlib.Path) -> None:
    policies = sorted(r.name for r in _data_monitors(tmp_path) if r.type == ALERT_POLICY)
    assert policies == ["api-drift", "api-skew"]


def test_alert_policy_inputs_are_pulumi_gcp_properties(tmp_path: pathlib.Path) -> None:
    """Every key is one the provider's AlertPolicyArgs (and its nested input types) declares."""
    from mlopsctl.pulumi.types import args_class, resource_class, to_args

    cls = resource_class(ALERT_POLICY)
    assert cls is not None
    graphs = [_data_monitors(tmp_path / "data"), _graph(tmp_path / "slo")]
    policies = [r for g in graphs for r in g if r.type == ALERT_POLICY]
    assert {k for p in policies for c in p.inputs["conditions"] for k in c if k != "displayName"} == {
        "conditionMatchedLog",
        "conditionPrometheusQueryLanguage",
    }
    for policy in policies:
        to_args(args_class(cls), dict(policy.inputs), policy.address, lambda _: "deferred")


SENSITIVE = {"authToken", "serviceKey", "password", "secretData"}


def _sensitive_values(value: object) -> Iterator[object]:
    """Every value under a key that would hold a secret, anywhere in ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in SENSITIVE:
                yield item
            yield from _sensitive_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from _sensitive_values(item)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_secrets_enter_the_graph_only_as_lookups(example: pathlib.Path) -> None:
    """A secret is named, never held: the Pulumi program reads it from Secret Manager."""
    looked_up = 0
    for graph in compile_graphs(validate(ConfigSource(example, "mlops.yaml", None))).values():
        for resource in graph:
            for value in _sensitive_values(dict(resource.inputs)):
                assert isinstance(value, dict) and set(value) == {"fn::invoke"}, resource.address
                assert (
                    value["fn::invoke"]["function"] == "gcp:secretmanager/getSecretVersion:getSecretVersion"
                )
                assert value["fn::invoke"]["return"] == "secretData"
                looked_up += 1
    channels = {"digits": 0, "sensor-anomaly": 4, "fraud-tpu": 2}  # slack/pagerduty channels per target
    assert looked_up == channels[example.parent.name]
