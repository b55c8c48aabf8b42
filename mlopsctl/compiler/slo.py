"""Service-level objectives as PromQL: over Istio's standard metrics for endpoints on GKE, over
Vertex AI's endpoint metrics in Cloud Monitoring for endpoints on Vertex AI.

One expression per SLO monitor. On GKE it is shared by its alerting rule (GMP ``Rules`` or an
in-cluster ``PrometheusRule``) and, with managed metrics, the Cloud Monitoring alert policy, so
both fire on the same condition. Metrics are taken where the request is served
(``reporter="destination"``), at the endpoint's predictor Services, whose sidecars the
namespace's collector scrapes (:mod:`mlopsctl.compiler.metrics`). A destination sidecar names
the request's Service after one of the Services selecting its pod (the oldest), and the pods of
a canary with analysis are also selected by Flagger's target ``<endpoint>`` and its copies
``<endpoint>-primary`` and ``<endpoint>-canary``, so those names count as the endpoint's too. A
shadow variant's Service does not count: Istio discards the responses to the requests it mirrors
there, so its errors and latency are never a client's.

On Vertex AI the alert policy queries Cloud Monitoring's own series of the endpoint (by its id)
in PromQL, which Cloud Monitoring answers for its system metrics: the same objectives over
``prediction/online/prediction_latencies`` (``latency_type="total"``, a distribution queried
as a histogram, so any percentile) and ``prediction/online/response_count`` (by
``response_code`` class, ``5xx`` for server errors).
"""

from __future__ import annotations

from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.models.monitoring import SloMonitor
from mlopsctl.config.models.serving import Shadow
from mlopsctl.config.naming import namespace, predictor_service, predictor_services

VERTEX_ENDPOINT = "aiplatform.googleapis.com/Endpoint"
"""The monitored resource of Vertex AI's online prediction metrics."""
VERTEX_LATENCIES = "aiplatform_googleapis_com:prediction_online_prediction_latencies_bucket"
VERTEX_RESPONSES = "aiplatform_googleapis_com:prediction_online_response_count"
SERVER_ERRORS = 'response_code=~"5.."'
"""Istio's status codes (``503``) and Vertex AI's classes (``5xx``) of server errors."""


def served_by(config: MLOpsConfig, endpoint: str) -> list[str]:
    """The Services whose name a destination sidecar may give the endpoint's clients' requests."""
    spec = config.endpoints[endpoint]
    names = predictor_services(config, endpoint)
    if isinstance(spec.rollout, Shadow) and spec.graph is None:
        names.remove(predictor_service(endpoint, spec.rollout.shadow))
    if spec.analysed:
        names = [*names, endpoint, f"{endpoint}-primary", f"{endpoint}-canary"]
    return sorted(names)


def _selector(config: MLOpsConfig, monitor: SloMonitor, extra: str = "") -> str:
    services = "|".join(served_by(config, monitor.endpoint))
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
    scope = f',cluster="{cluster}"' if cluster else ""
    return _violated(
        monitor,
        latency_buckets=f"istio_request_duration_milliseconds_bucket{_selector(config, monitor, scope)}",
        requests=f"istio_requests_total{_selector(config, monitor, scope)}",
        errors=f"istio_requests_total{_selector(config, monitor, f'{scope},{SERVER_ERRORS}')}",
    )


def vertex_promql(monitor: SloMonitor, endpoint_id: str, location: str) -> str:
    """:func:`promql` of an endpoint on Vertex AI, ``endpoint_id`` in ``location``."""
    where = f'monitored_resource="{VERTEX_ENDPOINT}",location="{location}",endpoint_id="{endpoint_id}"'
    return _violated(
        monitor,
        latency_buckets=f'{VERTEX_LATENCIES}{{{where},latency_type="total"}}',
        requests=f"{VERTEX_RESPONSES}{{{where}}}",
        errors=f"{VERTEX_RESPONSES}{{{where},{SERVER_ERRORS}}}",
    )


def _violated(monitor: SloMonitor, *, latency_buckets: str, requests: str, errors: str) -> str:
    """The objective's violation over a latency histogram's buckets, all requests and the
    requests that failed with a server error (series with their selectors)."""
    window = RATE_WINDOW
    if monitor.type == "latency":
        quantile = monitor.percentile / 100
        quantile_expr = f"histogram_quantile({quantile:g}, sum by (le) (rate({latency_buckets}[{window}])))"
        return f"{quantile_expr} > {monitor.objective:g}"
    total = f"sum(rate({requests}[{window}]))"
    failed = f"sum(rate({errors}[{window}]))"
    if monitor.type == "error-rate":
        return f"100 * {failed} / {total} > {monitor.objective:g}"
    return f"100 * (1 - {failed} / {total}) < {monitor.objective:g}"
