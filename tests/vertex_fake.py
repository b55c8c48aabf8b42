"""An in-memory Vertex AI REST API on 127.0.0.1, for google-cloud-aiplatform's REST transport.

It serves what the mlopsctl dynamic providers call (models and versions, endpoints, v1beta1
model monitors and schedules, long-running operations polled under ``/ui/``), what
``mlopsctl run`` submits (PipelineJobs, created synchronously) and the metadata stores the pulumi
target looks up before it plans (those Vertex AI made, ``add_metadata_store``), as the client
sends it: ``?$alt=json;enum-encoding=int``, ``%40`` for a version's ``@``, camelCase JSON.
Names in answers carry the project *number*, as Vertex AI's do. The service's rules the
providers rely on hold here too: a model with traffic cannot be undeployed, a split adds up
to 100, a deployed or default version cannot be deleted.
"""

from __future__ import annotations

import contextlib
import re
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

from vertex_fake_http import listening
from vertex_fake_jobs import MonitorRoutes, PipelineJobRoutes
from vertex_fake_models import EndpointRoutes
from vertex_fake_state import LOCATION, PROJECT_NUMBER, ApiError, Call, canonical, error_answer, refuse

__all__ = ["PROJECT_NUMBER", "ApiError", "Call", "FakeVertex", "canonical", "serving"]


class FakeVertex(EndpointRoutes, MonitorRoutes, PipelineJobRoutes):
    """The fake Vertex AI: its state, the routes of every service, and how a request reaches one."""

    def fail(
        self, route: str, status: str, message: str, *, in_operation: bool = False, reason: str | None = None
    ) -> None:
        """The next call of ``route`` fails (at once, or as a failed operation); ``reason`` is the
        ErrorInfo reason of an error answered at once (``SERVICE_DISABLED``)."""
        self._failures.append((route, status, message, in_operation, reason))

    def add_metadata_store(self, name: str, *, kms_key: str | None = None, description: str = "") -> None:
        """A metadata store as Vertex AI makes it (``default`` on first use: no key, no description)."""
        store: dict[str, Any] = {"name": canonical(name), "createTime": "2026-01-05T10:00:00Z"}
        store |= {"encryptionSpec": {"kmsKeyName": kms_key}} if kms_key else {}
        store |= {"description": description} if description else {}
        self.metadata_stores[canonical(name)] = store

    def _get_metadata_store(self, name: str, **_: Any) -> dict[str, Any]:
        found = self.metadata_stores.get(name)
        return found or refuse("NOT_FOUND", f"MetadataStore {name} not found")

    def routes(self, *names: str) -> list[str]:
        """The routes called so far, in order (only ``names`` when given)."""
        return [c.route for c in self.calls if not names or c.route in names]

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
        return error_answer("NOT_FOUND", f"no route {method} {path}")

    def _run(
        self, handler: Callable[..., Any], args: dict[str, str], query: dict[str, str], body: Any
    ) -> tuple[int, dict[str, Any]]:
        route = handler.__name__.strip("_")
        failure = next((f for f in self._failures if f[0] == route), None)
        if failure is not None:
            self._failures.remove(failure)
            if failure[3]:
                return 200, self._operation(f"{next(iter(args.values()))}", error=failure[1:3])
            return error_answer(failure[1], failure[2], failure[4])
        try:
            return 200, handler(**args, query=query, body=body)
        except ApiError as error:
            return error_answer(error.status, error.message)

    def _routes(self) -> list[tuple[str, str, Callable[..., Any]]]:
        model = rf"(?P<model>{LOCATION}/models/[^/@:]+)"
        endpoint = rf"(?P<endpoint>{LOCATION}/endpoints/[^/:]+)"
        return [
            ("GET", r"(?P<name>.+/operations/[^/]+)", self._get_operation),
            ("POST", rf"(?P<parent>{LOCATION})/models:upload", self._upload),
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
            ("POST", rf"(?P<parent>{LOCATION})/modelMonitors", self._create_monitor),
            ("GET", rf"(?P<name>{LOCATION}/modelMonitors/[^/:]+)", self._get_monitor),
            ("PATCH", rf"(?P<name>{LOCATION}/modelMonitors/[^/:]+)", self._update_monitor),
            ("DELETE", rf"(?P<name>{LOCATION}/modelMonitors/[^/:]+)", self._delete_monitor),
            ("POST", rf"(?P<parent>{LOCATION})/schedules", self._create_schedule),
            ("GET", rf"(?P<parent>{LOCATION})/schedules", self._list_schedules),
            ("DELETE", rf"(?P<name>{LOCATION}/schedules/[^/:]+)", self._delete_schedule),
            ("POST", rf"(?P<parent>{LOCATION})/pipelineJobs", self._create_pipeline_job),
            ("GET", rf"(?P<name>{LOCATION}/metadataStores/[^/:]+)", self._get_metadata_store),
        ]


@contextlib.contextmanager
def serving() -> Iterator[FakeVertex]:
    """A fake Vertex AI on a free port of 127.0.0.1, for the length of the block."""
    fake = FakeVertex()
    with listening(fake.handle) as url:
        fake.url = url
        yield fake
