"""Flagger: a canary with analysis, promoted automatically when its metrics hold (docs/rollouts.md)."""

from __future__ import annotations

from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.istio import MESH, RETRIES, TIMEOUT, Site, seconds, service_port, traffic_policy
from mlopsctl.compiler.metrics import cluster_pin, prometheus_url
from mlopsctl.compiler.serving import predictor_service_ports
from mlopsctl.config.models.serving import Analysis, Canary, Endpoint
from mlopsctl.config.naming import predictor_service
from mlopsctl.graph import JSON


def build_canary(
    ctx: BuildContext,
    site: Site,
    endpoint: Endpoint,
    rollout: Canary,
    analysis: Analysis,
    *,
    host: str,
    gateway: str,
) -> None:
    """A Flagger Canary whose target is a Service selecting the candidate's predictor pods.

    Flagger copies the target into ``<endpoint>-primary`` (kept at what it last promoted) and
    ``<endpoint>-canary``, and writes the VirtualService and DestinationRules itself. The target
    has the one port of the candidate's predictor Service, aimed where KServe aims that one:
    at the logger agent when the endpoint logs requests, so that the copies, and the canary
    traffic through them, pass the agent too. Its built-in Istio metrics select pods by the
    target's name, which names no workload here, so the same gates are written as queries on
    the canary Service, to the cluster's Prometheus API.
    """
    (port,) = predictor_service_ports(ctx.config, site.name, rollout.candidate).values()
    candidate = predictor_service(site.name, rollout.candidate)
    target = site.add(
        ctx,
        "service",
        site.name,
        spec={"selector": {"app": f"isvc.{candidate}"}, "ports": [service_port(port, target=True)]},
    )
    interval = seconds(analysis.interval)
    site.add(
        ctx,
        "canary",
        site.name,
        (gateway, target),
        target=site.name,
        metrics_server=prometheus_url(ctx.config),
        service={
            "port": port.number,
            "portName": port.name,
            "targetPort": port.container,
            "hosts": [host],
            "gateways": [site.name, MESH],
            "timeout": TIMEOUT,
            "retries": RETRIES,
            "trafficPolicy": traffic_policy(endpoint, tcp=False),
        },
        analysis={
            "interval": interval,
            "threshold": analysis.max_failed_checks,
            "stepWeights": list(rollout.steps),
            "metrics": canary_metrics(site, analysis, interval, cluster_pin(ctx.config, ctx.target)),
        },
    )


def canary_metrics(site: Site, analysis: Analysis, interval: str, pin: str = "") -> list[JSON]:
    """Success rate (percent) and p99 latency (ms) of requests sent to the canary Service,
    as the clients' sidecars and the ingress gateway report them; ``pin`` keeps to this cluster's
    series (``metrics.cluster_pin``)."""
    where = (
        f'reporter="source",destination_service_namespace="{site.namespace}",'
        f'destination_service_name="{site.name}-canary"{pin}'
    )
    requests = f"sum(rate(istio_requests_total{{{where}}}[{interval}]))"
    succeeded = f'sum(rate(istio_requests_total{{{where},response_code!~"5.*"}}[{interval}]))'
    latency = (
        f"histogram_quantile(0.99, sum(rate(istio_request_duration_milliseconds_bucket{{{where}}}"
        f"[{interval}])) by (le))"
    )
    return [
        {
            "name": "canary-success-rate",
            "interval": interval,
            "thresholdRange": {"min": analysis.min_success_rate},
            "query": f"{succeeded} / {requests} * 100",
        },
        {
            "name": "canary-latency-p99",
            "interval": interval,
            "thresholdRange": {"max": analysis.max_latency_ms},
            "query": latency,
        },
    ]
