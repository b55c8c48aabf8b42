"""A run on Vertex AI Pipelines: one PipelineJob of a pipeline's published template.

The job is what a schedule of the pipeline posts (``compiler.vertex_pipelines``): the template's
PipelineSpec sent inline (the API's ``templateUri`` takes no ``gs://`` object), the run config's
pipeline root, service account and labels, through google-cloud-aiplatform's GAPIC client on the
REST transport at ``{region}-aiplatform.googleapis.com``, with Application Default Credentials.
``MLOPSCTL_VERTEX_ENDPOINT`` (``http://127.0.0.1:PORT``) replaces the host by a local stand-in,
called without credentials.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.vertex_pipelines import pipeline_job, template_of
from mlopsctl.pulumi.vertex.client import client, describe, location_path
from mlopsctl.run.errors import RunError
from mlopsctl.run.submit import SubmittedRun, run_parameters

CONSOLE = (
    "https://console.cloud.google.com/vertex-ai/locations/{region}/pipelines/runs/{job}?project={project}"
)
LOGIN = "run `gcloud auth application-default login`"
_NOT_ID = re.compile(r"[^a-z0-9-]+")


def submit_vertex(ctx: BuildContext, pipeline: str, given: Mapping[str, str]) -> SubmittedRun:
    """Create a PipelineJob of ``pipeline`` with the ``--param`` values ``given``."""
    template = template_of(ctx, pipeline)
    body = pipeline_job(ctx, pipeline, run_parameters(ctx.config, pipeline, template.spec, given))
    try:
        from google.cloud import aiplatform_v1
    except ImportError:
        raise RunError(
            "a run on Vertex AI needs google-cloud-aiplatform, which the core install leaves out: "
            "pip install 'mlopsctl[vertex]' (or 'mlopsctl[all]')"
        ) from None

    region, project = ctx.target.region, ctx.gcp_project
    parent = location_path(project, region)
    job = aiplatform_v1.PipelineJob.from_json(json.dumps(body))
    with _vertex_errors(f"Vertex AI did not start pipeline {pipeline} in {parent}"):
        service = client(aiplatform_v1.PipelineServiceClient, region)
        created = service.create_pipeline_job(
            parent=parent, pipeline_job=job, pipeline_job_id=job_id(pipeline)
        )
    run_id = str(created.name).rsplit("/", 1)[-1]
    return SubmittedRun(
        pipeline=pipeline,
        target="vertex",
        env=ctx.target.env,
        region=region,
        run_id=run_id,
        link=CONSOLE.format(region=region, job=run_id, project=project),
        display_name=str(body["displayName"]),
        parameters=dict(body["runtimeConfig"]["parameterValues"]),
        source=template.uri,
    )


@contextlib.contextmanager
def _vertex_errors(what: str) -> Iterator[None]:
    """Credential, API and connection failures as one RunError that starts with ``what``."""
    from google.api_core.exceptions import GoogleAPICallError
    from google.auth.exceptions import DefaultCredentialsError, GoogleAuthError

    try:
        yield
    except DefaultCredentialsError as error:
        raise RunError(f"no Google credentials for Vertex AI ({error}): {LOGIN}") from None
    except GoogleAuthError as error:
        raise RunError(f"{what}: the Google credentials were refused ({error}): {LOGIN}") from None
    except GoogleAPICallError as error:
        raise RunError(f"{what}: {describe(error)}") from None
    except OSError as error:  # requests' connection errors among them
        raise RunError(f"{what}: the Vertex AI API is unreachable: {error}") from None


def job_id(pipeline: str, now: datetime | None = None) -> str:
    """``PIPELINE-YYYYMMDDHHMMSS``, as the SDK names jobs, within the API's ``[a-z][-a-z0-9]{0,127}``."""
    name = _NOT_ID.sub("-", pipeline.lower()).strip("-")
    name = name if name[:1].isalpha() else f"p-{name}"
    return f"{name[:110].rstrip('-')}-{(now or datetime.now(UTC)):%Y%m%d%H%M%S}"
