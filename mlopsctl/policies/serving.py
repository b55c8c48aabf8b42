"""Endpoints in production: replicas, gradual rollouts, canary steps and drift monitors."""

from __future__ import annotations

from collections.abc import Iterator

from mlopsctl.compiler.serving import INFERENCE_SERVICE
from mlopsctl.compiler.vertex_models import DEPLOYMENT
from mlopsctl.config.diagnostics import plural
from mlopsctl.config.models.monitoring import DataMonitor
from mlopsctl.config.models.serving import Canary, Shadow
from mlopsctl.graph import as_mapping
from mlopsctl.policies import Finding, PolicyContext, policy

KSERVE_MIN_REPLICAS = 1
"""The replicas KServe keeps of a predictor that sets no ``minReplicas``."""
ENDPOINT_LABEL = "mlopsctl.dev/endpoint"
VARIANT_LABEL = "mlopsctl.dev/variant"


@policy("MLP001")
def production_replicas(ctx: PolicyContext) -> Iterator[Finding]:
    """On GKE each variant is an InferenceService; on Vertex AI an endpoint's Deployment lists its
    variants as deployed models."""
    if not ctx.production:
        return
    for isvc in ctx.of_type(INFERENCE_SERVICE):  # a template override may render anything
        labels = as_mapping(as_mapping(isvc.inputs.get("metadata")).get("labels"))
        endpoint, variant = labels.get(ENDPOINT_LABEL), labels.get(VARIANT_LABEL)
        replicas = as_mapping(as_mapping(isvc.inputs.get("spec")).get("predictor")).get("minReplicas")
        if (
            not isinstance(endpoint, str)
            or endpoint not in ctx.config.endpoints
            or not isinstance(variant, str)
        ):
            continue  # not a variant of a declared endpoint
        if replicas is None:  # left out by a template override: KServe's default
            yield from _replicas(ctx, endpoint, variant, KSERVE_MIN_REPLICAS, isvc.address, omitted=True)
        elif isinstance(replicas, int) and not isinstance(replicas, bool):
            yield from _replicas(ctx, endpoint, variant, replicas, isvc.address)
    for deployment in ctx.of_type(DEPLOYMENT):
        for model in deployment.inputs["deployedModels"]:
            endpoint, variant = deployment.name, model["key"]
            yield from _replicas(ctx, endpoint, variant, model["minReplicaCount"], deployment.address)


def _replicas(
    ctx: PolicyContext, endpoint: str, variant: str, replicas: int, address: str, *, omitted: bool = False
) -> Iterator[Finding]:
    """A finding if ``variant`` of ``endpoint`` keeps fewer replicas than production needs."""
    wanted = ctx.settings.min_replicas
    spec = ctx.config.endpoints[endpoint]
    if spec.graph is not None or (isinstance(spec.rollout, Shadow) and spec.rollout.shadow == variant):
        return  # graph steps take no replica settings; a shadow only receives copies
    if replicas < wanted:
        why = " (its InferenceService template leaves out spec.predictor.minReplicas)" if omitted else ""
        yield Finding(
            f"endpoint '{endpoint}' ({variant}) keeps {plural(replicas, 'replica')}{why} in "
            f"{ctx.target.env}; production needs at least {wanted}",
            hint=(
                "render spec.predictor.minReplicas in the template override, as the built-in template does"
                if omitted
                else f"set minReplicas: {wanted} (e.g. in environments.{ctx.target.env}.overrides)"
            ),
            address=address,
            path=("endpoints", endpoint, "variants", variant, "minReplicas"),
        )


@policy("MLP002")
def gradual_rollout(ctx: PolicyContext) -> Iterator[Finding]:
    if not ctx.production:
        return
    for name, endpoint in ctx.config.endpoints.items():
        rollout, path = endpoint.rollout, ("endpoints", name, "rollout")
        if isinstance(rollout, Canary) and rollout.steps[0] == 100:
            yield Finding(
                f"the canary of endpoint '{name}' sends all traffic to the candidate in one step "
                f"in {ctx.target.env}",
                hint="give the canary several steps, e.g. steps: [5, 25, 50, 100], or switch with "
                "blue-green, which keeps the previous version deployed",
                path=(*path, "steps"),
            )


@policy("MLP003")
def canary_first_step(ctx: PolicyContext) -> Iterator[Finding]:
    most = ctx.settings.canary_max_first_step
    for name, endpoint in ctx.config.endpoints.items():
        rollout = endpoint.rollout
        if isinstance(rollout, Canary) and rollout.steps[0] > most:
            yield Finding(
                f"the canary of endpoint '{name}' starts at {rollout.steps[0]}% of traffic; "
                f"the first step may send at most {most:g}%",
                hint="start with a smaller step, or raise policies.canaryMaxFirstStep",
                path=("endpoints", name, "rollout", "steps", 0),
            )


@policy("MLP009")
def drift_monitor(ctx: PolicyContext) -> Iterator[Finding]:
    if not ctx.production:
        return
    watched = {
        m.endpoint for m in ctx.config.monitors.values() if isinstance(m, DataMonitor) and m.type == "drift"
    }
    for name in ctx.config.endpoints:
        if name not in watched:
            yield Finding(
                f"production endpoint '{name}' has no drift monitor in {ctx.target.env}",
                hint=f"add a monitor with type: drift and endpoint: {name} "
                "(it reads the endpoint's request log)",
                path=("endpoints", name),
            )
