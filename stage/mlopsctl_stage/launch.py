"""What the launchers (``train-job``, ``tune-job``) share: they create one object that runs user pods
(a PyTorchJob, TFJob, JobSet or Katib Experiment, compiled into ``--config``), wait for it, and fail
when it fails.

In the cluster the object is created in its namespace as ``NAME-RUN`` (RUN: the first 8 characters
of the pipeline run id, the ``pipeline/runid`` label of the launcher's own pod), owned by that pod
(``KFP_POD_NAME``, which KFP sets on every executor pod), so that it is deleted with the run. An
object of that name left by an earlier attempt of the same step is replaced.

Data reaches the pods through the GKE Cloud Storage FUSE CSI driver: every bucket named by a
``gs://`` input or output is mounted at ``/gcs/BUCKET`` in the pod templates, and the pods receive
``/gcs/BUCKET/PATH``. In a local run (``storage.local_settings()``), ``gs://BUCKET/PATH`` is
``$ROOT/gcs/BUCKET/PATH``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlopsctl_stage.errors import StageError
from mlopsctl_stage.storage import LocalSettings

POD_NAME_ENV = "KFP_POD_NAME"
RUN_ID_LABEL = "pipeline/runid"
GCS_ROOT = "/gcs"
FUSE_DRIVER = "gcsfuse.csi.storage.gke.io"
FUSE_ANNOTATION = "gke-gcsfuse/volumes"
FUSE_OPTIONS = "implicit-dirs,file-mode=666,dir-mode=777"
"""Objects written without folder placeholders (as KFP writes them) are visible; any user may write."""
WATCH_SECONDS = 60
GONE_SECONDS = 300
"""How long a replaced object may take to be deleted."""


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    plural: str
    succeeded: str
    """The condition type that is True when the object finished well."""
    failed: str = "Failed"


KINDS = {
    ("kubeflow.org/v1", "PyTorchJob"): Kind("kubeflow.org", "v1", "pytorchjobs", "Succeeded"),
    ("kubeflow.org/v1", "TFJob"): Kind("kubeflow.org", "v1", "tfjobs", "Succeeded"),
    ("jobset.x-k8s.io/v1alpha2", "JobSet"): Kind("jobset.x-k8s.io", "v1alpha2", "jobsets", "Completed"),
    ("kubeflow.org/v1beta1", "Experiment"): Kind("kubeflow.org", "v1beta1", "experiments", "Succeeded"),
}
LEADERS = ("Master", "Chief")


def compiled_object(config: dict[str, Any], key: str) -> dict[str, Any]:
    """The object under ``key`` of ``--config``, with a kind this module knows, a name and a namespace."""
    obj = config.get(key)
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    if not isinstance(obj, dict) or not isinstance(metadata, dict) or not metadata.get("name"):
        raise StageError(f"--config ({key})", "must be a Kubernetes object with metadata.name")
    if (obj.get("apiVersion"), obj.get("kind")) not in KINDS:
        known = ", ".join(f"{k} ({v})" for v, k in KINDS)
        raise StageError(f"--config ({key})", f"{obj.get('kind')!r} is not one of {known}")
    return obj


def timeout_seconds(config: dict[str, Any]) -> float | None:
    value = config.get("timeoutSeconds")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise StageError("--config (timeoutSeconds)", "must be a positive number of seconds")
    return float(value)


def title(obj: dict[str, Any]) -> str:
    return f"{obj['kind']} {obj['metadata']['name']}"


def pod_templates(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod template of every replica, replicated job or trial of ``obj``."""
    spec = obj.get("spec") or {}
    if obj["kind"] == "JobSet":
        return [job["template"]["spec"]["template"] for job in spec.get("replicatedJobs", [])]
    if obj["kind"] == "Experiment":
        return [spec["trialTemplate"]["trialSpec"]["spec"]["template"]]
    replicas: dict[str, Any] = next((v for k, v in spec.items() if k.endswith("ReplicaSpecs")), {})
    ordered = sorted(replicas, key=lambda role: (role not in LEADERS, role))
    return [replicas[role]["template"] for role in ordered]


def primary_containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The containers that run the user's command: a trial's primary one, every replica's otherwise."""
    if obj["kind"] == "Experiment":
        template = obj["spec"]["trialTemplate"]
        primary = template.get("primaryContainerName")
        containers = pod_templates(obj)[0]["spec"]["containers"]
        return [c for c in containers if c.get("name") == primary][:1]
    return [c for pod in pod_templates(obj) for c in pod["spec"]["containers"]]


def leader(obj: dict[str, Any]) -> dict[str, Any]:
    """The container a local run runs once: the master's (chief's), the first host's or the trial's."""
    containers = primary_containers(obj)
    if not containers:
        raise StageError(title(obj), "has no container to run")
    return containers[0]


def flags(pairs: Iterable[tuple[str, str]]) -> list[str]:
    return [f"--{name}={value}" for name, value in pairs]


def local_path(settings: LocalSettings, value: str) -> str:
    """``$ROOT/gcs/BUCKET/PATH`` for ``gs://BUCKET/PATH``; anything else as it is."""
    return f"{settings.root}/gcs/{value.removeprefix('gs://')}" if value.startswith("gs://") else value


def literal_env(container: dict[str, Any]) -> dict[str, str]:
    """The container's variables with a plain value (those from Secrets exist only in the cluster)."""
    return {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}


def prepare_outputs(paths: Iterable[str]) -> None:
    for path in paths:
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def mount_gcs(obj: dict[str, Any], pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Mount the buckets of the ``gs://`` values of ``pairs`` in every pod template of ``obj``;
    returns ``pairs`` with those values as paths under the mounts."""
    buckets = sorted({value[5:].split("/", 1)[0] for _, value in pairs if value.startswith("gs://")})
    for template in pod_templates(obj) if buckets else []:
        metadata = template.setdefault("metadata", {})
        metadata.setdefault("annotations", {})[FUSE_ANNOTATION] = "true"
        spec = template["spec"]
        for bucket in buckets:
            volume = _volume_name(bucket)
            attributes = {"bucketName": bucket, "mountOptions": FUSE_OPTIONS}
            spec.setdefault("volumes", []).append(
                {"name": volume, "csi": {"driver": FUSE_DRIVER, "volumeAttributes": attributes}}
            )
            for container in spec["containers"]:
                mount = {"name": volume, "mountPath": f"{GCS_ROOT}/{bucket}"}
                container.setdefault("volumeMounts", []).append(mount)
    return [(name, f"{GCS_ROOT}/{v[5:]}" if v.startswith("gs://") else v) for name, v in pairs]


def _volume_name(bucket: str) -> str:
    safe = re.sub(r"[^a-z0-9-]+", "-", bucket.lower()).strip("-")[:40].rstrip("-")
    return f"gcs-{safe}-{hashlib.sha256(bucket.encode()).hexdigest()[:6]}"


class Cluster:
    """The Kubernetes API as the launcher's pod sees it (or a kubeconfig, outside a cluster)."""

    def __init__(self) -> None:
        from kubernetes import client, config

        try:
            if os.environ.get("KUBERNETES_SERVICE_HOST"):
                config.load_incluster_config()
            else:
                config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))
        except config.ConfigException as error:
            raise StageError("kubernetes", f"no in-cluster account and no kubeconfig: {error}") from None
        self.custom = client.CustomObjectsApi()
        self.core = client.CoreV1Api()

    def _call(self, subject: str, method: Any, *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            return method(*args, **kwargs)
        except ApiException as error:
            raise StageError(subject, _api_problem(error)) from None

    def owner(self, namespace: str) -> tuple[dict[str, Any], str]:
        """The ownerReference to the launcher's pod, and the run id (the pod's uid without a run label)."""
        name = os.environ.get(POD_NAME_ENV) or os.environ.get("HOSTNAME")
        if not name:
            raise StageError("launcher pod", f"{POD_NAME_ENV} is not set: not running as a KFP executor?")
        response = self._call(
            f"launcher pod ({name})", self.core.read_namespaced_pod, name, namespace, _preload_content=False
        )
        pod = json.loads(response.data)
        meta = pod["metadata"]
        reference = {"apiVersion": "v1", "kind": "Pod", "name": meta["name"], "uid": meta["uid"]}
        return reference, (meta.get("labels") or {}).get(RUN_ID_LABEL) or meta["uid"]

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create ``obj``, replacing an object of its name (left by an earlier attempt of the step)."""
        from kubernetes.client.exceptions import ApiException

        kind, meta = KINDS[(obj["apiVersion"], obj["kind"])], obj["metadata"]
        where = (kind.group, kind.version, meta["namespace"], kind.plural)
        try:
            created: dict[str, Any] = self.custom.create_namespaced_custom_object(*where, obj)
            return created
        except ApiException as error:
            if error.status != 409:
                raise StageError(title(obj), f"cannot create it: {_api_problem(error)}") from None
        print(f"{title(obj)} exists, left by an earlier attempt of this step: replacing it", flush=True)
        self.delete(obj)
        deadline = time.monotonic() + GONE_SECONDS
        while self.get(obj) is not None:
            if time.monotonic() > deadline:
                raise StageError(title(obj), f"the earlier one was not deleted within {GONE_SECONDS}s")
            time.sleep(1)
        created = self._call(title(obj), self.custom.create_namespaced_custom_object, *where, obj)
        return created

    def get(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        from kubernetes.client.exceptions import ApiException

        kind, meta = KINDS[(obj["apiVersion"], obj["kind"])], obj["metadata"]
        try:
            found: dict[str, Any] = self.custom.get_namespaced_custom_object(
                kind.group, kind.version, meta["namespace"], kind.plural, meta["name"]
            )
            return found
        except ApiException as error:
            if error.status == 404:
                return None
            raise StageError(title(obj), _api_problem(error)) from None

    def delete(self, obj: dict[str, Any]) -> None:
        from kubernetes.client.exceptions import ApiException

        kind, meta = KINDS[(obj["apiVersion"], obj["kind"])], obj["metadata"]
        try:
            self.custom.delete_namespaced_custom_object(
                kind.group,
                kind.version,
                meta["namespace"],
                kind.plural,
                meta["name"],
                propagation_policy="Background",
            )
        except ApiException as error:
            if error.status != 404:
                raise StageError(title(obj), f"cannot delete it: {_api_problem(error)}") from None

    def list(
        self, group: str, version: str, namespace: str, plural: str, selector: str
    ) -> list[dict[str, Any]]:
        found = self._call(
            f"{plural} ({selector})",
            self.custom.list_namespaced_custom_object,
            group,
            version,
            namespace,
            plural,
            label_selector=selector,
        )
        return list(found.get("items", []))

    def updates(self, obj: dict[str, Any], timeout: float) -> Iterator[dict[str, Any]]:
        """The object as it changes, for at most ``timeout`` seconds (a watch; ends early on any hiccup)."""
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException

        kind, meta = KINDS[(obj["apiVersion"], obj["kind"])], obj["metadata"]
        stream = watch.Watch().stream(
            self.custom.list_namespaced_custom_object,
            kind.group,
            kind.version,
            meta["namespace"],
            kind.plural,
            field_selector=f"metadata.name={meta['name']}",
            resource_version=meta.get("resourceVersion"),
            timeout_seconds=max(1, int(timeout)),
        )
        try:
            for event in stream:
                if event["type"] == "DELETED":
                    raise StageError(title(obj), "was deleted before it finished")
                if event["type"] in ("ADDED", "MODIFIED"):
                    yield event["object"]
        except ApiException:
            return  # e.g. 410 Gone: the caller reads the object again


def run_in_cluster(cluster: Cluster, obj: dict[str, Any], timeout: float | None) -> dict[str, Any]:
    """Create ``obj`` for this run, owned by the launcher's pod, and wait for it to succeed."""
    meta = obj["metadata"]
    owner, run_id = cluster.owner(meta["namespace"])
    suffix = re.sub(r"[^a-z0-9]", "", run_id.lower())[:8]
    meta["name"] = f"{meta['name']}-{suffix}"
    meta["ownerReferences"] = [owner]
    print(f"Creating {title(obj)} in namespace {meta['namespace']}", flush=True)
    return wait(cluster, cluster.create(obj), timeout)


def wait(cluster: Cluster, obj: dict[str, Any], timeout: float | None) -> dict[str, Any]:
    """Stream the status of ``obj`` until it succeeds (returned), fails or outlives ``timeout``."""
    kind = KINDS[(obj["apiVersion"], obj["kind"])]
    deadline = None if timeout is None else time.monotonic() + timeout
    shown: set[str] = set()
    while True:
        current = cluster.get(obj)
        if current is None:
            raise StageError(title(obj), "was deleted before it finished")
        if _done(current, kind, shown):
            return current
        remaining = WATCH_SECONDS if deadline is None else deadline - time.monotonic()
        if remaining <= 0:
            cluster.delete(obj)
            raise StageError(title(obj), f"did not finish within {timeout:g} seconds; deleted it")
        for update in cluster.updates(current, min(remaining, WATCH_SECONDS)):
            if _done(update, kind, shown):
                return update


def _done(obj: dict[str, Any], kind: Kind, shown: set[str]) -> bool:
    """Print what is new in the status of ``obj``; True when it succeeded, StageError when it failed."""
    status = obj.get("status") or {}
    true = [c for c in status.get("conditions") or [] if c.get("status") == "True"]
    lines = [_condition(obj, c) for c in true]
    if obj["kind"] == "Experiment" and status.get("trials"):
        counts = ", ".join(
            f"{status[f'trials{state}']} {state.lower()}"
            for state in ("Succeeded", "Failed", "Running", "Pending", "EarlyStopped")
            if status.get(f"trials{state}")
        )
        lines.append(f"{title(obj)}: {status['trials']} trials ({counts})")
    for line in lines:
        if line not in shown:
            shown.add(line)
            print(line, flush=True)
    types = {c.get("type") for c in true}
    if kind.failed in types:
        failed = next(c for c in true if c.get("type") == kind.failed)
        raise StageError(
            title(obj), f"failed: {failed.get('message') or failed.get('reason') or 'no reason given'}"
        )
    return kind.succeeded in types


def _condition(obj: dict[str, Any], condition: dict[str, Any]) -> str:
    why = ": ".join(str(condition[k]) for k in ("reason", "message") if condition.get(k))
    return f"{title(obj)}: {condition.get('type')}" + (f" ({why})" if why else "")


def _api_problem(error: Any) -> str:
    try:
        message = json.loads(error.body).get("message")
    except (TypeError, ValueError, AttributeError):
        message = None
    meaning = {
        403: "the pipeline's Kubernetes account is not allowed to",
        404: "not found (is its kind installed in the cluster?)",
    }.get(error.status)
    return "; ".join(part for part in (f"HTTP {error.status}", meaning, message or error.reason) if part)
