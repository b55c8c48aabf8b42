"""Artifact Registry: the Docker repository the target's workloads pull their images from."""

from __future__ import annotations

from mlopsctl.build import kms
from mlopsctl.build.context import BuildContext
from mlopsctl.graph import JSON
from mlopsctl.naming import repository_id

REPOSITORY = "gcp:artifactregistry/repository:Repository"
REPOSITORY_IAM_MEMBER = "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember"
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
