"""Service-level objectives as PromQL over Istio's standard metrics.

One expression per SLO monitor, shared by its alerting rule (GMP ``Rules`` or an
in-cluster ``PrometheusRule``) and, with managed metrics, the Cloud Monitoring alert
policy, so both fire on the same condition. Metrics are taken where the request is
served (``reporter="destination"``), at the endpoint's predictor Services, whose
sidecars the namespace's collector scrapes (:mod:`mlopsctl.compiler.metrics`).
"""

from __future__ import annotations

from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.models.monitoring import SloMonitor
from mlopsctl.config.naming import namespace, predictor_services


def _selector(config: MLOpsConfig, monitor: SloMonitor, extra: str = "") -> str:
    services = "|".join(sorted(predictor_services(config, monitor.endpoint)))
    return (
        f'{{reporter="destination",destination_service_namespace="{namespace(config)}",'
        f'destination_service_name=~"{services}"{extra}}}'
    )


RATE_WINDOW = "5m"
"""Requests are averaged over this window; the monitor's ``window`` is how long the
expression must hold before the alert fires (a PrometheusRule's ``for``)."""


def promql(config: MLOpsConfig, monitor: SloMonitor, cluster: str | None = None) -> str:
    """An expression that is non-empty exactly while the objective is violated.

    ``cluster`` keeps to one cluster's series, where (as in Managed Service for
    Prometheus) the regions of a project share one metrics store.
    """
    window = RATE_WINDOW
    scope = f',cluster="{cluster}"' if cluster else ""
    if monitor.type == "latency":
        buckets = f"istio_request_duration_milliseconds_bucket{_selector(config, monitor, scope)}"
        quantile = monitor.percentile / 100
        quantile_expr = f"histogram_quantile({quantile:g}, sum by (le) (rate({buckets}[{window}])))"
        return f"{quantile_expr} > {monitor.objective:g}"
    server_errors = _selector(config, monitor, f'{scope},response_code=~"5.."')
    total = f"sum(rate(istio_requests_total{_selector(config, monitor, scope)}[{window}]))"
    errors = f"sum(rate(istio_requests_total{server_errors}[{window}]))"
    if monitor.type == "error-rate":
        return f"100 * {errors} / {total} > {monitor.objective:g}"
    return f"100 * (1 - {errors} / {total}) < {monitor.objective:g}"
