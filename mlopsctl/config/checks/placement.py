"""What a section placed on Vertex AI asks for must exist there (E407, E401, E402)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.diagnostics import Diagnostic, did_you_mean
from mlopsctl.config.models.serving import Canary, Endpoint, Shadow
from mlopsctl.config.sourcemap import Path
from mlopsctl.config.vertex_catalog import vertex_catalog

_ON_GKE = "or place them on GKE (placement.{section}: gke, per environment under overrides)"


def _refused(path: Path, what: str, instead: str, section: str) -> Diagnostic:
    return Diagnostic("E407", what, path=path, hint=f"{instead}, {_ON_GKE.format(section=section)}")


def _machine(
    machine_type: str | None, accelerators: int, accelerator_type: str | None, base: Path, section: str
) -> Iterator[Diagnostic]:
    """A machine type and accelerator that Vertex AI offers, and that fit together."""
    catalog = vertex_catalog()
    if machine_type is not None and machine_type not in catalog.machine_types:
        yield Diagnostic(
            "E401",
            f"Vertex AI offers no machine type '{machine_type}' (catalog of {catalog.date})",
            path=(*base, "machineType"),
            hint=did_you_mean(machine_type, catalog.machine_types)
            or "use e.g. n1-standard-4 or g2-standard-8",
        )
        return
    if accelerators and accelerator_type is None:
        yield _refused(
            (*base, "accelerators"),
            f"{accelerators} accelerator(s) but no acceleratorType: Vertex AI needs the GPU type",
            "set acceleratorType, e.g. NVIDIA_TESLA_T4 or NVIDIA_L4",
            section,
        )
    if accelerator_type is None:
        return
    families = catalog.accelerator_families.get(accelerator_type)
    if families is None:
        yield Diagnostic(
            "E401",
            f"Vertex AI offers no accelerator type '{accelerator_type}' (catalog of {catalog.date})",
            path=(*base, "acceleratorType"),
            hint=did_you_mean(accelerator_type, catalog.accelerator_families)
            or f"known: {', '.join(sorted(catalog.accelerator_families))}",
        )
        return
    machine = machine_type or catalog.default_machine_type
    if machine.split("-")[0] not in families and section == "endpoints":
        yield Diagnostic(
            "E402",
            f"{accelerator_type} runs on {'/'.join(families)} machines, not on {machine}",
            path=(*base, "machineType" if machine_type else "acceleratorType"),
            hint=f"set machineType to a {families[0]} machine type, e.g. "
            + next(m for m in catalog.machine_types if m.startswith(families[0] + "-")),
        )


def _endpoint(name: str, endpoint: Endpoint, frameworks: Mapping[str, str]) -> Iterator[Diagnostic]:
    base: Path = ("endpoints", name)
    rollout = endpoint.rollout
    if isinstance(rollout, Shadow):
        yield _refused(
            (*base, "rollout", "strategy"),
            "Vertex AI endpoints have no shadow traffic: they only split traffic by weight",
            "use a canary or ab rollout",
            "endpoints",
        )
    if isinstance(rollout, Canary) and rollout.analysis is not None:
        yield _refused(
            (*base, "rollout", "analysis"),
            "Vertex AI endpoints have no metric-gated canary analysis (Flagger runs on GKE)",
            "remove analysis and advance currentStep through the steps",
            "endpoints",
        )
    if endpoint.graph is not None:
        yield _refused(
            (*base, "graph"),
            "Vertex AI endpoints serve one model per deployed model, not an inference graph",
            "serve each model from its own endpoint",
            "endpoints",
        )
    if "grpc" in endpoint.protocols:
        yield _refused(
            (*base, "protocols"),
            "Vertex AI's prebuilt serving containers answer HTTP only",
            "serve protocols: [http]",
            "endpoints",
        )
    for v, variant in endpoint.variants.items():
        at: Path = (*base, "variants", v)
        if variant.node_pool is not None:
            yield _refused(
                (*at, "nodePool"),
                "a Vertex AI endpoint does not run on the project's GKE node pools",
                "remove nodePool and set machineType (and acceleratorType)",
                "endpoints",
            )
        framework = frameworks.get(variant.model)
        if framework is not None and framework not in vertex_catalog().containers:
            yield _refused(
                (*at, "model"),
                f"Vertex AI has no prebuilt serving container for {framework} models",
                f"export the model to one of {', '.join(sorted(vertex_catalog().containers))}",
                "endpoints",
            )
        yield from _machine(
            variant.machine_type, variant.accelerators, variant.accelerator_type, at, "endpoints"
        )


@check
def vertex_endpoints(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Rollouts, variants and machines of endpoints placed on Vertex AI."""
    if ctx.config.placement.endpoints != "vertex":
        return
    frameworks = {name: model.framework for name, model in ctx.config.models.items()}
    for name, endpoint in ctx.config.endpoints.items():
        yield from _endpoint(name, endpoint, frameworks)


@check
def vertex_pipelines(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Pipelines placed on Vertex AI run each step on its own machine: no node pools, no cluster jobs."""
    if ctx.config.placement.pipelines != "vertex":
        return
    for name, pipeline in ctx.config.pipelines.items():
        base: Path = ("pipelines", name)
        if pipeline.node_pool is not None:
            yield _refused(
                (*base, "nodePool"),
                "a Vertex AI pipeline cannot use a GKE node pool",
                "remove nodePool; give steps resources.cpu, memory and acceleratorType",
                "pipelines",
            )
        for s, step in pipeline.steps.items():
            at: Path = (*base, "steps", s)
            if step.resources.node_pool is not None:
                yield _refused(
                    (*at, "resources", "nodePool"),
                    "a Vertex AI pipeline step cannot use a GKE node pool",
                    "remove nodePool; set resources.acceleratorType for a GPU",
                    "pipelines",
                )
            if step.kind == "tune" or step.distributed is not None:
                what = (
                    "a tune step (Katib)"
                    if step.kind == "tune"
                    else "distributed training (a PyTorchJob/TFJob)"
                )
                yield _refused(
                    (*at, "tuning" if step.kind == "tune" else "distributed"),
                    f"{what} runs on the cluster, which a Vertex AI pipeline does not have",
                    "train on one machine with resources.acceleratorType",
                    "pipelines",
                )
            yield from _machine(
                None,
                step.resources.accelerators,
                step.resources.accelerator_type,
                (*at, "resources"),
                "pipelines",
            )
