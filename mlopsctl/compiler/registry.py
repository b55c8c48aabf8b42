"""Artifact Registry: the Docker repository mlopsctl creates for the project's images, and the
repositories that the images the config names come from.

Vertex AI pulls the images of a pipeline's steps as the project's Vertex AI service agent, whatever
account the run executes as. The agent may pull from its own project's repositories; from any other
project's it needs ``roles/artifactregistry.reader`` on the repository, granted here for each one an
image of a pipeline on Vertex AI comes from. Cloud Run's service agent pulls the image of the Cloud
Run jobs that start runs on new data, and gets the same grant (``agent_image_reader``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from mlopsctl.compiler import kms
from mlopsctl.compiler.apis import service_agent
from mlopsctl.compiler.context import BuildContext
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.naming import repository_id
from mlopsctl.config.sourcemap import Path
from mlopsctl.graph import JSON, fn_output

REPOSITORY = "gcp:artifactregistry/repository:Repository"
REPOSITORY_IAM_MEMBER = "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember"
READER = "roles/artifactregistry.reader"
KEEP_RECENT_VERSIONS = 20
UNTAGGED_MAX_AGE = "2592000s"  # 30 days

CLEANUP_POLICIES: list[JSON] = [
    {
        "id": "keep-recent",
        "action": "KEEP",
        "mostRecentVersions": {"keepCount": KEEP_RECENT_VERSIONS},
    },
    {
        "id": "delete-old-untagged",
        "action": "DELETE",
        "condition": {"tagState": "UNTAGGED", "olderThan": UNTAGGED_MAX_AGE},
    },
]
"""Untagged images older than 30 days go, except the most recent versions of each image;
tagged images (what deployments reference) are never deleted."""


def repository_address(ctx: BuildContext) -> str:
    return ctx.address(REPOSITORY, repository_id(ctx.config))


def build(ctx: BuildContext) -> None:
    key_id, key_deps = kms.key_reference(ctx, None, "artifactregistry")
    inputs: dict[str, JSON] = {
        "repositoryId": repository_id(ctx.config),
        "project": ctx.gcp_project,
        "location": ctx.target.region,
        "format": "DOCKER",
        "description": f"Images of {ctx.config.project.name} ({ctx.target.env}), managed by mlopsctl.",
        "dockerConfig": {"immutableTags": True},
        "cleanupPolicyDryRun": False,
        "cleanupPolicies": CLEANUP_POLICIES,
        "labels": ctx.gcp_labels(),
    }
    if key_id:
        inputs["kmsKeyName"] = key_id
    ctx.add(
        REPOSITORY,
        repository_id(ctx.config),
        inputs,
        source=("project",),
        depends_on=key_deps,
        protect=True,
    )
    _vertex_image_readers(ctx)


def _vertex_image_readers(ctx: BuildContext) -> None:
    if ctx.config.placement.pipelines != "vertex" or not ctx.config.pipelines:
        return
    for image, source in config_images(ctx.config):
        agent_image_reader(ctx, "vertex", image, source)


AGENT_READERS = {"vertex": "vertex-ai-agent-reader", "cloudrunv2": "cloud-run-agent-reader"}
"""The service agents that pull images for what mlopsctl creates → the name of their grants."""


def agent_image_reader(ctx: BuildContext, api: str, image: str, source: Path) -> str | None:
    """The address of the grant that lets the service agent of ``api`` (``AGENT_READERS``) pull
    ``image`` from another project's Artifact Registry repository (added once); None when the image
    is in this project (the agent may already pull it) or in no Artifact Registry repository."""
    repo = repository_of(image)
    if repo is None or repo.project == ctx.gcp_project:
        return None
    name = f"{AGENT_READERS[api]}-{repo.project}-{repo.location}-{repo.repository}".replace(":", "-")
    address = ctx.address(REPOSITORY_IAM_MEMBER, name)
    if address in ctx.graph.resources:
        return address
    agent = service_agent(ctx, api, source)
    return ctx.add(
        REPOSITORY_IAM_MEMBER,
        name,
        {
            "project": repo.project,
            "location": repo.location,
            "repository": repo.repository,
            "role": READER,
            "member": fn_output(agent, "member"),
        },
        source=source,
        depends_on=(agent,),
    ).address


@dataclass(frozen=True)
class RepositoryRef:
    """An Artifact Registry repository, as its IAM members name it."""

    project: str
    location: str
    repository: str


_DOCKER_HOST = re.compile(r"^(?P<location>[a-z0-9-]+)-docker\.pkg\.dev$")


def repository_of(image: str) -> RepositoryRef | None:
    """The repository of an image ``LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE[:TAG|@DIGEST]``
    (a domain-scoped project ``example.com:p`` is written ``example.com/p``); None for any other
    registry."""
    host, *path = image.split("/")
    found = _DOCKER_HOST.match(host)
    if found is None:
        return None
    if path and "." in path[0]:  # domain-scoped: the domain, then the project
        path = [f"{path[0]}:{path[1]}", *path[2:]] if len(path) > 1 else []
    if len(path) < 3:
        return None
    return RepositoryRef(path[0], found["location"], path[1])


def config_images(config: MLOpsConfig) -> Iterator[tuple[str, Path]]:
    """Every image the config runs, with where it is named: the stage runtime's (built-in
    steps, launchers, request loggers, monitors, run starters) and each step's own."""
    yield config.project.stage_image, ("project", "stageImage")
    for name, pipeline in config.pipelines.items():
        for step_name, step in pipeline.steps.items():
            if step.image is not None:
                yield step.image, ("pipelines", name, "steps", step_name, "image")
