"""A fake Kubernetes API server behind the official client's HTTP layer.

It replaces the urllib3 pool manager the client sends through, so every request
goes through the real ``kubernetes`` client (dynamic client, ApiClient, REST
client) and is recorded as ``METHOD /path?query``. It answers discovery for the
kinds it serves, server-side apply (``dryRun=All`` stores nothing), label-selected
lists and deletes, and refuses what a real server refuses in the cases tested:
an object in a missing namespace (404), and rejections set up by a test.

Stored objects get a ``metadata.uid``, and a PipelineVersion is admitted as KFP 2.17's
mutating webhook admits it: refused (400) unless its Pipeline exists, else labelled with
its Pipeline's name and uid and given an owner reference to it.

A CustomResourceDefinition it stores starts serving its kind (in discovery and at its paths)
once it is established: at once, or after ``crd_polls`` reads of it, as a real server
establishes one a moment after creating it (``Established=False`` until then). Writes to a
kind that is not served get 404, and ``failing`` queues answers (a webhook not serving,
throttling) for the next writes of a kind.
"""

from __future__ import annotations

import copy
import itertools
import json
import pathlib
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

HOST = "https://k8s.test"
CLUSTER_SCOPED = frozenset(
    {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Profile"}
)
KFP = "pipelines.kubeflow.org/v2beta1"
DIGITS_PROD_CONTEXT = "gke_acme-digits-prod_us-central1_digits-prod-usc1"


def plural(kind: str) -> str:
    lower = kind.lower()
    consonant_y = lower.endswith("y") and lower[-2:-1] not in "aeiou"
    return lower[:-1] + "ies" if consonant_y else lower + "s"


@dataclass
class Response:
    status: int
    body: Any
    reason: str = "OK"
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def data(self) -> bytes:
        return json.dumps(self.body).encode()

    def getheaders(self) -> dict[str, str]:
        return {"Content-Type": "application/json", **self.headers}

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self.getheaders().get(name, default)


def status(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None, why: str = ""
) -> Response:
    """An error answer: a ``Status`` (its ``reason`` is ``why``), with HTTP reason phrase ``reason``."""
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "code": code}
    return Response(code, {**body, "details": details or {}, **({"reason": why} if why else {})}, reason)


def webhook_down(webhook: str, service: str, cause: str = "") -> Response:
    """What the API server answers when the admission webhook ``webhook`` of ``service`` (``name.namespace``)
    does not answer: its pods are not ready (no endpoints) or refuse connections."""
    name = service.split(".")[0]
    url = f"https://{service}.svc:443/mutate?timeout=10s"
    cause = cause or f'no endpoints available for service "{name}"'
    failure = f'failed calling webhook "{webhook}": failed to call webhook: Post "{url}": {cause}'
    answer = status(
        500,
        "Internal Server Error",
        f"Internal error occurred: {failure}",
        {"causes": [{"message": failure}]},
    )
    answer.body.update(reason="InternalError", metadata={})
    return answer


def too_many_requests(seconds: int) -> Response:
    """The API server's priority and fairness throttling: 429 with ``Retry-After``."""
    answer = status(
        429,
        "Too Many Requests",
        "Too many requests, please try again later.",
        {"retryAfterSeconds": seconds},
        why="TooManyRequests",
    )
    answer.headers["Retry-After"] = str(seconds)
    return answer


@dataclass
class FakeApiServer:
    served: list[tuple[str, str]]
    """(apiVersion, kind) of every kind served."""
    objects: dict[tuple[str, str, str, str], dict[str, Any]] = field(default_factory=dict)
    """(group/version, plural, namespace, name) → object."""
    requests: list[str] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    rejections: dict[str, str | tuple[int, str]] = field(default_factory=dict)
    """Path of an object → the message of the 422 a write to it gets, or (status, message)."""
    honor_selectors: bool = True
    unauthorized: bool = False
    crd_polls: int = 0
    """How many reads of a new CustomResourceDefinition answer it not established yet (its kind unserved)."""
    name_conflicts: set[str] = field(default_factory=set)
    """CustomResourceDefinitions whose names another one already uses: never established."""
    undiscovered: set[str] = field(default_factory=set)
    """Kinds of CustomResourceDefinitions that discovery never serves, even once established."""
    failing: dict[str, list[Response]] = field(default_factory=dict)
    """Kind → the answers to its next writes, one each, before it is written as usual."""
    _pending: dict[str, int] = field(default_factory=dict)
    _uids: Iterator[int] = field(default_factory=itertools.count)

    # the urllib3.PoolManager interface the REST client uses
    def request(
        self,
        method: str,
        url: str,
        fields: Any = None,
        body: str | None = None,
        headers: dict[str, str] | None = None,
        **_: Any,
    ) -> Response:
        parts = urlsplit(url)
        query = list(fields or []) + parse_qsl(parts.query)
        line = f"{method} {parts.path}" + (f"?{urlencode(query, safe='/,=')}" if query else "")
        self.requests.append(line)
        if method != "GET":
            self.content_types.append((headers or {}).get("Content-Type", ""))
        if self.unauthorized:
            return status(401, "Unauthorized", "Unauthorized")
        return self._answer(method, parts.path, dict(query), json.loads(body) if body else None)

    def clear(self) -> None:
        self.requests.clear()
        self.content_types.clear()

    def _answer(self, method: str, path: str, query: dict[str, str], body: Any) -> Response:
        if path == "/version":
            return Response(200, {"major": "1", "minor": "30", "gitVersion": "v1.30.5"})
        if path == "/apis":
            return Response(200, self._groups())
        segments = path.strip("/").split("/")
        prefix_len = 2 if segments[0] == "api" else 3
        group_version = "/".join(segments[1:prefix_len])
        rest = segments[prefix_len:]
        if not rest:
            return self._resources(group_version)
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, resource, name = rest[1], rest[2], rest[3] if len(rest) > 3 else ""
        else:
            namespace, resource, name = "", rest[0], rest[1] if len(rest) > 1 else ""
        key = (group_version, resource, namespace, name)
        if not name:
            return self._list(group_version, resource, query.get("labelSelector", ""))
        if method == "PATCH":
            return self._apply(path, key, query, body)
        if method == "DELETE":
            gone = self.objects.pop(key, None)
            return Response(200, gone) if gone else status(404, "Not Found", f'{resource} "{name}" not found')
        found = self.objects.get(key)
        if not found:
            return status(404, "Not Found", f'{resource} "{name}" not found')
        answer = Response(200, copy.deepcopy(found))
        if resource == "customresourcedefinitions" and name in self._pending:
            self._pending[name] -= 1  # read once more as not established
            if not self._pending[name]:
                self._establish(found)
        return answer

    def _groups(self) -> dict[str, Any]:
        versions: dict[str, list[str]] = {}
        for api_version, _ in sorted(self.served):
            group, _, version = api_version.rpartition("/")
            if group and version not in versions.setdefault(group, []):
                versions[group].append(version)
        groups = [
            {
                "name": group,
                "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in vs],
                "preferredVersion": {"groupVersion": f"{group}/{vs[0]}", "version": vs[0]},
            }
            for group, vs in sorted(versions.items())
        ]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def _resources(self, group_version: str) -> Response:
        resources = [
            {
                "name": plural(kind),
                "singularName": kind.lower(),
                "namespaced": kind not in CLUSTER_SCOPED,
                "kind": kind,
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
            }
            for api_version, kind in sorted(self.served)
            if api_version == group_version
        ]
        if not resources:
            return status(404, "Not Found", "the server could not find the requested resource")
        listing = {"kind": "APIResourceList", "groupVersion": group_version, "resources": resources}
        return Response(200, listing)

    def _apply(self, path: str, key: tuple[str, str, str, str], query: dict[str, str], body: Any) -> Response:
        namespace = key[2]
        if key[:2] not in {(gv, plural(kind)) for gv, kind in self.served}:
            return status(404, "Not Found", "the server could not find the requested resource")
        if namespace and ("v1", "namespaces", "", namespace) not in self.objects:
            details = {"name": namespace, "kind": "namespaces"}
            return status(404, "Not Found", f'namespaces "{namespace}" not found', details)
        if path in self.rejections:
            code, message = _rejection(self.rejections[path])
            return status(code, "Bad Request" if code == 400 else "Unprocessable Entity", message)
        if self.failing.get(body["kind"]):
            return self.failing[body["kind"]].pop(0)
        existing = (self.objects.get(key) or {}).get("metadata") or {}
        admitted = {**body, "metadata": {**body["metadata"], "uid": existing.get("uid") or self._uid()}}
        if key[:2] == (KFP, "pipelineversions"):
            pipeline = self.objects.get((KFP, "pipelines", namespace, body["spec"]["pipelineName"]))
            if pipeline is None:
                message = "The spec.pipelineName doesn't map to an existing Pipeline object"
                return status(
                    400, "Bad Request", f'admission webhook "mutating.pipelineversions" denied: {message}'
                )
            admitted = kfp_webhook(admitted, pipeline)
        if query.get("dryRun") != "All":
            if key[1] == "customresourcedefinitions":
                self._crd_status(admitted, (self.objects.get(key) or {}).get("status"))
            self.objects[key] = admitted
        return Response(200, admitted)

    def _crd_status(self, crd: dict[str, Any], kept: dict[str, Any] | None) -> None:
        """The status of an applied CRD: kept from before (an apply does not write status), else that of a
        new one: names in conflict, or accepted and established after ``crd_polls`` reads."""
        name = crd["metadata"]["name"]
        if kept is not None:
            crd["status"] = kept
        elif name in self.name_conflicts:
            taken = f'"{crd["spec"]["names"]["plural"]}" is already in use'
            crd["status"] = crd_status(
                ("False", "NameConflict", taken), ("False", "NotAccepted", "not all names are accepted")
            )
        else:
            crd["status"] = crd_status(
                ("True", "NoConflicts", "no conflicts found"),
                ("False", "Installing", "the initial names have been accepted"),
            )
            self._pending[name] = self.crd_polls
            if not self.crd_polls:
                self._establish(crd)

    def _establish(self, crd: dict[str, Any]) -> None:
        """The CRD is established, and its kind served."""
        self._pending.pop(crd["metadata"]["name"], None)
        crd["status"]["conditions"][1].update(status="True", reason="InitialNamesAccepted")
        spec = crd["spec"]
        for version in spec["versions"]:
            served = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
            if (
                version.get("served", True)
                and served not in self.served
                and served[1] not in self.undiscovered
            ):
                self.served.append(served)

    def _uid(self) -> str:
        return f"00000000-0000-4000-8000-{next(self._uids):012d}"

    def _list(self, group_version: str, resource: str, selector: str) -> Response:
        wanted = dict(term.split("=", 1) for term in selector.split(",") if term)
        items = [
            obj
            for (gv, res, _, _), obj in sorted(self.objects.items())
            if (gv, res) == (group_version, resource)
            and (
                not self.honor_selectors
                or all((obj["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())
            )
        ]
        return Response(200, {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": items})

    def put(self, api_version: str, kind: str, obj: dict[str, Any]) -> None:
        """Create an object directly (as another client or a controller would)."""
        meta = obj["metadata"]
        self.objects[(api_version, plural(kind), meta.get("namespace", ""), meta["name"])] = obj


def crd_status(names: tuple[str, str, str], established: tuple[str, str, str]) -> dict[str, Any]:
    """The ``status`` of a CustomResourceDefinition: its NamesAccepted and Established conditions, each
    (status, reason, message)."""
    pairs = (("NamesAccepted", names), ("Established", established))
    conditions = [
        {"type": kind, "status": state, "reason": reason, "message": message}
        for kind, (state, reason, message) in pairs
    ]
    return {"conditions": conditions}


def _rejection(found: str | tuple[int, str]) -> tuple[int, str]:
    return (422, found) if isinstance(found, str) else found


def kfp_webhook(version: dict[str, Any], pipeline: dict[str, Any]) -> dict[str, Any]:
    """``version`` as KFP's PipelineVersion webhook mutates it: labelled with its Pipeline's uid and
    name, and owned by it (an owner reference without ``controller``, replacing any earlier one)."""
    meta = pipeline["metadata"]
    owner = {
        "apiVersion": KFP,
        "kind": "Pipeline",
        "name": meta["name"],
        "uid": meta["uid"],
        "blockOwnerDeletion": True,
    }
    labels = {
        **(version["metadata"].get("labels") or {}),
        "pipelines.kubeflow.org/pipeline-id": meta["uid"],
        "pipelines.kubeflow.org/pipeline": meta["name"][:63],
    }
    others = [
        ref
        for ref in version["metadata"].get("ownerReferences") or []
        if (ref.get("apiVersion"), ref.get("kind")) != (KFP, "Pipeline")
    ]
    metadata = {**version["metadata"], "labels": labels, "ownerReferences": [*others, owner]}
    return {**version, "metadata": metadata}


def install(monkeypatch: pytest.MonkeyPatch, server: FakeApiServer) -> None:
    """Route the kubernetes client's HTTP requests to ``server``."""
    monkeypatch.setattr("kubernetes.client.rest.urllib3.PoolManager", lambda *a, **kw: server)


def served_kinds(types: Iterable[str]) -> list[tuple[str, str]]:
    """(apiVersion, kind) of the graph type tokens ``types``."""
    found = set()
    for token in types:
        _, group_version, kind = token.split(":")
        found.add((group_version.removeprefix("core/"), kind))
    return sorted(found)


def write_kubeconfig(
    folder: pathlib.Path, server: str = HOST, context: str = DIGITS_PROD_CONTEXT
) -> pathlib.Path:
    path = folder / "kubeconfig"
    path.write_text(
        textwrap.dedent(
            f"""\
            apiVersion: v1
            kind: Config
            clusters:
            - name: c
              cluster: {{server: "{server}", insecure-skip-tls-verify: true}}
            users:
            - name: u
              user: {{token: test-token}}
            contexts:
            - name: {context}
              context: {{cluster: c, user: u}}
            current-context: {context}
            """
        ),
        encoding="utf-8",
    )
    return path
