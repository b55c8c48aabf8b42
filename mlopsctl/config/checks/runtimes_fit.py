"""Endpoints whose runtime can use where they run, and whose request log can see their traffic."""

from __future__ import annotations

from collections.abc import Iterator

from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.checks.references import endpoint_members
from mlopsctl.config.diagnostics import Diagnostic
from mlopsctl.config.models.compute import GpuPool, TpuPool
from mlopsctl.config.models.serving import Runtime
from mlopsctl.config.runtimes import RUNTIMES, runtime_key

ACCELERATORS: dict[Runtime, frozenset[str]] = {
    "triton": frozenset({"gpu"}),
    "onnx": frozenset({"gpu"}),
    "tensorflow": frozenset({"gpu"}),
    "pytorch": frozenset({"gpu"}),
    "xgboost": frozenset({"gpu"}),
    "huggingface": frozenset({"gpu"}),
    "sklearn": frozenset(),
}
"""Accelerators each KServe runtime's server can compute on. The images of KServe's
ClusterServingRuntimes are built for CUDA or for the CPU: none of them drives TPU chips,
and scikit-learn has no GPU support."""


@check
def runtime_accelerators(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A variant or graph step on a TPU pool, or asking for GPUs, has a runtime that uses them."""
    pools = ctx.config.accelerators
    for name, endpoint in ctx.config.endpoints.items():
        for label, member_name, member, path in endpoint_members(name, endpoint):
            pool = pools.get(member.node_pool or "")
            model = ctx.config.models.get(member.model)
            if model is None or not isinstance(pool, GpuPool | TpuPool):
                continue  # unknown names are reported by the reference checks
            if isinstance(pool, GpuPool) and not member.accelerators:
                continue  # on a GPU node without GPUs: placement, not the runtime, decides
            runtime = runtime_key(endpoint, model.framework)
            if pool.type in ACCELERATORS[runtime]:
                continue
            what = "TPU chips" if isinstance(pool, TpuPool) else "GPUs"
            able = sorted(r for r, kinds in ACCELERATORS.items() if "gpu" in kinds)
            yield Diagnostic(
                "E204",
                f"{label} '{member_name}' of endpoint '{name}' runs on node pool '{member.node_pool}', "
                f"but its runtime '{runtime}' ({RUNTIMES[runtime].name}) cannot use {what}",
                path=(*path, "nodePool"),
                hint="serve it from a GPU or CPU pool: no KServe runtime mlopsctl deploys uses TPU chips"
                if isinstance(pool, TpuPool)
                else f"serve it from a CPU pool without GPUs; runtimes that use GPUs: {', '.join(able)}",
            )


@check
def grpc_request_logging(ctx: CheckContext) -> Iterator[Diagnostic]:
    """KServe's payload logger sits in the HTTP path: it never sees a gRPC request."""
    for name, endpoint in ctx.config.endpoints.items():
        if endpoint.logging is not None and "http" not in endpoint.protocols:
            yield Diagnostic(
                "E204",
                f"endpoint '{name}' logs requests but serves gRPC only, and KServe's request "
                "logger does not see gRPC traffic: the log would stay empty",
                path=("endpoints", name, "logging"),
                hint="add http to 'protocols' and send the requests to log over HTTP, or remove 'logging'",
            )
