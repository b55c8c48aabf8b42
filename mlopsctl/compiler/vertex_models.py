"""The Vertex AI Model Registry side of endpoints placed on Vertex AI: the ids mlopsctl gives
endpoints and registered models there, and a ``ModelVersion`` per model version they serve.

Only the versions an endpoint serves are uploaded, not every version under ``models``: an upload
is a new registry version each time it is created (a version has no name of ours to be found
by), and a version nobody serves would only be registered to sit there, with artifacts that may
be long gone. Each registered model (``<project>-<model>``) gets the versions the target's
endpoints serve, with the aliases their rollouts give them
(:func:`mlopsctl.config.checks.placement.registry_aliases`: ``default`` for the stable version,
``candidate`` for the one being tried); the aliases move with the rollout.

A version's container environment is set when it is uploaded, and is what every deployment of it
runs with: it holds the feature views the endpoints serving it read online
(:func:`mlopsctl.compiler.vertex_serving.feature_env`), so the same serving code finds them as on GKE.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.kms import default_key
from mlopsctl.config.checks.placement import version_aliases
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.naming import model_id
from mlopsctl.config.target import Target
from mlopsctl.config.vertex_catalog import vertex_catalog
from mlopsctl.graph import JSON

ENDPOINT = "gcp:vertex/aiEndpoint:AiEndpoint"
MODEL_VERSION = "mlopsctl:vertex/modelVersion:ModelVersion"
DEPLOYMENT = "mlopsctl:vertex/deployment:Deployment"
MODEL_MONITOR = "mlopsctl:vertex/modelMonitor:ModelMonitor"

ENDPOINT_ID_DIGITS = 9
"""Vertex AI takes an endpoint id of our choosing: a numeric one has at most nine digits and no leading
zero (CreateEndpointRequest.endpoint_id; pulumi-gcp's AiEndpoint says ten, so nine satisfies both)."""
SERVING_PORT = 8080
"""The port Vertex AI's prebuilt serving containers listen on (a ModelVersion's ``containerPorts``)."""


def endpoint_id(project: str, target: Target, endpoint: str) -> str:
    """The id of an endpoint on Vertex AI (the AiEndpoint's ``name``): nine digits from a hash of
    the project, environment, region and endpoint names.

    It must stay stable: it is the endpoint's identity, so another id replaces the endpoint (a new
    URL for its callers, its models deployed anew) and leaves alert policies and monitors watching
    the old one. Never change how it is derived.
    """
    return _digits("/".join((project, target.env, target.region, endpoint)), ENDPOINT_ID_DIGITS)


DEPLOYED_MODEL_ID_DIGITS = 10
"""A DeployedModel id of our choosing has at most ten digits (``DeployedModel.id``)."""


def deployed_model_id(endpoint: str, immutable: Mapping[str, JSON]) -> str:
    """The id of a deployed model on the endpoint of id ``endpoint``: ten digits from a hash of what
    Vertex AI cannot change on a deployed model (``immutable``: its key, model version, machine,
    accelerators and account), so a change of any of them deploys a model of another id beside the
    old one, and the request log's ``deployed_model_id`` names the variant and version that answered."""
    return _digits(json.dumps([endpoint, immutable], sort_keys=True), DEPLOYED_MODEL_ID_DIGITS)


def _digits(key: str, count: int) -> str:
    """``count`` digits, the first not 0, from a hash of ``key``."""
    number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    lowest = 10 ** (count - 1)
    return str(lowest + number % (9 * lowest))


def endpoint_resource(ctx: BuildContext, endpoint: str) -> str:
    """The address of the AiEndpoint of ``endpoint``."""
    return ctx.address(ENDPOINT, endpoint)


def version_resource(ctx: BuildContext, model: str, version: str) -> str:
    """The address of the ModelVersion of ``model`` ``version``."""
    return ctx.address(MODEL_VERSION, f"{model}@{version}")


def serving_image(framework: str, region: str, *, gpu: bool = False) -> str:
    """The prebuilt serving container of ``framework`` (its GPU build when ``gpu``), from the one of the
    us, europe and asia registries that Vertex AI publishes it in that is nearest ``region``."""
    area = region.split("-")[0]
    nearest = "europe" if area == "europe" else "asia" if area in ("asia", "australia") else "us"
    catalog = vertex_catalog()
    image = (catalog.gpu_containers if gpu else catalog.containers)[framework]
    return image.replace("us-docker.pkg.dev", f"{nearest}-docker.pkg.dev", 1)


def serving_container(framework: str, region: str, *, gpu: bool = False) -> dict[str, JSON] | None:
    """The container a version of a ``framework`` model serves from in ``region``, as a ModelVersion
    registers it (``imageUri``, ``ports``); None when Vertex AI has no prebuilt one for it."""
    if framework not in vertex_catalog().containers:
        return None
    return {"imageUri": serving_image(framework, region, gpu=gpu), "ports": [SERVING_PORT]}


def on_gpus(config: MLOpsConfig) -> set[tuple[str, str]]:
    """The (model, version) pairs that a variant serves with accelerators: a version's container is
    set when it is uploaded, so it is the GPU build for all its deployments (check refuses accelerators
    for a framework without one)."""
    return {
        (v.model, v.version) for e in config.endpoints.values() for v in e.variants.values() if v.accelerators
    }


def add_model_versions(ctx: BuildContext, env: Mapping[tuple[str, str], list[JSON]]) -> None:
    """A ModelVersion of every model version an endpoint serves, its container given ``env`` of it
    (by model and version; none when absent)."""
    gpus = on_gpus(ctx.config)
    for (model, version), aliases in version_aliases(ctx.config).items():
        registered = ctx.config.models[model]
        spec = registered.versions[version]
        inputs: dict[str, JSON] = {
            "project": ctx.gcp_project,
            "location": ctx.target.region,
            "modelId": model_id(ctx.config, model),
            "displayName": model,
            "artifactUri": spec.artifact_uri,
            "containerImageUri": serving_image(
                registered.framework, ctx.target.region, gpu=(model, version) in gpus
            ),
            "versionAliases": list(aliases),
            "labels": ctx.gcp_labels({**spec.labels, "mlops-model": model}),
        }
        if spec.description or registered.description:
            inputs["description"] = spec.description or registered.description
        if env.get((model, version)):
            inputs["containerEnv"] = env[(model, version)]
        encryption, key_deps = default_key(ctx, "aiplatform", "kmsKeyName")
        ctx.add(
            MODEL_VERSION,
            f"{model}@{version}",
            {**inputs, **encryption},
            source=("models", model, "versions", version),
            depends_on=key_deps,
        )
