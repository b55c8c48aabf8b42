"""Runs of published pipeline versions, started through the KFP v2beta1 REST API (kfp-server-api).

Shared by ``start-run`` and by the retrain action of ``drift``/``skew``. A run target is the
``start-run`` config of docs/runs.md: ``endpoint``, ``namespace``, ``pipeline``,
``pipelineVersion``, ``experiment``, ``parameters`` and ``serviceAccount``. Requests carry the
projected service account token named by ``KF_PIPELINES_SA_TOKEN_PATH`` as a Bearer token.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlopsctl_stage.errors import StageError
from mlopsctl_stage.storage import local_settings

if TYPE_CHECKING:
    import kfp_server_api

TOKEN_PATH_ENV = "KF_PIPELINES_SA_TOKEN_PATH"
ACTIVE_STATES = ("PENDING", "RUNNING")
"""The states (``V2beta1RuntimeState``) of a run that is not over yet."""
ACTIVE_SCAN = 50
"""How many of an experiment's newest runs are looked at for one not over yet."""
_REQUIRED = ("endpoint", "namespace", "pipeline", "pipelineVersion", "experiment")


@dataclass(frozen=True)
class RunTarget:
    """The published version to run, where, with what and as whom."""

    endpoint: str
    namespace: str
    pipeline: str
    pipeline_version: str
    experiment: str
    parameters: dict[str, Any] = field(default_factory=dict)
    service_account: str | None = None

    @classmethod
    def from_config(cls, config: Any, subject: str = "--config") -> RunTarget:
        if not isinstance(config, dict):
            raise StageError(subject, "must be an object")
        missing = [key for key in _REQUIRED if not isinstance(config.get(key), str) or not config[key]]
        if missing:
            raise StageError(subject, f"missing {', '.join(missing)}")
        parameters = config.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise StageError(f"{subject}.parameters", "must be an object")
        return cls(
            endpoint=config["endpoint"],
            namespace=config["namespace"],
            pipeline=config["pipeline"],
            pipeline_version=config["pipelineVersion"],
            experiment=config["experiment"],
            parameters=parameters,
            service_account=config.get("serviceAccount") or None,
        )


@dataclass(frozen=True)
class StartedRun:
    run_id: str
    experiment_id: str
    display_name: str


def endpoint_url(endpoint: str) -> str:
    """``host:port`` as an ``http://`` URL, replaced by its local stand-in in a local run."""
    url = endpoint if "://" in endpoint else f"http://{endpoint}"
    settings = local_settings()
    return settings.endpoints.get(url, url) if settings is not None else url


class Pipelines:
    """The KFP API server at ``endpoint``, as the calls run starters make."""

    def __init__(self, endpoint: str) -> None:
        import kfp_server_api

        self.endpoint = endpoint
        configuration = kfp_server_api.Configuration(host=endpoint_url(endpoint))
        token_path = os.environ.get(TOKEN_PATH_ENV)
        if token_path:
            configuration.api_key["authorization"] = _token(token_path)
            configuration.api_key_prefix["authorization"] = "Bearer"
        self._client = kfp_server_api.ApiClient(configuration)
        self._pipelines = kfp_server_api.PipelineServiceApi(self._client)
        self._experiments = kfp_server_api.ExperimentServiceApi(self._client)
        self._runs = kfp_server_api.RunServiceApi(self._client)

    def version(self, target: RunTarget) -> kfp_server_api.V2beta1PipelineVersion:
        """The PipelineVersion ``target.pipeline_version`` of the pipeline ``target.pipeline``."""
        with self._errors(f"pipeline {target.pipeline!r} in namespace {target.namespace!r}"):
            pipeline = self._pipelines.pipeline_service_get_pipeline_by_name(
                target.pipeline, namespace=target.namespace
            )
        with self._errors(f"versions of pipeline {target.pipeline!r}"):
            listed = self._pipelines.pipeline_service_list_pipeline_versions(
                pipeline.pipeline_id, filter=_equals("name", target.pipeline_version), page_size=10
            )
        for version in listed.pipeline_versions or []:
            if target.pipeline_version in (version.name, version.display_name):
                return version
        raise StageError(
            f"pipelineVersion ({target.pipeline_version})",
            f"pipeline {target.pipeline!r} in namespace {target.namespace!r} has no such version "
            "(is the version published yet?)",
        )

    def experiment_id(self, target: RunTarget, *, create: bool = True) -> str | None:
        """The id of the experiment ``target.experiment``, created if missing (when ``create``)."""
        import kfp_server_api

        with self._errors(f"experiment {target.experiment!r} in namespace {target.namespace!r}"):
            listed = self._experiments.experiment_service_list_experiments(
                namespace=target.namespace, filter=_equals("display_name", target.experiment), page_size=10
            )
            for experiment in listed.experiments or []:
                if experiment.display_name == target.experiment:
                    return str(experiment.experiment_id)
            if not create:
                return None
            created = self._experiments.experiment_service_create_experiment(
                kfp_server_api.V2beta1Experiment(display_name=target.experiment, namespace=target.namespace)
            )
        return str(created.experiment_id)

    def last_run_created(self, experiment_id: str) -> datetime | None:
        """When the newest run of the experiment was created, or None if it has none."""
        with self._errors(f"runs of experiment {experiment_id}"):
            listed = self._runs.run_service_list_runs(
                experiment_id=experiment_id, sort_by="created_at desc", page_size=1
            )
        runs = listed.runs or []
        created: datetime | None = runs[0].created_at if runs else None
        if created is None:
            return None
        return created if created.tzinfo else created.replace(tzinfo=UTC)

    def active_run(self, experiment_id: str) -> str | None:
        """The id of the newest run of the experiment that is pending or running, or None (of its
        :data:`ACTIVE_SCAN` newest runs: the state is filtered here, as every KFP release can)."""
        with self._errors(f"runs of experiment {experiment_id}"):
            listed = self._runs.run_service_list_runs(
                experiment_id=experiment_id, sort_by="created_at desc", page_size=ACTIVE_SCAN
            )
        return next((str(r.run_id) for r in listed.runs or [] if r.state in ACTIVE_STATES), None)

    def start(self, target: RunTarget, experiment_id: str | None = None) -> StartedRun:
        """Create a run of ``target``'s version in its experiment (found or created)."""
        import kfp_server_api

        version = self.version(target)
        experiment_id = experiment_id or self.experiment_id(target)
        assert experiment_id is not None
        display_name = f"{target.pipeline} {datetime.now(UTC):%Y-%m-%d %H:%M:%S}"
        run = kfp_server_api.V2beta1Run(
            display_name=display_name,
            experiment_id=experiment_id,
            pipeline_version_reference=kfp_server_api.V2beta1PipelineVersionReference(
                pipeline_id=version.pipeline_id, pipeline_version_id=version.pipeline_version_id
            ),
            runtime_config=kfp_server_api.V2beta1RuntimeConfig(parameters=target.parameters),
            service_account=target.service_account,
        )
        with self._errors(f"run of {target.pipeline_version!r} in experiment {target.experiment!r}"):
            created = self._runs.run_service_create_run(run, experiment_id=experiment_id)
        return StartedRun(str(created.run_id), experiment_id, display_name)

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """API and connection failures as one-line StageErrors."""
        import kfp_server_api
        import urllib3

        try:
            yield
        except kfp_server_api.ApiException as error:
            raise StageError(what, f"KFP API at {self.endpoint}: {error.status} {_message(error)}") from None
        except urllib3.exceptions.HTTPError as error:
            raise StageError(what, f"KFP API at {self.endpoint} unreachable: {error}") from None


def _token(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as error:
        raise StageError(f"{TOKEN_PATH_ENV} ({path})", f"unreadable: {error.strerror}") from None


def _equals(key: str, value: str) -> str:
    """A v2beta1 ``filter`` (a JSON Filter message) matching ``key == value``."""
    return json.dumps({"predicates": [{"key": key, "operation": "EQUALS", "stringValue": value}]})


def _message(error: Any) -> str:
    """The message of a google.rpc.Status error body, else the HTTP reason."""
    try:
        body = json.loads(error.body or "")
        return str(body.get("message") or body.get("error") or error.reason)
    except (ValueError, AttributeError):
        return str(error.reason)
