"""An in-memory Vertex AI REST API on 127.0.0.1, for google-cloud-aiplatform's REST transport.

It serves what the mlopsctl dynamic providers call (models and versions, endpoints, v1beta1
model monitors and schedules, long-running operations polled under ``/ui/``) and what
``mlopsctl run`` submits (PipelineJobs, created synchronously), as the client
sends it: ``?$alt=json;enum-encoding=int``, ``%40`` for a version's ``@``, camelCase JSON.
Names in answers carry the project *number*, as Vertex AI's do. The service's rules the
providers rely on hold here too: a model with traffic cannot be undeployed, a split adds up
to 100, a deployed or default version cannot be deleted.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROJECT_NUMBER = "123456789012"
_CODES = {
    "INVALID_ARGUMENT": (400, 3),
    "FAILED_PRECONDITION": (400, 9),
    "PERMISSION_DENIED": (403, 7),
    "NOT_FOUND": (404, 5),
    "ALREADY_EXISTS": (409, 6),
}
_V1 = "type.googleapis.com/google.cloud.aiplatform.v1."
_EMPTY = "type.googleapis.com/google.protobuf.Empty"
_LOC = r"projects/[^/]+/locations/[^/]+"


class ApiError(Exception):
    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Call:
    route: str
    method: str
    raw: str
    """The path as requested: ``/ui/`` prefix and ``%40`` as sent."""
    path: str
    query: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeVertex:
    url: str = ""
    models: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    """Model name → version id → the version (a Model in JSON)."""
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    monitors: dict[str, dict[str, Any]] = field(default_factory=dict)
    schedules: dict[str, dict[str, Any]] = field(default_factory=dict)
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    pipeline_jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Name → the PipelineJob as created (the request's body, with its name and state)."""
    calls: list[Call] = field(default_factory=list)
    pending_polls: int = 0
    """How many polls a new operation answers 'not done' before it is done."""
    _failures: list[tuple[str, str, str, bool]] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1001))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_endpoint(self, project: str, location: str, endpoint_id: str) -> str:
        name = canonical(f"projects/{project}/locations/{location}/endpoints/{endpoint_id}")
        self.endpoints[name] = {"name": name, "deployedModels": [], "trafficSplit": {}}
        return name

    def fail(self, route: str, status: str, message: str, *, in_operation: bool = False) -> None:
        """The next call of ``route`` fails (at once, or as a failed operation)."""
        self._failures.append((route, status, message, in_operation))

    def routes(self, *names: str) -> list[str]:
        """The routes called so far, in order (only ``names`` when given)."""
        return [c.route for c in self.calls if not names or c.route in names]

    def deployed(self, endpoint: str) -> dict[str, dict[str, Any]]:
        """Display name → deployed model, on ``endpoint``."""
        return {d["displayName"]: d for d in self.endpoints[canonical(endpoint)]["deployedModels"]}

    # Dispatch

    def handle(self, method: str, raw_path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        parts = urllib.parse.urlsplit(raw_path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(parts.query).items()}
        path = canonical(re.sub(r"^/(v1beta1|v1|ui)/", "", urllib.parse.unquote(parts.path)))
        for verb, pattern, handler in self._routes():
            match = re.fullmatch(pattern, path)
            if verb == method and match:
                with self._lock:
                    self.calls.append(
                        Call(handler.__name__.strip("_"), method, parts.path, path, query, body)
                    )
                    return self._run(handler, match.groupdict(), query, body)
        return _error("NOT_FOUND", f"no route {method} {path}")

    def _run(
        self, handler: Callable[..., Any], args: dict[str, str], query: dict[str, str], body: Any
    ) -> tuple[int, dict[str, Any]]:
        route = handler.__name__.strip("_")
        failure = next((f for f in self._failures if f[0] == route), None)
        if failure is not None:
            self._failures.remove(failure)
            if failure[3]:
                return 200, self._operation(f"{next(iter(args.values()))}", error=failure[1:3])
            return _error(failure[1], failure[2])
        try:
            return 200, handler(**args, query=query, body=body)
        except ApiError as error:
            return _error(error.status, error.message)

    def _routes(self) -> list[tuple[str, str, Callable[..., Any]]]:
        model = rf"(?P<model>{_LOC}/models/[^/@:]+)"
        endpoint = rf"(?P<endpoint>{_LOC}/endpoints/[^/:]+)"
        return [
            ("GET", r"(?P<name>.+/operations/[^/]+)", self._get_operation),
            ("POST", rf"(?P<parent>{_LOC})/models:upload", self._upload),
            ("GET", rf"{model}(@(?P<ref>[^/:]+))?", self._get_model),
            ("GET", rf"{model}:listVersions", self._list_versions),
            ("POST", rf"{model}@(?P<ref>[^/:]+):mergeVersionAliases", self._merge_aliases),
            ("PATCH", rf"{model}@(?P<ref>[^/:]+)", self._update_model),
            ("DELETE", rf"{model}@(?P<ref>[^/:]+):deleteVersion", self._delete_version),
            ("DELETE", model, self._delete_model),
            ("GET", endpoint, self._get_endpoint),
            ("POST", rf"{endpoint}:deployModel", self._deploy),
            ("POST", rf"{endpoint}:undeployModel", self._undeploy),
            ("POST", rf"{endpoint}:mutateDeployedModel", self._mutate),
            ("PATCH", endpoint, self._set_split),
            ("POST", rf"(?P<parent>{_LOC})/modelMonitors", self._create_monitor),
            ("GET", rf"(?P<name>{_LOC}/modelMonitors/[^/:]+)", self._get_monitor),
            ("PATCH", rf"(?P<name>{_LOC}/modelMonitors/[^/:]+)", self._update_monitor),
            ("DELETE", rf"(?P<name>{_LOC}/modelMonitors/[^/:]+)", self._delete_monitor),
            ("POST", rf"(?P<parent>{_LOC})/schedules", self._create_schedule),
            ("GET", rf"(?P<parent>{_LOC})/schedules", self._list_schedules),
            ("DELETE", rf"(?P<name>{_LOC}/schedules/[^/:]+)", self._delete_schedule),
            ("POST", rf"(?P<parent>{_LOC})/pipelineJobs", self._create_pipeline_job),
        ]

    def _operation(self, resource: str, response: Any = None, *, error: Any = None) -> dict[str, Any]:
        name = f"{resource}/operations/{next(self._ids)}"
        done: dict[str, Any] = {"name": name, "done": True}
        if error is not None:
            done["error"] = {"code": _CODES[error[0]][1], "message": error[1]}
        else:
            done["response"] = response or {"@type": _EMPTY}
        self.operations[name] = {"polls": self.pending_polls, "done": done}
        return done if not self.pending_polls else {"name": name, "done": False}

    def _get_operation(self, name: str, **_: Any) -> dict[str, Any]:
        operation = self.operations.get(name) or _raise("NOT_FOUND", name)
        operation["polls"] -= 1
        return operation["done"] if operation["polls"] < 0 else {"name": name, "done": False}

    # Models

    def _version(self, model: str, ref: str | None) -> dict[str, Any]:
        versions = self.models.get(model) or _raise("NOT_FOUND", f"Model {model} not found")
        wanted = ref or "default"
        found = versions.get(wanted) or next(
            (v for v in versions.values() if wanted in v["versionAliases"]), None
        )
        return found or _raise("NOT_FOUND", f"Model {model}@{wanted} not found")

    def _take_aliases(self, model: str, version: dict[str, Any], aliases: list[str]) -> None:
        for other in self.models[model].values():
            other["versionAliases"] = [a for a in other["versionAliases"] if a not in aliases]
        version["versionAliases"] = sorted({*version["versionAliases"], *aliases})

    def _upload(self, parent: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        if "parentModel" in body:
            model = canonical(body["parentModel"])
            self.models.get(model) or _raise("NOT_FOUND", f"Model {model} not found")
        else:
            model = f"{parent}/models/{body['modelId']}"
            if model in self.models:
                raise ApiError("ALREADY_EXISTS", f"Model {model} already exists")
            self.models[model] = {}
        version_id = str(len(self.models[model]) + 1)
        while version_id in self.models[model]:
            version_id = str(int(version_id) + 1)
        version = {**body["model"], "name": model, "versionId": version_id, "versionAliases": []}
        self.models[model][version_id] = version
        aliases = body["model"].get("versionAliases", [])
        self._take_aliases(model, version, [*aliases, *(["default"] if version_id == "1" else [])])
        response = {"@type": f"{_V1}UploadModelResponse", "model": model, "modelVersionId": version_id}
        return self._operation(model, response)

    def _get_model(self, model: str, ref: str | None, **_: Any) -> dict[str, Any]:
        return self._version(model, ref)

    def _list_versions(self, model: str, **_: Any) -> dict[str, Any]:
        versions = self.models.get(model) or _raise("NOT_FOUND", f"Model {model} not found")
        return {"models": list(versions.values())}

    def _merge_aliases(self, model: str, ref: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        version = self._version(model, ref)
        aliases = body.get("versionAliases", [])
        if "-default" in aliases:
            raise ApiError("INVALID_ARGUMENT", "The default alias cannot be removed")
        removed = {a[1:] for a in aliases if a.startswith("-")}
        version["versionAliases"] = [a for a in version["versionAliases"] if a not in removed]
        self._take_aliases(model, version, [a for a in aliases if not a.startswith("-")])
        return version

    def _update_model(self, model: str, ref: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        version = self._version(model, ref)
        for key in query["updateMask"].split(","):
            version[key] = body.get(key, {} if key == "labels" else "")
        return version

    def _deployed_anywhere(self, model: str, version_id: str | None) -> bool:
        return any(
            d["model"] == model and version_id in (None, d["modelVersionId"])
            for e in self.endpoints.values()
            for d in e["deployedModels"]
        )

    def _delete_version(self, model: str, ref: str, **_: Any) -> dict[str, Any]:
        version = self._version(model, ref)
        if len(self.models[model]) == 1:
            raise ApiError("FAILED_PRECONDITION", "Cannot delete the only version of a model")
        if "default" in version["versionAliases"]:
            raise ApiError("FAILED_PRECONDITION", "Cannot delete the default version of a model")
        if self._deployed_anywhere(model, version["versionId"]):
            raise ApiError("FAILED_PRECONDITION", f"Model version {ref} is deployed")
        del self.models[model][version["versionId"]]
        return self._operation(model)

    def _delete_model(self, model: str, **_: Any) -> dict[str, Any]:
        self.models.get(model) or _raise("NOT_FOUND", f"Model {model} not found")
        if self._deployed_anywhere(model, None):
            raise ApiError("FAILED_PRECONDITION", f"Model {model} has deployed versions")
        del self.models[model]
        return self._operation(model)

    # Endpoints

    def _get_endpoint(self, endpoint: str, **_: Any) -> dict[str, Any]:
        return self.endpoints.get(endpoint) or _raise("NOT_FOUND", f"Endpoint {endpoint} not found")

    def _split(self, found: dict[str, Any], split: dict[str, int]) -> None:
        ids = {d["id"] for d in found["deployedModels"]}
        if not set(split) <= ids or (split and sum(split.values()) != 100):
            raise ApiError("INVALID_ARGUMENT", f"Invalid traffic split {split} for {sorted(ids)}")
        found["trafficSplit"] = {k: v for k, v in split.items() if v}

    def _deploy(self, endpoint: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        found = self._get_endpoint(endpoint)
        model, ref = canonical(body["deployedModel"]["model"]).partition("@")[::2]
        version = self._version(model, ref or None)
        deployed = {**body["deployedModel"], "id": str(next(self._ids)), "model": model}
        deployed["modelVersionId"] = version["versionId"]
        found["deployedModels"].append(deployed)
        if body.get("trafficSplit"):
            self._split(
                found, {deployed["id"] if k == "0" else k: v for k, v in body["trafficSplit"].items()}
            )
        return self._operation(endpoint, {"@type": f"{_V1}DeployModelResponse", "deployedModel": deployed})

    def _undeploy(self, endpoint: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        found = self._get_endpoint(endpoint)
        deployed_id = body["deployedModelId"]
        if deployed_id not in {d["id"] for d in found["deployedModels"]}:
            raise ApiError("NOT_FOUND", f"Deployed model {deployed_id} not found")
        if "trafficSplit" in body:
            self._split(found, body["trafficSplit"])
        if found["trafficSplit"].get(deployed_id):
            raise ApiError("FAILED_PRECONDITION", f"Deployed model {deployed_id} still receives traffic")
        found["deployedModels"] = [d for d in found["deployedModels"] if d["id"] != deployed_id]
        return self._operation(endpoint, {"@type": f"{_V1}UndeployModelResponse"})

    def _mutate(self, endpoint: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        found = self._get_endpoint(endpoint)
        wanted = body["deployedModel"]
        deployed = next((d for d in found["deployedModels"] if d["id"] == wanted["id"]), None)
        deployed = deployed or _raise("NOT_FOUND", f"Deployed model {wanted['id']} not found")
        for path in body["updateMask"].split(","):
            group, key = path.split(".")
            deployed[group][key] = wanted[group][key]
        return self._operation(
            endpoint, {"@type": f"{_V1}MutateDeployedModelResponse", "deployedModel": deployed}
        )

    def _set_split(self, endpoint: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        found = self._get_endpoint(endpoint)
        if query.get("updateMask") != "trafficSplit":
            raise ApiError("INVALID_ARGUMENT", f"unexpected update mask {query.get('updateMask')}")
        self._split(found, body.get("trafficSplit", {}))
        return found

    # Model monitors and schedules

    def _monitor_response(self, name: str) -> dict[str, Any]:
        response = {"@type": "type.googleapis.com/google.cloud.aiplatform.v1beta1.ModelMonitor"}
        return self._operation(name, response | self.monitors[name])

    def _create_monitor(self, parent: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        name = f"{parent}/modelMonitors/{query['modelMonitorId']}"
        if name in self.monitors:
            raise ApiError("ALREADY_EXISTS", f"ModelMonitor {name} already exists")
        self.monitors[name] = {**body, "name": name}
        return self._monitor_response(name)

    def _get_monitor(self, name: str, **_: Any) -> dict[str, Any]:
        return self.monitors.get(name) or _raise("NOT_FOUND", f"ModelMonitor {name} not found")

    def _update_monitor(self, name: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        monitor = self._get_monitor(name)
        for key in query["updateMask"].split(","):
            monitor.pop(key, None)
            monitor.update({key: body[key]} if key in body else {})
        return self._monitor_response(name)

    def _delete_monitor(self, name: str, query: dict[str, str], **_: Any) -> dict[str, Any]:
        self._get_monitor(name)
        own = [s for s, v in self.schedules.items() if _monitor_of(v) == name]
        if own and query.get("force") != "true":
            raise ApiError("FAILED_PRECONDITION", f"ModelMonitor {name} has schedules")
        for schedule in own:
            del self.schedules[schedule]
        del self.monitors[name]
        return self._operation(name)

    def _create_schedule(self, parent: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        monitor = _monitor_of(body)
        if monitor and monitor not in self.monitors:
            raise ApiError("NOT_FOUND", f"ModelMonitor {monitor} not found")
        name = f"{parent}/schedules/{next(self._ids)}"
        self.schedules[name] = {**body, "name": name, "state": "ACTIVE"}
        return self.schedules[name]

    def _list_schedules(self, parent: str, **_: Any) -> dict[str, Any]:
        return {"schedules": [s for n, s in self.schedules.items() if n.startswith(parent)]}

    def _delete_schedule(self, name: str, **_: Any) -> dict[str, Any]:
        self.schedules.pop(name, None) or _raise("NOT_FOUND", f"Schedule {name} not found")
        return self._operation(name)

    # Pipeline jobs

    def _create_pipeline_job(
        self, parent: str, query: dict[str, str], body: dict[str, Any]
    ) -> dict[str, Any]:
        job_id = query.get("pipelineJobId") or str(next(self._ids))
        name = f"{parent}/pipelineJobs/{job_id}"
        if name in self.pipeline_jobs:
            raise ApiError("ALREADY_EXISTS", f"PipelineJob {name} already exists")
        if "pipelineSpec" not in body and "templateUri" not in body:
            raise ApiError("INVALID_ARGUMENT", "A PipelineJob needs a pipelineSpec or a templateUri")
        self.pipeline_jobs[name] = {**body, "name": name, "state": "PIPELINE_STATE_PENDING"}
        return self.pipeline_jobs[name]


def canonical(name: str) -> str:
    """A resource name with the project number, as Vertex AI answers with."""
    return re.sub(r"^projects/[^/]+/", f"projects/{PROJECT_NUMBER}/", name)


def _monitor_of(schedule: dict[str, Any]) -> str:
    return canonical(schedule.get("createModelMonitoringJobRequest", {}).get("parent", ""))


def _raise(status: str, message: str) -> Any:
    raise ApiError(status, message)


def _error(status: str, message: str) -> tuple[int, dict[str, Any]]:
    code = _CODES[status][0]
    return code, {"error": {"code": code, "message": message, "status": status}}


def _handler(fake: FakeVertex) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            status, answer = fake.handle(self.command, self.path, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextlib.contextmanager
def serving() -> Iterator[FakeVertex]:
    """A fake Vertex AI on a free port of 127.0.0.1, for the length of the block."""
    fake = FakeVertex()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
