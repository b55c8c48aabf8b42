"""Endpoints the compiler can serve: a runtime for each model's format and the protocols asked for."""

from __future__ import annotations

from collections.abc import Iterator

from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.checks.platform import KEDA_METRICS
from mlopsctl.config.checks.references import endpoint_members
from mlopsctl.config.diagnostics import Diagnostic
from mlopsctl.config.runtimes import RUNTIMES, protocol_version, runtime_key
from mlopsctl.config.wording import with_article


@check
def runtime_formats(ctx: CheckContext) -> Iterator[Diagnostic]:
    """The endpoint's runtime serves the framework of each of its models."""
    for name, endpoint in ctx.config.endpoints.items():
        if endpoint.runtime is None:
            continue  # the default runtime of a framework serves it
        runtime = RUNTIMES[endpoint.runtime]
        for model_name in sorted({spec.model for _, _, spec, _ in endpoint_members(name, endpoint)}):
            model = ctx.config.models.get(model_name)
            if model is None or model.framework in runtime.formats:
                continue  # an unknown model is reported by the reference checks
            able = sorted(k for k, r in RUNTIMES.items() if model.framework in r.formats)
            yield Diagnostic(
                "E204",
                f"runtime '{endpoint.runtime}' of endpoint '{name}' cannot serve model "
                f"'{model_name}': it is {with_article(model.framework)} model",
                path=("endpoints", name, "runtime"),
                hint=f"use runtime {' or '.join(able)}, or leave 'runtime' out to default to one",
            )


@check
def runtime_protocols(ctx: CheckContext) -> Iterator[Diagnostic]:
    """The runtime speaks the protocol version over the endpoint's main transport: HTTP when
    it is served (gRPC then speaks what the runtime's gRPC server speaks), else gRPC."""
    for name, endpoint in ctx.config.endpoints.items():
        models = (ctx.config.models.get(spec.model) for _, _, spec, _ in endpoint_members(name, endpoint))
        transport = "http" if "http" in endpoint.protocols else "grpc"
        for key in sorted({runtime_key(endpoint, m.framework) for m in models if m is not None}):
            version = protocol_version(endpoint, key)
            runtime = RUNTIMES[key]
            served = runtime.http if transport == "http" else runtime.grpc
            if version not in served:
                yield Diagnostic(
                    "E204",
                    f"runtime '{key}' of endpoint '{name}' does not serve {version} over {transport}",
                    path=("endpoints", name, "protocolVersion" if endpoint.protocol_version else "protocols"),
                    hint=f"over {transport} it serves {' and '.join(sorted(served))}"
                    + ("" if endpoint.protocol_version else f": set 'protocolVersion: {min(served)}'"),
                )


@check
def graph_protocols(ctx: CheckContext) -> Iterator[Diagnostic]:
    """KServe's inference graph router answers HTTP only."""
    for name, endpoint in ctx.config.endpoints.items():
        if endpoint.graph is not None and "grpc" in endpoint.protocols:
            yield Diagnostic(
                "E204",
                f"endpoint '{name}' is an inference graph, which serves HTTP only, not gRPC",
                path=("endpoints", name, "protocols"),
                hint="use 'protocols: [http]', or serve the steps as endpoints of their own for gRPC",
            )


@check
def scale_from_zero(ctx: CheckContext) -> Iterator[Diagnostic]:
    """On GKE, a variant that KEDA may scale to zero never starts again: with no replica, nothing
    reports the requests or duty cycle it scales on, so KEDA reads 0 and every request gets a 503."""
    if ctx.config.placement.endpoints == "vertex":
        return  # Vertex AI's own checks refuse minReplicas: 0 there
    for name, endpoint in ctx.config.endpoints.items():
        for variant_name, variant in endpoint.variants.items():
            metric = variant.autoscaling.metric
            if variant.min_replicas == 0 and metric in KEDA_METRICS:
                yield Diagnostic(
                    "E315",
                    f"endpoint '{name}' ({variant_name}) scales on {metric} from minReplicas 0, but with no "
                    f"replica nothing reports {metric}: KEDA would read 0 and never start one, and every "
                    "request would fail with 503",
                    path=("endpoints", name, "variants", variant_name, "minReplicas"),
                    hint="set minReplicas to 1 or more",
                )
