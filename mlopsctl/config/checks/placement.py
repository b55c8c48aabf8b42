"""What a section placed on Vertex AI asks for must exist there (E407, E401, E402), and what it would
ignore is reported (W403)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Literal

from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.checks.vertex_limits import attached_gpus, step_limits
from mlopsctl.config.checks.vertex_machines import (
    built_in_accelerators,
    built_in_gpus,
    count_missing,
    machine_hint,
    same_family,
)
from mlopsctl.config.diagnostics import Diagnostic, Severity, did_you_mean
from mlopsctl.config.durations import parse_duration
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.models.monitoring import DataMonitor
from mlopsctl.config.models.pipelines import Step
from mlopsctl.config.models.serving import ABTest, BlueGreen, Canary, Endpoint, Shadow
from mlopsctl.config.naming import request_log_table
from mlopsctl.config.sourcemap import Path
from mlopsctl.config.vertex_catalog import vertex_catalog

Alias = Literal["default", "candidate"]

_ON_GKE = "or place {what} on GKE ({setting}, per environment under overrides)"


def _refused(path: Path, what: str, instead: str, section: str) -> Diagnostic:
    """``section`` is placed on Vertex AI, where ``what`` cannot be done; monitors move to GKE
    only with the endpoints they watch."""
    if section == "monitors":
        on_gke = _ON_GKE.format(
            what="monitors and endpoints", setting="placement: {monitors: gke, endpoints: gke}"
        )
    else:
        on_gke = _ON_GKE.format(what="them", setting=f"placement.{section}: gke")
    return Diagnostic("E407", what, path=path, hint=f"{instead}, {on_gke}")


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
            hint=did_you_mean(machine_type, same_family(machine_type, catalog.machine_types))
            or "use e.g. n1-standard-4 or g2-standard-8",
        )
        return
    if section == "endpoints" and machine_type in built_in_gpus():
        yield from built_in_accelerators(machine_type, accelerators, accelerator_type, base)
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
    if section == "endpoints":
        yield from count_missing(accelerators, accelerator_type, base)
    machine = machine_type or catalog.default_machine_type
    if machine.split("-")[0] not in families and section == "endpoints":
        yield Diagnostic(
            "E402",
            f"{accelerator_type} runs on {'/'.join(families)} machines, not on {machine}",
            path=(*base, "machineType" if machine_type else "acceleratorType"),
            hint=machine_hint(accelerator_type, accelerators, families),
        )
    elif section == "endpoints":
        yield from attached_gpus(machine, accelerators, accelerator_type, base)


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
    if isinstance(rollout, ABTest) and (rollout.match or rollout.sticky):
        yield _refused(
            (*base, "rollout", "match" if rollout.match else "sticky"),
            "Vertex AI endpoints split traffic by weight only, not by header, cookie or client",
            "remove match and sticky",
            "endpoints",
        )
    if "grpc" in endpoint.protocols:
        yield _refused(
            (*base, "protocols"),
            "Vertex AI's prebuilt serving containers answer HTTP only",
            "serve protocols: [http]",
            "endpoints",
        )
    for setting, field in (("runtime", endpoint.runtime), ("protocolVersion", endpoint.protocol_version)):
        if field is not None:
            yield Diagnostic(
                "W403",
                f"{setting} '{field}' is not used on Vertex AI: a deployed model is served by Vertex AI's "
                "prebuilt container for its framework",
                path=(*base, setting),
                severity=Severity.WARNING,
                hint=f"remove {setting} for this placement (in the environment's overrides), or serve the "
                "endpoint on GKE",
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
        if variant.min_replicas == 0:
            yield _refused(
                (*at, "minReplicas"),
                "a model deployed on Vertex AI keeps at least one replica",
                "set minReplicas to 1 or more",
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
        catalog = vertex_catalog()
        if (
            variant.accelerators
            and framework in catalog.containers
            and framework not in catalog.gpu_containers
        ):
            yield _refused(
                (*at, "accelerators"),
                f"Vertex AI's prebuilt {framework} container serves on CPUs only: the variant's "
                f"{variant.accelerators} GPU(s) would sit idle",
                "remove accelerators and acceleratorType and pick a machine type without GPUs, or export "
                f"the model to one of {', '.join(sorted(catalog.gpu_containers))}",
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
        if endpoint.logging is not None:
            declared = ctx.config.data.datasets.get(endpoint.logging.dataset)
            table = request_log_table(name, endpoint.logging.table)
            if declared is not None and table in declared.tables:
                yield _refused(
                    ("data", "datasets", endpoint.logging.dataset, "tables", table),
                    f"endpoint '{name}' logs to table '{table}', which Vertex AI creates itself: "
                    "it must not exist",
                    f"remove the table, or log to another one (endpoints.{name}.logging.table)",
                    "endpoints",
                )
    yield from _alias_conflicts(ctx.config)


def registry_aliases(endpoint: Endpoint) -> dict[str, Alias]:
    """The Model Registry alias each variant's version gets from its endpoint's rollout: ``default``
    for the variant serving as the stable one (the only variant, a canary's baseline, the active
    blue-green slot, the heaviest A/B variant), ``candidate`` for the one being tried (a canary's
    candidate, the idle slot, the next heaviest A/B variant)."""
    rollout = endpoint.rollout
    if rollout is None:
        order = list(endpoint.variants)
    elif isinstance(rollout, Canary):
        order = [rollout.baseline, rollout.candidate]
    elif isinstance(rollout, ABTest):
        order = sorted(rollout.weights, key=lambda v: -rollout.weights[v])
    elif isinstance(rollout, BlueGreen):
        order = [rollout.blue, rollout.green] if rollout.active == "blue" else [rollout.green, rollout.blue]
    else:
        order = [rollout.primary, rollout.shadow]
    return dict(zip(order, ("default", "candidate"), strict=False))


def version_aliases(config: MLOpsConfig) -> dict[tuple[str, str], list[Alias]]:
    """Each (model, version) the endpoints serve, with the aliases their rollouts give it (see
    :func:`registry_aliases`)."""
    found: dict[tuple[str, str], list[Alias]] = {}
    for endpoint in config.endpoints.values():
        roles = registry_aliases(endpoint)
        for v, variant in endpoint.variants.items():
            aliases = found.setdefault((variant.model, variant.version), [])
            if v in roles and roles[v] not in aliases:
                aliases.append(roles[v])
    return {key: sorted(aliases) for key, aliases in found.items()}


def _alias_conflicts(config: MLOpsConfig) -> Iterator[Diagnostic]:
    """An alias names one version of a registered model: the endpoints must agree on it."""
    claimed: dict[tuple[str, Alias], tuple[str, str]] = {}
    for name, endpoint in config.endpoints.items():
        for v, alias in registry_aliases(endpoint).items():
            variant = endpoint.variants.get(v)
            if variant is None:
                continue  # reported by the reference checks
            first_endpoint, version = claimed.setdefault((variant.model, alias), (name, variant.version))
            if version != variant.version:
                yield _refused(
                    ("endpoints", name, "variants", v, "version"),
                    f"the Model Registry gives one version of model '{variant.model}' the alias "
                    f"'{alias}': endpoint '{first_endpoint}' serves {version} as it, "
                    f"'{name}' {variant.version}",
                    "serve the same version in both rollout roles, or serve one from a model of its own",
                    "endpoints",
                )


@check
def vertex_batch_jobs(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Batch jobs run on GKE and send their rows to an endpoint in the cluster."""
    if ctx.config.placement.endpoints != "vertex":
        return
    for name in ctx.config.batch_jobs:
        yield _refused(
            ("batchJobs", name),
            f"batch job '{name}' sends its rows to an endpoint in the cluster, "
            "but this environment's endpoints are on Vertex AI",
            "score the rows in a pipeline step that loads the model, or remove the batch job here",
            "endpoints",
        )


@check
def vertex_monitors(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Monitors watch endpoints where they run. The runs they start reach the pipelines on either
    placement: on Vertex AI through a Cloud Workflows workflow (pipelines on Vertex AI) or the cluster's
    retrain receiver pulling the monitor's Pub/Sub subscription (pipelines on Kubeflow Pipelines)."""
    config = ctx.config
    placement = config.placement
    for name, monitor in config.monitors.items():
        base: Path = ("monitors", name)
        if placement.monitors != placement.endpoints:
            yield Diagnostic(
                "E407",
                f"monitor '{name}' runs on {_WHERE[placement.monitors]}, "
                f"but the endpoint it watches is on {_WHERE[placement.endpoints]}",
                path=(*base, "endpoint"),
                hint=f"place monitors where the endpoints are (placement.monitors: {placement.endpoints}, "
                "per environment under overrides)",
            )
            continue
        if placement.monitors == "vertex" and isinstance(monitor, DataMonitor):
            yield from _data_monitor(base, monitor)


_WHERE = {"gke": "GKE", "vertex": "Vertex AI"}


def _data_monitor(base: Path, monitor: DataMonitor) -> Iterator[Diagnostic]:
    """What Vertex AI Model Monitoring reads: whole hours of every logged request."""
    window = parse_duration(monitor.window)
    if window == 0 or window % 3600:
        yield _refused(
            (*base, "window"),
            f"Vertex AI Model Monitoring reads whole hours, days or weeks of logs, not {monitor.window}",
            "use a window such as 1h, 24h or 7d",
            "monitors",
        )
    if monitor.sampling_rate != 1:
        yield _refused(
            (*base, "samplingRate"),
            "Vertex AI Model Monitoring reads every request its endpoint logged",
            f"remove samplingRate and lower endpoints.{monitor.endpoint}.logging.samplingRate",
            "monitors",
        )


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
            yield from _kubernetes_only(at, step)
            yield from _machine(
                None,
                step.resources.accelerators,
                step.resources.accelerator_type,
                (*at, "resources"),
                "pipelines",
            )
            yield from step_limits(step.resources, (*at, "resources"))


def _kubernetes_only(at: Path, step: Step) -> Iterator[Diagnostic]:
    """What kfp compiles into the Kubernetes platform spec, which Vertex AI Pipelines does not read:
    Secrets as environment variables, and the pod's deadline."""
    for env in step.secrets:
        yield _refused(
            (*at, "secrets", env),
            f"Vertex AI Pipelines has no Kubernetes Secrets: {env} would not reach the step's container",
            "read the secret in the step's code with the Secret Manager client, as the pipeline's "
            "service account (name a security.serviceAccounts entry with roles "
            "[roles/secretmanager.secretAccessor] as the pipeline's serviceAccount)",
            "pipelines",
        )
    if step.timeout is not None:
        yield _refused(
            (*at, "timeout"),
            "Vertex AI Pipelines has no per-step time limit: timeout is a Kubernetes pod deadline",
            "remove timeout and make the step's own code stop in time",
            "pipelines",
        )
