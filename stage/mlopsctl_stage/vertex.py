"""Vertex AI through the GAPIC layer of google-cloud-aiplatform (``google.cloud.aiplatform_v1``), REST
transport; and runs of pipelines on Vertex AI Pipelines, the ``backend: vertex`` of ``start-run`` and of
the retrain action of ``drift``/``skew`` (docs/stages.md).

Clients talk to ``{location}-aiplatform.googleapis.com`` with Application Default Credentials, or,
when ``MLOPSCTL_VERTEX_ENDPOINT`` names a local stand-in (``http://127.0.0.1:PORT``), to it with
anonymous credentials.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlopsctl_stage import storage
from mlopsctl_stage.errors import StageError
from mlopsctl_stage.runs import Started

ENDPOINT_ENV = "MLOPSCTL_VERTEX_ENDPOINT"
CONSOLE = (
    "https://console.cloud.google.com/vertex-ai/locations/{location}/pipelines/runs/{job}?project={project}"
)
MODEL_CONSOLE = (
    "https://console.cloud.google.com/vertex-ai/models/locations/{location}/models/{model}"
    "/versions/{version}/properties?project={project}"
)
_REQUIRED = ("project", "location", "pipelineSpecUri", "pipelineRoot", "displayName")
ACTIVE_STATES = ("PIPELINE_STATE_QUEUED", "PIPELINE_STATE_PENDING", "PIPELINE_STATE_RUNNING")
"""The states of a PipelineJob that is not over yet."""
ACTIVE_SCAN = 50
"""How many of a pipeline's newest jobs are looked at for one not over yet."""
_JOB_ID = re.compile(r"[^a-z0-9-]+")


def client(service: str, location: str) -> Any:
    """A ``google.cloud.aiplatform_v1`` client (``service``: its class name) for ``location``."""
    from google.cloud import aiplatform_v1

    override = os.environ.get(ENDPOINT_ENV)
    if override:
        from google.auth.credentials import AnonymousCredentials

        return getattr(aiplatform_v1, service)(
            transport="rest",
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": override},
        )
    return getattr(aiplatform_v1, service)(
        transport="rest", client_options={"api_endpoint": f"{location}-aiplatform.googleapis.com"}
    )


@contextmanager
def api_errors(what: str) -> Iterator[None]:
    """Vertex AI API, credential and connection failures as one-line StageErrors."""
    from google.api_core.exceptions import GoogleAPICallError
    from google.auth.exceptions import GoogleAuthError

    try:
        yield
    except GoogleAPICallError as error:
        raise StageError(what, f"Vertex AI API: {error.code} {error.message}") from None
    except GoogleAuthError as error:
        raise StageError(what, f"no Google credentials: {error}") from None
    except OSError as error:  # requests' connection errors among them
        raise StageError(what, f"Vertex AI API unreachable: {error}") from None


@dataclass(frozen=True)
class VertexTarget:
    """A compiled pipeline to run on Vertex AI Pipelines, where, with what and as whom."""

    project: str
    location: str
    spec_uri: str
    pipeline_root: str
    display_name: str
    service_account: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    kms_key_name: str = ""
    """The customer-managed key the PipelineJob and what it makes are encrypted with (none: Google's)."""

    @classmethod
    def from_config(cls, config: dict[str, Any], subject: str) -> VertexTarget:
        missing = [key for key in _REQUIRED if not isinstance(config.get(key), str) or not config[key]]
        if missing:
            raise StageError(subject, f"missing {', '.join(missing)}")
        if not config["pipelineRoot"].startswith("gs://"):
            raise StageError(f"{subject}.pipelineRoot", "must be a gs:// folder")
        labels = config.get("labels") or {}
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise StageError(f"{subject}.labels", "must be an object of strings")
        parameters = config.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise StageError(f"{subject}.parameters", "must be an object")
        key = config.get("kmsKeyName", "")
        if not isinstance(key, str) or (key and "/cryptoKeys/" not in key):
            raise StageError(f"{subject}.kmsKeyName", "must be a key's resource name (.../cryptoKeys/KEY)")
        return cls(
            project=config["project"],
            location=config["location"],
            spec_uri=config["pipelineSpecUri"],
            pipeline_root=config["pipelineRoot"],
            display_name=config["displayName"],
            service_account=config.get("serviceAccount") or None,
            labels=labels,
            parameters=parameters,
            kms_key_name=key,
        )

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.location}"


class VertexRuns:
    """Runs (PipelineJobs) of the compiled PipelineSpec at ``pipelineSpecUri``, sent inline: the API's
    ``templateUri`` takes no ``gs://``. The last run is the newest job of the spec's pipeline name that
    carries the target's labels."""

    def __init__(self, target: VertexTarget) -> None:
        self.target = target
        self.pipeline = target.display_name
        self.version = target.spec_uri
        self._spec: dict[str, Any] | None = None
        self._client: Any = None

    @property
    def pipelines(self) -> Any:
        """The PipelineServiceClient of the target's location."""
        if self._client is None:
            self._client = client("PipelineServiceClient", self.target.location)
        return self._client

    def spec(self) -> dict[str, Any]:
        if self._spec is None:
            subject = f"pipelineSpecUri ({self.target.spec_uri})"
            try:
                spec = json.loads(storage.read_bytes(self.target.spec_uri))
            except StageError as error:
                raise StageError(subject, error.why) from None
            except ValueError as error:
                raise StageError(subject, f"not a compiled PipelineSpec in JSON: {error}") from None
            name = spec.get("pipelineInfo", {}).get("name") if isinstance(spec, dict) else None
            if not isinstance(name, str) or not name:
                raise StageError(subject, "not a compiled PipelineSpec: no pipelineInfo.name")
            self._spec = spec
        return self._spec

    def _newest_jobs(self, count: int) -> list[Any]:
        """The ``count`` newest PipelineJobs of the spec's pipeline name carrying the target's labels."""
        from google.cloud import aiplatform_v1

        terms = [f"pipeline_name={json.dumps(self.spec()['pipelineInfo']['name'])}"]
        terms += [f"labels.{key}={json.dumps(value)}" for key, value in sorted(self.target.labels.items())]
        request = aiplatform_v1.ListPipelineJobsRequest(
            parent=self.target.parent,
            filter=" AND ".join(terms),
            order_by="create_time desc",
            page_size=count,
        )
        with api_errors(f"pipeline jobs in {self.target.parent}"):
            return list(itertools.islice(self.pipelines.list_pipeline_jobs(request), count))

    def last_run_created(self) -> datetime | None:
        newest = self._newest_jobs(1)
        return newest[0].create_time.astimezone(UTC) if newest else None

    def active_run(self) -> str | None:
        """Of the :data:`ACTIVE_SCAN` newest jobs, the newest that is queued, pending or running."""
        active = (j for j in self._newest_jobs(ACTIVE_SCAN) if j.state.name in ACTIVE_STATES)
        return next((str(j.name).rsplit("/", 1)[-1] for j in active), None)

    def start(self) -> Started:
        from google.cloud import aiplatform_v1

        spec, target = self.spec(), self.target
        job = aiplatform_v1.PipelineJob(
            display_name=target.display_name,
            pipeline_spec=spec,
            runtime_config=aiplatform_v1.PipelineJob.RuntimeConfig(
                gcs_output_directory=target.pipeline_root, parameter_values=target.parameters
            ),
            service_account=target.service_account or "",
            labels=target.labels,
        )
        if target.kms_key_name:
            job.encryption_spec = aiplatform_v1.EncryptionSpec(kms_key_name=target.kms_key_name)
        with api_errors(f"pipeline job of {target.spec_uri} in {target.parent}"):
            created = self.pipelines.create_pipeline_job(
                parent=target.parent, pipeline_job=job, pipeline_job_id=job_id(spec["pipelineInfo"]["name"])
            )
        name = str(created.name)
        run_id = name.rsplit("/", 1)[-1]
        link = CONSOLE.format(location=target.location, job=run_id, project=target.project)
        return Started(run_id, target.display_name, link)

    def describe(self, started: Started) -> str:
        return (
            f"Started pipeline job {self.target.parent}/pipelineJobs/{started.run_id} "
            f"({started.display_name}) of {self.target.spec_uri}.\nConsole: {started.link}"
        )


def job_id(pipeline: str, now: datetime | None = None) -> str:
    """``PIPELINE-YYYYMMDDHHMMSS`` as the API takes it (``[a-z][-a-z0-9]{0,127}``), as the SDK names jobs."""
    name = _JOB_ID.sub("-", pipeline.lower()).strip("-") or "pipeline"
    name = name if name[0].isalpha() else f"p-{name}"
    return f"{name[:110].rstrip('-')}-{(now or datetime.now(UTC)):%Y%m%d%H%M%S}"
