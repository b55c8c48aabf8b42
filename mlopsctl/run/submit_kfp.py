"""A run on Kubeflow Pipelines: one run of a pipeline's published PipelineVersion, through the KFP
v2beta1 REST API (kfp-server-api), reached from this machine at ``--kfp-host``.

It is the run a schedule's ``start-run`` would start (docs/runs.md): the PipelineVersion the
compiled graph publishes, in the namespace of the compiled objects, in the experiment named like
the pipeline (created if missing), executing as the pipeline's Kubernetes service account. The
pipeline and its version must have been applied: the API answers with the ids a run refers to.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.identity import identity_of
from mlopsctl.compiler.pipelines import published_version
from mlopsctl.run.errors import RunError
from mlopsctl.run.submit import KFP_HOST_ENV, KFP_TOKEN_ENV, KfpApi, SubmittedRun, run_parameters

if TYPE_CHECKING:
    import kfp_server_api

NO_HOST = (
    "a run on Kubeflow Pipelines needs its API, reachable from this machine: for example "
    "`kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8080:80`, then --kfp-host http://localhost:8080 "
    f"(or {KFP_HOST_ENV})"
)

_DENIED = (
    f" (multi-user Kubeflow Pipelines wants a token: set {KFP_TOKEN_ENV} to one for the audience "
    "pipelines.kubeflow.org, e.g. from `kubectl create token`)"
)


def submit_kfp(ctx: BuildContext, pipeline: str, given: Mapping[str, str], api: KfpApi) -> SubmittedRun:
    """Create a run of ``pipeline``'s published version with the ``--param`` values ``given``."""
    version = published_version(ctx, pipeline)
    parameters = run_parameters(ctx.config, pipeline, version.inputs["spec"]["pipelineSpec"], given)
    api = api.resolved()
    if not api.host:
        raise RunError(NO_HOST)
    host = (api.host if "://" in api.host else f"http://{api.host}").rstrip("/")
    namespace = str(version.inputs["metadata"]["namespace"])
    version_name = str(version.inputs["metadata"]["name"])
    account = identity_of(ctx, "pipeline", pipeline, ctx.config.pipelines[pipeline].service_account).ksa
    client = _Client(host, api.token)
    version_ref = client.version(pipeline, version_name, namespace)
    experiment_id = client.experiment(pipeline, namespace)
    display_name = f"{pipeline} {datetime.now(UTC):%Y-%m-%d %H:%M:%S}"
    run_id = client.create_run(display_name, experiment_id, version_ref, parameters, account)
    return SubmittedRun(
        pipeline=pipeline,
        target="gke",
        env=ctx.target.env,
        region=ctx.target.region,
        run_id=run_id,
        link=f"{host}/#/runs/details/{run_id}",
        display_name=display_name,
        parameters=parameters,
        source=f"{namespace}/{version_name}",
    )


class _Client:
    """The calls a submitted run makes to the KFP API at ``host``."""

    def __init__(self, host: str, token: str | None) -> None:
        import kfp_server_api

        self.host = host
        self.token = token
        configuration = kfp_server_api.Configuration(host=host)
        # One attempt: a create is never repeated blindly, and a dead port-forward fails at once.
        configuration.retries = 0
        if token:
            configuration.api_key["authorization"] = token
            configuration.api_key_prefix["authorization"] = "Bearer"
        client = kfp_server_api.ApiClient(configuration)
        self._pipelines = kfp_server_api.PipelineServiceApi(client)
        self._experiments = kfp_server_api.ExperimentServiceApi(client)
        self._runs = kfp_server_api.RunServiceApi(client)

    def version(
        self, pipeline: str, version: str, namespace: str
    ) -> kfp_server_api.V2beta1PipelineVersionReference:
        """The ids of the published ``version`` of ``pipeline``."""
        import kfp_server_api

        with self._errors(f"pipeline {pipeline} in namespace {namespace}", published=True):
            found = self._pipelines.pipeline_service_get_pipeline_by_name(pipeline, namespace=namespace)
            listed = self._pipelines.pipeline_service_list_pipeline_versions(
                found.pipeline_id, filter=_equals("name", version), page_size=10
            )
        for candidate in listed.pipeline_versions or []:
            if version in (candidate.name, candidate.display_name):
                return kfp_server_api.V2beta1PipelineVersionReference(
                    pipeline_id=candidate.pipeline_id, pipeline_version_id=candidate.pipeline_version_id
                )
        raise RunError(
            f"pipeline {pipeline} in namespace {namespace} on {self.host} has no version {version}: "
            "apply the environment first (mlopsctl apply), so that the cluster has the version this config "
            "compiles to"
        )

    def experiment(self, name: str, namespace: str) -> str:
        """The id of the experiment ``name``, created if missing."""
        import kfp_server_api

        with self._errors(f"experiment {name} in namespace {namespace}"):
            listed = self._experiments.experiment_service_list_experiments(
                namespace=namespace, filter=_equals("display_name", name), page_size=10
            )
            for experiment in listed.experiments or []:
                if experiment.display_name == name:
                    return str(experiment.experiment_id)
            created = self._experiments.experiment_service_create_experiment(
                kfp_server_api.V2beta1Experiment(display_name=name, namespace=namespace)
            )
        return str(created.experiment_id)

    def create_run(
        self,
        display_name: str,
        experiment_id: str,
        version: kfp_server_api.V2beta1PipelineVersionReference,
        parameters: dict[str, Any],
        account: str,
    ) -> str:
        import kfp_server_api

        run = kfp_server_api.V2beta1Run(
            display_name=display_name,
            experiment_id=experiment_id,
            pipeline_version_reference=version,
            runtime_config=kfp_server_api.V2beta1RuntimeConfig(parameters=parameters),
            service_account=account,
        )
        with self._errors(f"run {display_name!r}"):
            created = self._runs.run_service_create_run(run, experiment_id=experiment_id)
        return str(created.run_id)

    @contextlib.contextmanager
    def _errors(self, what: str, *, published: bool = False) -> Iterator[None]:
        """API and connection failures as one RunError; with ``published``, a 404 means not applied yet."""
        import kfp_server_api
        import urllib3

        try:
            yield
        except kfp_server_api.ApiException as error:
            if published and error.status == 404:
                raise RunError(
                    f"{what} is not published on {self.host}: apply the environment first (mlopsctl apply)"
                ) from None
            hint = _DENIED if error.status in (401, 403) and not self.token else ""
            raise RunError(
                f"{what}: KFP API at {self.host}: {error.status} {_message(error)}{hint}"
            ) from None
        except urllib3.exceptions.HTTPError as error:
            raise RunError(
                f"{what}: KFP API at {self.host} is unreachable (is the port-forward running?): {error}"
            ) from None


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
