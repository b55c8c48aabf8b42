"""A connection to a cluster's API server through the official client's dynamic client.

Kinds are resolved by discovery (group/version/kind to resource and namespaced-ness), so
custom resources work as built-in kinds do. Discovery is not cached across runs: every
connection asks the server what it serves now, and the dynamic client's discoverer asks
again whenever a kind is missing from what it has (a CRD applied since). Failures that
concern the connection (no kubeconfig, no context, unreachable, unauthorized) are
:class:`ApplyError` naming what to configure; a refused request is a :class:`RequestError`
with the server's message, after the retries of :mod:`mlopsctl.output.kubewait` when the
refusal was a passing one (a webhook not serving yet, throttling, an overloaded server).
"""

from __future__ import annotations

import json
import os
import pathlib
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from mlopsctl.config.naming import project_cluster_name
from mlopsctl.config.target import Target
from mlopsctl.graph import JSON
from mlopsctl.output import ApplyError
from mlopsctl.output.kubewait import REAL_CLOCK, Budget, Clock, retry_after, retrying, wait_established
from mlopsctl.output.kubewait import RequestError as RequestError

FIELD_MANAGER = "mlopsctl"
_T = TypeVar("_T")


@dataclass(frozen=True)
class ClusterRef:
    """The GKE cluster a target's objects belong in."""

    target: Target
    gcp_project: str
    project: str

    @property
    def name(self) -> str:
        return project_cluster_name(self.project, self.target)

    @property
    def context(self) -> str:
        """The kube context ``gcloud container clusters get-credentials`` writes for it."""
        return f"gke_{self.gcp_project}_{self.target.region}_{self.name}"

    def get_credentials(self) -> str:
        return (
            f"run 'gcloud container clusters get-credentials {self.name} --region {self.target.region} "
            f"--project {self.gcp_project}'"
        )


class NotServed(Exception):
    """The server does not serve a kind (its CRD is not installed)."""


def kubeconfig_path(flag: str | None, env: Mapping[str, str]) -> str:
    """``--kubeconfig``, else ``$KUBECONFIG`` (a list, as kubectl reads it), else ``~/.kube/config``."""
    raw = flag or env.get("KUBECONFIG") or str(pathlib.Path("~/.kube/config"))
    return os.pathsep.join(os.path.expanduser(p) for p in raw.split(os.pathsep) if p)


class Connection:
    def __init__(
        self, client: Any, context: str, cluster: ClusterRef, cache_file: str, clock: Clock = REAL_CLOCK
    ) -> None:
        from kubernetes.dynamic import DynamicClient

        self.context = context
        self.cluster = cluster
        self.clock = clock
        self.host: str = client.configuration.host
        self.dynamic = self._call(lambda: DynamicClient(client, cache_file=cache_file))

    def resource(self, api_version: str, kind: str) -> Any:
        """The API resource serving ``kind`` of ``api_version``; :class:`NotServed` if none does."""
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        prefix = "apis" if "/" in api_version else "api"
        not_served = NotServed(f"the cluster does not serve {kind} of {api_version}")
        try:
            found = self._call(
                lambda: self.dynamic.resources.get(prefix=prefix, api_version=api_version, kind=kind)
            )
        except ResourceNotFoundError:
            raise not_served from None
        except RequestError as exc:
            if exc.status == 404:
                raise not_served from None
            problem = f"cannot discover {kind} of {api_version} in {self.context}: {exc.message}"
            raise ApplyError(problem) from None
        return found

    def serves(self, api_version: str, kind: str) -> bool:
        """Whether discovery serves ``kind`` of ``api_version`` (a miss makes the client discover again)."""
        try:
            self.resource(api_version, kind)
        except NotServed:
            return False
        return True

    def wait_established(self, crd: Mapping[str, Any]) -> None:
        """Wait until the CustomResourceDefinition ``crd`` is established and its kind served;
        :class:`NotEstablished` if it is not in time."""
        kind = crd["spec"]["names"]["kind"]
        wait_established(crd, lambda: self.read(crd), lambda v: self.serves(v, kind), self.clock)

    def apply(self, obj: Mapping[str, JSON], *, dry_run: bool = False, budget: Budget | None = None) -> None:
        """Server-side apply ``obj`` as mlopsctl, taking over fields other managers set (force); its
        transient refusals are retried within ``budget`` (a fresh one if None)."""
        resource = self.resource(obj["apiVersion"], obj["kind"])
        self._call(
            lambda: self.dynamic.server_side_apply(
                resource,
                body=dict(obj),
                field_manager=FIELD_MANAGER,
                force_conflicts="true",
                dry_run="All" if dry_run else None,
                serialize=False,
            ),
            budget,
        )

    def exists(self, obj: Mapping[str, JSON]) -> bool:
        """Whether the object ``obj`` names (its kind, namespace and name) is on the server."""
        return self.read(obj) is not None

    def read(self, obj: Mapping[str, JSON]) -> dict[str, Any] | None:
        """The object ``obj`` names (its kind, namespace and name) as the server has it; None if absent."""
        metadata = obj["metadata"]
        resource = self.resource(obj["apiVersion"], obj["kind"])
        try:
            response = self._call(
                lambda: self.dynamic.get(
                    resource, name=metadata["name"], namespace=metadata.get("namespace"), serialize=False
                )
            )
        except RequestError as exc:
            if exc.status == 404:
                return None
            raise
        found: dict[str, Any] = json.loads(response.data)
        return found

    def list(self, resource: Any, selector: str) -> list[dict[str, JSON]]:
        """Every object of ``resource`` in every namespace matching the label ``selector``."""
        items: list[dict[str, JSON]] = []
        page: str | None = None
        while True:
            body = self._page(resource, selector, page)
            items.extend(body.get("items") or [])
            page = (body.get("metadata") or {}).get("continue")
            if not page:
                return items

    def _page(self, resource: Any, selector: str, page: str | None) -> dict[str, Any]:
        response = self._call(
            lambda: self.dynamic.get(resource, label_selector=selector, _continue=page, serialize=False)
        )
        body: dict[str, Any] = json.loads(response.data)
        return body

    def delete(self, resource: Any, name: str, namespace: str | None) -> None:
        """Delete one object (its dependents are collected in the background); gone already is fine."""
        try:
            self._call(
                lambda: self.dynamic.delete(
                    resource,
                    name=name,
                    namespace=namespace,
                    propagation_policy="Background",
                    serialize=False,
                )
            )
        except RequestError as exc:
            if exc.status != 404:
                raise

    def _call(self, request: Callable[[], _T], budget: Budget | None = None) -> _T:
        """``request()``, retried while the server refuses it for a passing reason."""
        return retrying(lambda: self._once(request), self.clock, budget)

    def _once(self, request: Callable[[], _T]) -> _T:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return request()
        except HTTPError as exc:
            raise ApplyError(
                f"cannot reach the Kubernetes API at {self.host} (context {self.context}: {_reason(exc)}): "
                f"check that the cluster is up and reachable from here, or {self.cluster.get_credentials()}"
            ) from None
        except ApiException as exc:
            if exc.status == 401:
                raise ApplyError(
                    f"the Kubernetes API at {self.host} refused the credentials of context {self.context} "
                    f"(401 Unauthorized): {self.cluster.get_credentials()}"
                ) from None
            raise _request_error(exc) from None


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or exc
    return str(reason).split(": ", 1)[-1] if isinstance(reason, Exception) else str(reason)


def _request_error(exc: Any) -> RequestError:
    body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else exc.body
    try:
        status = json.loads(body or "")
    except ValueError:
        status = None
    if not isinstance(status, dict):
        return RequestError(exc.status, f"{exc.status} {exc.reason}", {}, retry_after(exc.headers, {}))
    message = status.get("message") or f"{exc.status} {exc.reason}"
    details = status.get("details") or {}
    return RequestError(exc.status, str(message), details, retry_after(exc.headers, details))


@contextmanager
def connect(
    cluster: ClusterRef, kubeconfig: str | None, context: str | None, clock: Clock = REAL_CLOCK
) -> Iterator[Connection]:
    """A connection through ``context`` of the kubeconfig (its current context by default).

    Refuses a GKE context that names another cluster than ``cluster``: the graph of one
    environment/region never goes to another's cluster.
    """
    path = kubeconfig_path(kubeconfig, os.environ)
    chosen = _context(cluster, path, context)
    client = _api_client(cluster, path, chosen)
    try:
        with tempfile.TemporaryDirectory(prefix="mlopsctl-discovery-") as cache:
            yield Connection(client, chosen, cluster, os.path.join(cache, "discovery.json"), clock)
    finally:
        client.close()


def _context(cluster: ClusterRef, path: str, flag: str | None) -> str:
    from kubernetes.config import ConfigException, list_kube_config_contexts

    where = path.replace(os.pathsep, ", ")
    try:
        contexts, current = list_kube_config_contexts(config_file=path)
    except ConfigException:
        raise ApplyError(
            f"no kubeconfig with a context at {where}: {cluster.get_credentials()}, or pass --kubeconfig"
        ) from None
    if flag is None and current is None:
        raise ApplyError(
            f"the kubeconfig {where} has no current context: {cluster.get_credentials()}, or pass --context"
        )
    names = sorted(c["name"] for c in contexts)
    name: str = flag if flag is not None else current["name"]
    if name not in names:
        known = ", ".join(names)
        raise ApplyError(f"no context {name} in {where} (it has {known}): {cluster.get_credentials()}")
    parts = name.split("_")
    if len(parts) == 4 and parts[0] == "gke" and name != cluster.context:
        raise ApplyError(
            f"the context {name} is the GKE cluster {parts[3]} ({parts[2]}, {parts[1]}), but the objects of "
            f"{cluster.target} belong in {cluster.name}: pass --context {cluster.context} or "
            f"{cluster.get_credentials()}"
        )
    return name


def _api_client(cluster: ClusterRef, path: str, context: str) -> Any:
    from kubernetes.config import ConfigException, new_client_from_config

    try:
        return new_client_from_config(config_file=path, context=context, persist_config=False)
    except ConfigException as exc:
        raise ApplyError(f"cannot use the context {context}: {exc}: {cluster.get_credentials()}") from None
