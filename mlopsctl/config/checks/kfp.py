"""Multi-user Kubeflow Pipelines serves the project's namespace through a Profile, which needs an owner."""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.diagnostics import Diagnostic
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.naming import namespace

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def publishes_pipelines(config: MLOpsConfig) -> bool:
    """Whether the project publishes pipelines to Kubeflow Pipelines (its own, unless they run on
    Vertex AI, or those of its batch jobs)."""
    return bool((config.pipelines and config.placement.pipelines == "gke") or config.batch_jobs)


def is_email(text: str) -> bool:
    return _EMAIL.match(text) is not None


def profile_owner(config: MLOpsConfig) -> str | None:
    """The owner of the namespace's Kubeflow Profile, when it has one: ``project.owner``.

    None when the project publishes no pipeline, or (in a config that skipped validation) names
    no email there."""
    owner = config.project.owner
    return owner if publishes_pipelines(config) and is_email(owner) else None


def namespace_annotations(config: MLOpsConfig) -> dict[str, str]:
    """The annotations of the project's Namespace: with a Profile, ``owner``, which the profile
    controller compares with the Profile's owner before it adopts a namespace that already exists
    (else the Profile fails: "namespace already exist, but not owned by profile creator")."""
    owner = profile_owner(config)
    return {"owner": owner} if owner else {}


_HINT = (
    "set project.owner to the email of the person or group who administers the namespace in "
    "Kubeflow (the owner of its Profile)"
)


@check
def owner_of_profile(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A project that publishes pipelines names an email in ``project.owner``."""
    config = ctx.config
    owner = config.project.owner
    if not publishes_pipelines(config) or is_email(owner):
        return
    why = (
        f"it owns the Kubeflow profile of namespace '{namespace(config)}', where the pipelines are published"
    )
    if not owner:
        yield Diagnostic("E201", f"project.owner is missing: {why}", path=("project",), hint=_HINT)
    else:
        yield Diagnostic(
            "E205", f"project.owner '{owner}' is not an email: {why}", path=("project", "owner"), hint=_HINT
        )
