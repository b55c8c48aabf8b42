"""Cloud Monitoring: notification channels, and alert policies for the monitors.

With ``platform.metrics: managed``, each SLO monitor becomes an alert policy on the same
PromQL expression as its rule (:mod:`mlopsctl.compiler.slo`), read from Managed Service for
Prometheus and kept to the target's cluster. With ``in-cluster`` metrics Cloud Monitoring
holds none of the series, so an SLO monitor notifies through the in-cluster Alertmanager that
receives its PrometheusRule's alerts (whose receivers the platform team configures). A drift or
skew monitor that notifies becomes a log-match policy: its job logs one structured line
per feature that crossed its threshold (``jsonPayload.event`` ``drift-breach`` or
``skew-breach``, with the monitor's name under ``mlopsctl.dev/monitor``), and Cloud
Logging matches it in the target's cluster and namespace. Secrets of channels are looked
up when the Pulumi program applies; their values never enter the graph.

Monitors placed on Vertex AI: an SLO monitor is an alert policy on the same objective over Vertex
AI's metrics of its endpoint (:func:`mlopsctl.compiler.slo.vertex_promql`), whatever
``platform.metrics`` says (Cloud Monitoring holds those series either way); a drift or skew
monitor notifies its channels from Vertex AI Model Monitoring itself
(:mod:`mlopsctl.compiler.vertex_serving`), without a log-match policy.
"""

from __future__ import annotations

from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.iam import secret_parts
from mlopsctl.compiler.slo import promql, vertex_promql
from mlopsctl.compiler.vertex_models import endpoint_id
from mlopsctl.config.durations import parse_duration
from mlopsctl.config.models.monitoring import AlertChannel, DataMonitor, SloMonitor
from mlopsctl.config.naming import cluster_name, namespace
from mlopsctl.config.sourcemap import Path
from mlopsctl.graph import JSON, fn_invoke, fn_output

NOTIFICATION_CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
ALERT_POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"

EVALUATION_INTERVAL = "60s"
"""How often Cloud Monitoring evaluates an SLO's expression (a multiple of 30s)."""
SEVERITY = {"availability": "CRITICAL", "error-rate": "ERROR", "latency": "WARNING"}
"""An unavailable endpoint pages first; a slow one warns."""
_SENSITIVE_LABEL = {"slack": "authToken", "pagerduty": "serviceKey"}
"""The sensitive label each channel type takes its secret in."""
BREACH_RATE_LIMIT = "300s"
"""At most one notification per breach policy this often (a run logs a line per feature)."""
BREACH_AUTO_CLOSE = "1800s"
"""A breach incident closes itself after this long without another matching line."""


def build(ctx: BuildContext) -> None:
    for name, channel in ctx.config.alert_channels.items():
        _channel(ctx, name, channel)
    on_vertex = ctx.config.placement.monitors == "vertex"
    for name, monitor in ctx.config.monitors.items():
        if isinstance(monitor, SloMonitor):
            if on_vertex:
                endpoint = endpoint_id(ctx.config.project.name, ctx.target, monitor.endpoint)
                _policy(ctx, name, monitor, vertex_promql(monitor, endpoint, ctx.target.region))
            elif ctx.config.platform.metrics == "managed":
                _policy(ctx, name, monitor, promql(ctx.config, monitor, cluster_name(ctx.config, ctx.target)))
        elif monitor.actions.notify and not on_vertex:
            _breach_policy(ctx, name, monitor)


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


def _policy(ctx: BuildContext, name: str, monitor: SloMonitor, query: str) -> None:
    objective = f"{monitor.objective:g}"
    goal = {
        "latency": f"p{monitor.percentile:g} latency at most {objective} ms",
        "error-rate": f"server errors at most {objective}% of requests",
        "availability": f"at least {objective}% of requests answered without a server error",
    }[monitor.type]
    _add_policy(
        ctx,
        name,
        monitor,
        severity=SEVERITY[monitor.type],
        condition={
            "displayName": f"{monitor.type} SLO of endpoint {monitor.endpoint} violated",
            "conditionPrometheusQueryLanguage": {
                "query": query,
                "duration": f"{parse_duration(monitor.window)}s",
                "evaluationInterval": EVALUATION_INTERVAL,
                "labels": {"monitor": name, "endpoint": monitor.endpoint},
            },
        },
        extra={},
        subject=f"{ctx.config.project.name}: {monitor.endpoint} breaks its {monitor.type} SLO",
        content=(
            f"Endpoint `{monitor.endpoint}` of {ctx.config.project.name} ({ctx.target}) "
            f"has not met its objective ({goal}) for {monitor.window}. "
            f"Monitor `{name}` in mlops.yaml."
        ),
        source=("monitors", name),
    )


def breach_filter(ctx: BuildContext, name: str, monitor: DataMonitor) -> str:
    """The Cloud Logging filter of the lines a drift or skew job logs when a feature crosses its threshold."""
    return " AND ".join(
        [
            'resource.type="k8s_container"',
            f'resource.labels.cluster_name="{cluster_name(ctx.config, ctx.target)}"',
            f'resource.labels.namespace_name="{namespace(ctx.config)}"',
            f'jsonPayload.event="{monitor.type}-breach"',
            f'jsonPayload."mlopsctl.dev/monitor"="{name}"',
        ]
    )


def _breach_policy(ctx: BuildContext, name: str, monitor: DataMonitor) -> None:
    what = "drifted" if monitor.type == "drift" else "skewed from the training data"
    _add_policy(
        ctx,
        name,
        monitor,
        severity="WARNING",
        condition={
            "displayName": f"{monitor.type} of endpoint {monitor.endpoint} above its thresholds",
            "conditionMatchedLog": {"filter": breach_filter(ctx, name, monitor)},
        },
        extra={
            "alertStrategy": {
                "notificationRateLimit": {"period": BREACH_RATE_LIMIT},
                "autoClose": BREACH_AUTO_CLOSE,
            }
        },
        subject=f"{ctx.config.project.name}: requests to {monitor.endpoint} {what}",
        content=(
            f"Features of the requests to endpoint `{monitor.endpoint}` of {ctx.config.project.name} "
            f"({ctx.target}) {what} over {monitor.window}, beyond their thresholds. "
            f"Monitor `{name}` in mlops.yaml; its job's log lists the features."
        ),
        source=("monitors", name, "actions", "notify"),
    )


def _add_policy(
    ctx: BuildContext,
    name: str,
    monitor: SloMonitor | DataMonitor,
    *,
    severity: str,
    condition: dict[str, JSON],
    extra: dict[str, JSON],
    subject: str,
    content: str,
    source: Path,
) -> None:
    """One alert policy of a monitor on a single condition, notifying the monitor's channels.

    ``extra`` holds the further inputs of the policy's kind, placed after its conditions. A monitor on
    Vertex AI that retrains also notifies the channel that starts its runs
    (:mod:`mlopsctl.compiler.vertex_retrain`).
    """
    from mlopsctl.compiler.vertex_retrain import retrain_channel  # which imports this module

    channels = [ctx.address(NOTIFICATION_CHANNEL, c) for c in monitor.actions.notify]
    channels += retrain_channel(ctx, name)
    ctx.add(
        ALERT_POLICY,
        name,
        {
            "project": ctx.gcp_project,
            "displayName": f"{ctx.config.project.name} {name} ({ctx.target})",
            "combiner": "OR",
            "enabled": True,
            "severity": severity,
            "conditions": [condition],
            **extra,
            "documentation": {"subject": subject, "content": content, "mimeType": "text/markdown"},
            "userLabels": ctx.gcp_labels({"mlops-monitor": name, "mlops-endpoint": monitor.endpoint}),
            "notificationChannels": [fn_output(address, "name") for address in channels],
        },
        source=source,
        depends_on=tuple(channels),
    )
