"""Cloud Monitoring: notification channels and alert policies for the monitors' SLOs.

Each SLO monitor becomes an alert policy on the same PromQL expression as the in-cluster
rule (:mod:`mlopsctl.build.slo`), read from Managed Service for Prometheus. Secrets of
channels are looked up when the Pulumi program applies; their values never enter the graph.
"""

from __future__ import annotations

from mlopsctl.build.context import BuildContext
from mlopsctl.build.iam import secret_parts
from mlopsctl.build.slo import promql
from mlopsctl.config.models.monitoring import AlertChannel, SloMonitor
from mlopsctl.durations import parse_duration
from mlopsctl.graph import JSON, fn_invoke, fn_output
from mlopsctl.naming import cluster_name

NOTIFICATION_CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
ALERT_POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"

EVALUATION_INTERVAL = "60s"
"""How often Cloud Monitoring evaluates an SLO's expression (a multiple of 30s)."""
SEVERITY = {"availability": "CRITICAL", "error-rate": "ERROR", "latency": "WARNING"}
"""An unavailable endpoint pages first; a slow one warns."""
_SENSITIVE_LABEL = {"slack": "authToken", "pagerduty": "serviceKey"}
"""The sensitive label each channel type takes its secret in."""


def build(ctx: BuildContext) -> None:
    for name, channel in ctx.config.alert_channels.items():
        _channel(ctx, name, channel)
    for name, monitor in ctx.config.monitors.items():
        if isinstance(monitor, SloMonitor):
            _policy(ctx, name, monitor)


def _channel(ctx: BuildContext, name: str, channel: AlertChannel) -> None:
    inputs: dict[str, JSON] = {
        "type": channel.type,
        "project": ctx.gcp_project,
        "displayName": f"{ctx.config.project.name} {name} ({ctx.target})",
        "description": f"Alert channel '{name}' of {ctx.config.project.name}, managed by mlopsctl.",
        "enabled": True,
        "userLabels": ctx.gcp_labels(),
    }
    if channel.type == "email":
        inputs["labels"] = {"email_address": channel.address}
    else:
        assert channel.secret is not None, "checked by the model"
        if channel.channel:
            inputs["labels"] = {"channel_name": channel.channel}
        project, secret, version = secret_parts(ctx, channel.secret)
        payload = fn_invoke(
            "gcp:secretmanager/getSecretVersion:getSecretVersion",
            {"project": project, "secret": secret, "version": version},
            "secretData",
        )
        inputs["sensitiveLabels"] = {_SENSITIVE_LABEL[channel.type]: payload}
    ctx.add(NOTIFICATION_CHANNEL, name, inputs, source=("alertChannels", name))


def _policy(ctx: BuildContext, name: str, monitor: SloMonitor) -> None:
    channels = [ctx.address(NOTIFICATION_CHANNEL, c) for c in monitor.actions.notify]
    objective = f"{monitor.objective:g}"
    goal = {
        "latency": f"p{monitor.percentile:g} latency at most {objective} ms",
        "error-rate": f"server errors at most {objective}% of requests",
        "availability": f"at least {objective}% of requests answered without a server error",
    }[monitor.type]
    ctx.add(
        ALERT_POLICY,
        name,
        {
            "project": ctx.gcp_project,
            "displayName": f"{ctx.config.project.name} {name} ({ctx.target})",
            "combiner": "OR",
            "enabled": True,
            "severity": SEVERITY[monitor.type],
            "conditions": [
                {
                    "displayName": f"{monitor.type} SLO of endpoint {monitor.endpoint} violated",
                    "conditionPrometheusQueryLanguage": {
                        "query": promql(ctx.config, monitor, cluster_name(ctx.config, ctx.target)),
                        "duration": f"{parse_duration(monitor.window)}s",
                        "evaluationInterval": EVALUATION_INTERVAL,
                        "labels": {"monitor": name, "endpoint": monitor.endpoint},
                    },
                }
            ],
            "documentation": {
                "subject": f"{ctx.config.project.name}: {monitor.endpoint} breaks its {monitor.type} SLO",
                "content": (
                    f"Endpoint `{monitor.endpoint}` of {ctx.config.project.name} ({ctx.target}) "
                    f"has not met its objective ({goal}) for {monitor.window}. "
                    f"Monitor `{name}` in mlops.yaml."
                ),
                "mimeType": "text/markdown",
            },
            "userLabels": ctx.gcp_labels({"mlops-monitor": name, "mlops-endpoint": monitor.endpoint}),
            "notificationChannels": [fn_output(address, "name") for address in channels],
        },
        source=("monitors", name),
        depends_on=tuple(channels),
    )
