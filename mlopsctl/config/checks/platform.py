"""Add-on versions the config pins (``platform.versions``): each must have what the workloads use.

The features are listed in the add-on catalog (``mlopsctl/data/addons.json``) with the first
release that has them; here each feature is matched to the parts of the config that use it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from mlopsctl.config.addons import catalog, version_key
from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.diagnostics import Diagnostic, Severity
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.sourcemap import Path, format_path

KEDA_METRICS = frozenset({"rps", "concurrency", "gpu-duty-cycle"})
"""Metrics KEDA reads from a variant's own pods (their sidecars or GPUs), which zero pods do not report."""


def _inference_graphs(config: MLOpsConfig) -> Iterator[Path]:
    return (("endpoints", n, "graph") for n, e in config.endpoints.items() if e.graph is not None)


def _keda_autoscaling(config: MLOpsConfig) -> Iterator[Path]:
    for name, endpoint in config.endpoints.items():
        for variant_name, variant in endpoint.variants.items():
            if variant.autoscaling is not None and variant.autoscaling.metric in KEDA_METRICS:
                yield ("endpoints", name, "variants", variant_name, "autoscaling", "metric")


def _endpoints(config: MLOpsConfig) -> Iterator[Path]:
    return (("endpoints", name) for name in config.endpoints)


USES: dict[str, tuple[str, Callable[[MLOpsConfig], Iterator[Path]]]] = {
    "inference-graph": ("an InferenceGraph (a serial endpoint)", _inference_graphs),
    "keda-autoscaling": ("KEDA autoscaling of raw deployments", _keda_autoscaling),
    "v1-api": ("the v1 APIs of networking.istio.io and security.istio.io", _endpoints),
    "crds-enabled-value": ("the chart value crds.enabled that installs its CRDs", _endpoints),
}
"""Feature name in the catalog → what it is, in words, and where the config uses it."""


@check
def pinned_versions(ctx: CheckContext) -> Iterator[Diagnostic]:
    addons = catalog().addons
    for name, version in ctx.config.platform.versions.items():
        addon, path = addons[name], ("platform", "versions", name)
        if version_key(version) == version_key(addon.version):
            continue
        lacking = [
            (feature, first, used)
            for feature, first in addon.features.items()
            if version_key(version) < version_key(first)
            for used in [next(USES[feature][1](ctx.config), None)]
            if used is not None
        ]
        for feature, first, used in lacking:
            yield Diagnostic(
                "E406",
                f"{name} {version} lacks {USES[feature][0]} (from {first}), which {format_path(used)} uses",
                path=path,
                hint=f"pin {first} or later, or remove the pin to get {addon.version}",
            )
        if not lacking:
            yield Diagnostic(
                "W402",
                f"{name} is pinned to {version}: mlopsctl {_tested()} is tested with {addon.version}",
                path=path,
                hint="check the upgrade notes in docs/platform.md, or remove the pin",
                severity=Severity.WARNING,
            )


def _tested() -> str:
    from mlopsctl import __version__

    return __version__


@check
def collected_metrics(ctx: CheckContext) -> Iterator[Diagnostic]:
    """GPU duty cycle is a GKE system metric, which only Managed Prometheus answers queries for."""
    if ctx.config.platform.metrics == "managed":
        return
    for name, endpoint in ctx.config.endpoints.items():
        for variant_name, variant in endpoint.variants.items():
            if variant.autoscaling is not None and variant.autoscaling.metric == "gpu-duty-cycle":
                yield Diagnostic(
                    "E315",
                    f"endpoint '{name}' ({variant_name}) scales on gpu-duty-cycle, a GKE system metric that "
                    "the in-cluster Prometheus does not collect",
                    path=("endpoints", name, "variants", variant_name, "autoscaling", "metric"),
                    hint="scale on concurrency or rps, or use platform.metrics: managed",
                )
