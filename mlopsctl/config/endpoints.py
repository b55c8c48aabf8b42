"""What an endpoint's config implies before anything is built: the members that become
InferenceServices, and the member that serves a batch job's rows."""

from __future__ import annotations

from dataclasses import dataclass

from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.models.serving import BatchJob, Endpoint, Variant
from mlopsctl.config.naming import inference_service, namespace, predictor_service, service_host
from mlopsctl.config.runtimes import protocol_version, runtime_key
from mlopsctl.config.sourcemap import Path


def members(name: str, endpoint: Endpoint) -> list[tuple[str, Variant, Path]]:
    """What becomes an InferenceService: each variant, or each graph step (with a variant's defaults)."""
    if endpoint.graph is None:
        return [(v, variant, ("endpoints", name, "variants", v)) for v, variant in endpoint.variants.items()]
    return [
        (
            s,
            Variant(
                model=step.model,
                version=step.version,
                accelerators=step.accelerators,
                node_pool=step.node_pool,
            ),
            ("endpoints", name, "graph", "steps", s),
        )
        for s, step in endpoint.graph.steps.items()
    ]


@dataclass(frozen=True)
class BatchEndpoint:
    """The InferenceService a batch job sends its rows to: one that serves its model version."""

    endpoint: str
    member: str
    url: str
    """Its predictor Service inside the cluster, over HTTP (port 80)."""
    protocol: str
    model_name: str
    """The name its model server serves the model under: the InferenceService's."""


def batch_endpoint(config: MLOpsConfig, job: BatchJob) -> BatchEndpoint | None:
    """The first variant (or graph step) of an endpoint that serves the job's model version over HTTP."""
    for name, endpoint in config.endpoints.items():
        if "http" not in endpoint.protocols:
            continue
        for member, variant, _ in members(name, endpoint):
            if (variant.model, variant.version) == (job.model, job.version):
                runtime = runtime_key(endpoint, config.models[variant.model].framework)
                return BatchEndpoint(
                    endpoint=name,
                    member=member,
                    url=f"http://{service_host(predictor_service(name, member), namespace(config))}",
                    protocol=protocol_version(endpoint, runtime),
                    model_name=inference_service(name, member),
                )
    return None
