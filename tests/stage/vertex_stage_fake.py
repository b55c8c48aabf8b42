"""A fake Vertex AI REST API (v1) on 127.0.0.1 for the real google-cloud-aiplatform GAPIC clients: the
calls the stage runtime makes.

- PipelineService: create a PipelineJob (``pipelineJobId``), list jobs (``filter`` of ``AND``-ed
  ``field="value"`` terms on ``pipeline_name``, ``display_name`` and ``labels.KEY``; newest first;
  ``pageSize``).
- MetadataService: create a MetadataStore (``metadataStoreId``; answered with a finished operation),
  create a Context (``contextId``; 404 NOT_FOUND when its store does not exist, 409 ALREADY_EXISTS
  when taken), get, update (PATCH), and ``:addContextChildren``.
- TensorboardService: list TensorBoards (``filter`` ``display_name="…"``), create experiments, runs and
  time series (409 when taken), and ``:write`` run data.
- ModelService: ``models:upload`` (``modelId``: a new model, 409 ALREADY_EXISTS when taken;
  ``parentModel``: its next version, 404 when the model does not exist), answered with a finished
  operation; ``:listVersions`` of a model (404 when it does not exist).

Every request is recorded; a test may queue error answers (for any request, or for requests whose
``METHOD path`` contains a fragment). Point a client at it with ``MLOPSCTL_VERTEX_ENDPOINT=fake.url``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from typing import Any

from fake_kfp_api import serve_json

TENSORBOARD_IDS = {
    "experiments": "tensorboardExperimentId",
    "runs": "tensorboardRunId",
    "timeSeries": "tensorboardTimeSeriesId",
}
"""The query parameter that names what a TensorBoard collection's create makes."""
STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 409: "ALREADY_EXISTS"}


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class Failure:
    status: int
    message: str
    fragment: str = ""
    """Only requests whose ``METHOD path`` contains it fail; every request when empty."""


@dataclass
class FakeVertex:
    url: str = ""
    jobs: list[dict[str, Any]] = field(default_factory=list)
    stores: set[str] = field(default_factory=set)
    """Names of the metadata stores (``projects/P/locations/L/metadataStores/S``)."""
    boards: dict[str, str] = field(default_factory=dict)
    """Name of each TensorBoard → its display name."""
    contexts: dict[str, dict[str, Any]] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)
    tensorboard: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Name of each TensorBoard experiment, run and time series → the resource."""
    points: list[dict[str, Any]] = field(default_factory=list)
    """The ``timeSeriesData`` of every ``:write``, with the run's name as ``run``."""
    models: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Name of each registered model → its versions (Models with ``versionId``), oldest first."""
    calls: list[Call] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    before: Callable[[Call], None] | None = None
    """Called with each request before it is answered: what another client did meanwhile."""
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def add_job(
        self, parent: str, pipeline: str, created: datetime, labels: dict[str, str] | None = None
    ) -> None:
        """A PipelineJob that ran before, of the pipeline ``pipeline``."""
        job_id = f"{pipeline}-{next(self._ids)}"
        self.jobs.append(
            {
                "name": f"{parent}/pipelineJobs/{job_id}",
                "displayName": pipeline,
                "pipelineSpec": {"pipelineInfo": {"name": pipeline}},
                "labels": labels or {},
                "createTime": _time(created),
            }
        )

    def add_context(self, name: str, schema: str = "system.Experiment") -> None:
        """A context, and the metadata store it is in."""
        self.stores.add(name.partition("/contexts/")[0])
        self.contexts[name] = {"name": name, "displayName": name.rsplit("/", 1)[-1], "schemaTitle": schema}

    def add_model_version(self, model: str, artifact_uri: str) -> str:
        """A version of ``model`` (created if need be) holding ``artifact_uri``: its version id."""
        versions = self.models.setdefault(model, [])
        version_id = str(len(versions) + 1)
        versions.append({"name": model, "versionId": version_id, "artifactUri": artifact_uri})
        return version_id

    def uploads(self) -> list[Call]:
        return [c for c in self.calls if c.method == "POST" and c.path.endswith("/models:upload")]

    def created_jobs(self) -> list[Call]:
        return [c for c in self.calls if c.method == "POST" and c.path.endswith("/pipelineJobs")]

    def request(
        self, method: str, path: str, query: dict[str, str], headers: Message, data: bytes
    ) -> tuple[int, Any]:
        body = json.loads(data) if data else None
        call = Call(method, path, query, body)
        self.calls.append(call)
        if self.before is not None:
            self.before(call)
        for failure in self.failures:
            if failure.fragment in f"{method} {path}":
                self.failures.remove(failure)
                return _error(failure.status, failure.message)
        return self.answer(method, path.removeprefix("/v1/"), query, body)

    def answer(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        resource, _, verb = path.partition(":")
        collection = resource.rsplit("/", 1)[-1]
        if method == "POST" and collection == "pipelineJobs":
            job = {
                **body,
                "name": f"{resource}/{query['pipelineJobId']}",
                "state": "PIPELINE_STATE_PENDING",
                "createTime": _time(datetime.now(UTC)),
            }
            self.jobs.append(job)
            return 200, job
        if method == "GET" and collection == "pipelineJobs":
            listed = [j for j in self.jobs if j["name"].startswith(f"{resource}/") and _matches(j, query)]
            listed.sort(key=lambda j: j["createTime"], reverse=True)
            assert query.get("orderBy") == "create_time desc", query
            return 200, {"pipelineJobs": listed[: int(query.get("pageSize") or 100)]}
        if method == "POST" and collection == "metadataStores":
            name = f"{resource}/{query['metadataStoreId']}"
            if name in self.stores:
                return _error(409, f"MetadataStore {name} already exists")
            self.stores.add(name)
            store = {"@type": "type.googleapis.com/google.cloud.aiplatform.v1.MetadataStore", "name": name}
            return 200, {"name": f"{name}/operations/{next(self._ids)}", "done": True, "response": store}
        if method == "POST" and collection == "contexts":
            if resource.removesuffix("/contexts") not in self.stores:
                return _error(404, f"MetadataStore {resource.removesuffix('/contexts')} not found")
            return self._create(self.contexts, f"{resource}/{query['contextId']}", body)
        if method == "GET" and collection == "tensorboards":
            wanted = json.loads(query["filter"].removeprefix("display_name="))
            listed = [
                {"name": n, "displayName": shown}
                for n, shown in self.boards.items()
                if n.startswith(f"{resource}/") and shown == wanted
            ]
            return 200, {"tensorboards": listed}
        if verb == "addContextChildren":
            if resource not in self.contexts:
                return _error(404, f"Context {resource} not found")
            linked = self.children.setdefault(resource, [])
            linked += [c for c in body["childContexts"] if c not in linked]
            return 200, {}
        if "/contexts/" in resource and method in ("GET", "PATCH"):
            if resource not in self.contexts:
                return _error(404, f"Context {resource} not found")
            if method == "PATCH":
                self.contexts[resource] = {**body, "name": resource}
            return 200, self.contexts[resource]
        if method == "POST" and collection in TENSORBOARD_IDS:
            return self._create(self.tensorboard, f"{resource}/{query[TENSORBOARD_IDS[collection]]}", body)
        if method == "POST" and collection == "models" and verb == "upload":
            return self._upload(resource.removesuffix("/models"), body)
        if method == "GET" and verb == "listVersions":
            if resource not in self.models:
                return _error(404, f"Model {resource} not found")
            return 200, {"models": self.models[resource]}
        if method == "POST" and verb == "write":
            if resource not in self.tensorboard:
                return _error(404, f"TensorboardRun {resource} not found")
            self.points += [{**data, "run": resource} for data in body["timeSeriesData"]]
            return 200, {}
        return _error(404, f"no route {method} {path}")

    def _upload(self, parent: str, body: Any) -> tuple[int, Any]:
        """A new model (``modelId``) or a new version of one (``parentModel``); Vertex AI gives a
        model's first version the alias ``default``."""
        if "parentModel" in body:
            name = body["parentModel"]
            if name not in self.models:
                return _error(404, f"Model {name} not found")
        else:
            name = f"{parent}/models/{body['modelId']}"
            if name in self.models:
                return _error(409, f"Model {name} already exists")
        version_id = self.add_model_version(name, body["model"]["artifactUri"])
        version = self.models[name][-1]
        version.update({**body["model"], **version})
        if version_id == "1":
            version["versionAliases"] = ["default", *body["model"].get("versionAliases", [])]
        response = {
            "@type": "type.googleapis.com/google.cloud.aiplatform.v1.UploadModelResponse",
            "model": name,
            "modelVersionId": version_id,
        }
        return 200, {"name": f"{name}/operations/{next(self._ids)}", "done": True, "response": response}

    def _create(self, store: dict[str, dict[str, Any]], name: str, body: Any) -> tuple[int, Any]:
        if name in store:
            return _error(409, f"{name} already exists")
        store[name] = {**body, "name": name}
        return 200, store[name]


def _error(status: int, message: str) -> tuple[int, Any]:
    return status, {"error": {"code": status, "message": message, "status": STATUS.get(status, "INTERNAL")}}


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _matches(job: dict[str, Any], query: dict[str, str]) -> bool:
    """Whether ``job`` passes the list filter: ``AND``-ed ``field="value"`` equalities."""
    for term in filter(None, query.get("filter", "").split(" AND ")):
        key, _, quoted = term.partition("=")
        value = json.loads(quoted)
        if key == "pipeline_name":
            actual = job["pipelineSpec"]["pipelineInfo"]["name"]
        elif key.startswith("labels."):
            actual = job.get("labels", {}).get(key.removeprefix("labels."))
        else:
            actual = job.get({"display_name": "displayName"}[key])
        if actual != value:
            return False
    return True


def serve() -> Iterator[FakeVertex]:
    """A running fake (for a fixture): yields it with ``url`` set, stops it afterwards."""
    fake = FakeVertex()
    with serve_json(fake.request) as address:
        fake.url = f"http://{address}"
        yield fake
