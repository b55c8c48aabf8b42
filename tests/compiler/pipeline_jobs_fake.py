"""A fake of Vertex AI's PipelineService (REST v1) as a Cloud Workflows HTTP transport
(:mod:`workflows_fake`): PipelineJobs in memory, listed by an AIP-160 filter a page at a time."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from google.cloud.aiplatform_v1 import PipelineJob
from google.protobuf import json_format  # type: ignore[import-untyped, unused-ignore]
from workflows_fake import Request, Response

FILTER_TOKEN = re.compile(r'\s*(\(|\)|=|"(?:[^"\\]|\\.)*"|[^\s()="]+)')


def answer(code: int, body: dict[str, Any]) -> Response:
    return Response(code, json.dumps(body).encode(), {"Content-Type": "application/json; charset=UTF-8"})


def refusal(code: int, status: str, message: str) -> Response:
    return answer(code, {"error": {"code": code, "status": status, "message": message}})


class Filter:
    """An AIP-160 list filter, the part of it Vertex AI documents for PipelineJobs that mlopsctl uses:
    ``labels.KEY="VALUE"`` and ``state="STATE"``, ``AND``, ``OR`` (which binds tighter), parentheses."""

    def __init__(self, text: str) -> None:
        self.tokens: list[str] = []
        position = 0
        while text[position:].strip():
            match = FILTER_TOKEN.match(text, position)
            if not match:
                raise ValueError(f"cannot read the filter at {text[position:]!r}")
            self.tokens.append(match.group(1))
            position = match.end()
        self.test = self._and()
        if self.tokens:
            raise ValueError(f"unexpected {self.tokens[0]!r} in the filter")

    def _take(self, expected: str | None = None) -> str:
        if not self.tokens or expected not in (None, self.tokens[0]):
            raise ValueError(f"expected {expected or 'a term'} in the filter")
        return self.tokens.pop(0)

    def _and(self) -> Callable[[dict[str, Any]], bool]:
        terms = [self._or()]
        while self.tokens[:1] == ["AND"]:
            self._take()
            terms.append(self._or())
        return lambda job: all(term(job) for term in terms)

    def _or(self) -> Callable[[dict[str, Any]], bool]:
        terms = [self._term()]
        while self.tokens[:1] == ["OR"]:
            self._take()
            terms.append(self._term())
        return lambda job: any(term(job) for term in terms)

    def _term(self) -> Callable[[dict[str, Any]], bool]:
        if self.tokens[:1] == ["("]:
            self._take()
            inner = self._and()
            self._take(")")
            return inner
        name, _, value = self._take(), self._take("="), json.loads(self._take())
        if name == "state":
            return lambda job: bool(job.get("state") == value)
        if name.startswith("labels."):
            return lambda job: bool(job.get("labels", {}).get(name.removeprefix("labels.")) == value)
        raise ValueError(f"PipelineJobs have no filter field {name!r}")


@dataclass
class FakeVertex:
    """Vertex AI's PipelineService (REST v1) in one project and region: PipelineJobs in memory, newest
    listed first; a created one is pending."""

    parent: str = "projects/acme-demo-dev/locations/us-central1"
    jobs: list[dict[str, Any]] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)
    """The body of each create, in order."""
    refuse_creates: int = 0
    """A status to refuse creates with (0: none)."""
    empty_pages: int = 0
    """Pages of no job, each with the next page's token, that a list answers before the jobs: Google's
    list methods may return fewer results than asked, even none, on a page that is not the last."""
    queries: list[dict[str, str]] = field(default_factory=list)
    """The query of each list, in order."""

    def add(self, labels: dict[str, str], state: str) -> None:
        self.jobs.append(
            {"name": f"{self.parent}/pipelineJobs/{len(self.jobs)}", "labels": labels, "state": state}
        )

    def __call__(self, request: Request) -> Response:
        url = urlsplit(request.url)
        if (url.hostname, url.path) != (
            "us-central1-aiplatform.googleapis.com",
            f"/v1/{self.parent}/pipelineJobs",
        ):
            return refusal(404, "NOT_FOUND", f"no such collection: {request.url}")
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return refusal(401, "UNAUTHENTICATED", "no OAuth 2 token")
        if request.method == "GET":
            query = parse_qs(url.query, keep_blank_values=True)
            return self._list({k: v[0] for k, v in query.items()})
        if request.method == "POST" and request.body is not None:
            return self._create(json.loads(request.body))
        return refusal(405, "METHOD_NOT_ALLOWED", request.method)

    def _list(self, query: dict[str, str]) -> Response:
        """A page of the jobs that match, newest first; ``pageToken`` empty or absent: the first."""
        self.queries.append(query)
        try:
            keep = Filter(query.get("filter", "")).test
        except ValueError as error:
            return refusal(400, "INVALID_ARGUMENT", str(error))
        found = [job for job in reversed(self.jobs) if keep(job)]
        size = int(query.get("pageSize", 0)) or 100
        pages = [[]] * self.empty_pages + [found[i : i + size] for i in range(0, len(found), size)] or [[]]
        tokens = ["", *(f"page-{index}" for index in range(1, len(pages)))]
        if query.get("pageToken", "") not in tokens:
            return refusal(400, "INVALID_ARGUMENT", f"invalid page token {query['pageToken']!r}")
        index = tokens.index(query.get("pageToken", ""))
        body: dict[str, Any] = {"pipelineJobs": pages[index]} if pages[index] else {}  # proto3 JSON
        return answer(200, body | ({"nextPageToken": tokens[index + 1]} if index + 1 < len(pages) else {}))

    def _create(self, body: dict[str, Any]) -> Response:
        if self.refuse_creates:
            return refusal(self.refuse_creates, "PERMISSION_DENIED", "aiplatform.pipelineJobs.create denied")
        try:
            json_format.ParseDict(body, PipelineJob()._pb, ignore_unknown_fields=False)
        except json_format.ParseError as error:
            return refusal(400, "INVALID_ARGUMENT", str(error))
        self.created.append(body)
        self.jobs.append(
            {
                **body,
                "name": f"{self.parent}/pipelineJobs/run-{len(self.jobs)}",
                "state": "PIPELINE_STATE_PENDING",
            }
        )
        return answer(200, self.jobs[-1])
