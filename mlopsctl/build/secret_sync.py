"""Secret Manager secrets copied into the Kubernetes Secrets that pipeline steps read.

Kubeflow Pipelines passes a secret to a step only from a Kubernetes Secret
(``use_secret_as_env`` in :mod:`mlopsctl.build.kfp_dag`), and the secret's value must
never enter Git. So each pipeline that reads secrets gets a CronJob that copies them,
every few minutes, from Secret Manager into Secrets named by
:func:`~mlopsctl.build.kfp_dag.secret_object_name`. It runs as the pipeline's own
identity, which the IAM step lets read exactly those secrets.

Stage contract: ``mlopsctl-stage sync-secrets --config JSON`` (``project.stageImage``),
with ``namespace`` and ``secrets``, a list of ``{"name", "key", "reference"}``: read
the secret version ``reference`` (``projects/P/secrets/S/versions/V``) and create or
update the Secret ``name`` so that its ``key`` holds the payload.
"""

from __future__ import annotations

import json

from mlopsctl.build import rbac
from mlopsctl.build.context import BuildContext
from mlopsctl.build.iam import secret_parts
from mlopsctl.build.identity import NAMESPACE, identity_of
from mlopsctl.build.kfp_dag import STAGE_PROGRAM, secret_object_name
from mlopsctl.build.pods import run_to_completion_pod
from mlopsctl.build.schedules import CRONJOB_NAME_LIMIT
from mlopsctl.graph import JSON
from mlopsctl.naming import namespace, shorten

SYNC_SCHEDULE = "*/10 * * * *"
SECRET_KEY = "value"
"""The key of the Secret's data holding the payload (what the pipeline steps read)."""


def build(ctx: BuildContext) -> None:
    for name, pipeline in ctx.config.pipelines.items():
        references = sorted({ref for step in pipeline.steps.values() for ref in step.secrets.values()})
        if references:
            _sync(ctx, name, pipeline.service_account, references)


def synced_secrets(ctx: BuildContext, references: list[str]) -> list[JSON]:
    found: list[JSON] = []
    for reference in references:
        project, secret, version = secret_parts(ctx, reference)
        found.append(
            {
                "name": secret_object_name(reference),
                "key": SECRET_KEY,
                "reference": f"projects/{project}/secrets/{secret}/versions/{version}",
            }
        )
    return found


def _sync(ctx: BuildContext, pipeline: str, declared: str | None, references: list[str]) -> None:
    ns = namespace(ctx.config)
    who = identity_of(ctx, "pipeline", pipeline, declared)
    source = ("pipelines", pipeline)
    secrets = synced_secrets(ctx, references)
    names = [secret_object_name(ref) for ref in references]
    rules = [
        rbac.rule("", ["secrets"], ["get", "patch", "update"], names),
        # Creating cannot be limited by name in Kubernetes RBAC.
        rbac.rule("", ["secrets"], ["create"]),
    ]
    binding = rbac.grant(
        ctx, f"pipeline-{pipeline}-secret-sync", who.ksa, rules, component="secret-sync", source=source
    )
    config = json.dumps({"namespace": ns, "secrets": secrets}, sort_keys=True)
    container: dict[str, JSON] = {
        "name": "sync-secrets",
        "image": ctx.config.project.stage_image,
        "command": [STAGE_PROGRAM, "sync-secrets"],
        "args": ["--config", config],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
    }
    labels = ctx.k8s_labels("secret-sync")
    ctx.add_manifest(
        "job-cronjob",
        source=source,
        depends_on=(ctx.address(NAMESPACE, ns), ctx.address(rbac.SERVICE_ACCOUNT, who.ksa), binding.address),
        name=shorten(f"{pipeline}-secret-sync", CRONJOB_NAME_LIMIT),
        namespace=ns,
        labels=labels,
        schedule=SYNC_SCHEDULE,
        time_zone="Etc/UTC",
        concurrency_policy="Forbid",
        backoff_limit=2,
        pod=run_to_completion_pod(labels, who.ksa, container, "Never"),
    )
