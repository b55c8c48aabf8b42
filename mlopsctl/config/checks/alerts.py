"""Alerts reach the channels they name: with ``platform.metrics: in-cluster`` an SLO monitor's alert
fires in the cluster's Prometheus and goes to its Alertmanager, whose receivers mlopsctl leaves to
the platform team (it routes only retraining there), so ``notify`` is not delivered by what it emits."""

from __future__ import annotations

from collections.abc import Iterator

from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.diagnostics import Diagnostic, Severity
from mlopsctl.config.models.monitoring import SloMonitor


@check
def slo_notifications(ctx: CheckContext) -> Iterator[Diagnostic]:
    """W406 at ``notify`` of each SLO monitor on GKE whose metrics stay in the cluster."""
    if ctx.config.platform.metrics != "in-cluster" or ctx.config.placement.monitors == "vertex":
        return  # managed metrics: a Cloud Monitoring alert policy notifies; Vertex AI: the same
    for name, monitor in ctx.config.monitors.items():
        if isinstance(monitor, SloMonitor) and monitor.actions.notify:
            channels = ", ".join(monitor.actions.notify)
            yield Diagnostic(
                "W406",
                f"monitor '{name}' notifies {channels}, but with platform.metrics: in-cluster its alert goes "
                "to the cluster's Alertmanager, whose receivers mlopsctl does not configure: nothing it "
                "emits delivers the notification",
                path=("monitors", name, "actions", "notify"),
                hint="route alerts with label monitor=" + name + " to those channels in your Alertmanager "
                "configuration, or use platform.metrics: managed (a Cloud Monitoring alert policy notifies)",
                severity=Severity.WARNING,
            )
