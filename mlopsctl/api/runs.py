"""Runs submitted to an environment's pipelines target: ``mlopsctl run NAME --env E`` without ``--local``."""

from __future__ import annotations

from collections.abc import Mapping

from mlopsctl.api.errors import user_errors
from mlopsctl.api.plans import compiled_target
from mlopsctl.config.project import Validation
from mlopsctl.run.submit import KfpApi, SubmittedRun, submit

__all__ = ["SubmittedRun", "submit_run"]


def submit_run(
    validation: Validation,
    name: str,
    *,
    env: str,
    region: str | None = None,
    params: Mapping[str, str] | None = None,
    kfp_host: str | None = None,
    kfp_token: str | None = None,
) -> SubmittedRun:
    """Submit one run of the pipeline ``name`` to where ``env`` places its pipelines (docs/runs.md).

    The target is ``env`` in ``region`` (default: the environment's first region). On Vertex AI the
    run is a PipelineJob of the pipeline's published template, with Application Default Credentials;
    on GKE a run of its published PipelineVersion through the Kubeflow Pipelines API at ``kfp_host``
    (default: ``$MLOPSCTL_KFP_HOST``) with ``kfp_token`` as a bearer token (default:
    ``$MLOPSCTL_KFP_TOKEN``, if set). Raises :class:`UserError` for what must be fixed
    first (an unknown pipeline or parameter, no KFP host, no credentials) and for a refused run.
    """
    with user_errors():
        target = compiled_target(validation, env, region)
        api = KfpApi(kfp_host, kfp_token)
        return submit(target.config, target.graph, target.base_dir, name, dict(params or {}), api)
