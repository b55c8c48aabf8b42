"""Restricted workloads: what the compiled Kubernetes objects run and who the mesh lets call them (MLP016).

mlopsctl writes every pod template to the ``restricted`` Pod Security Standard, without a
Kubernetes API token (:mod:`mlopsctl.compiler.pods`), and lets the mesh admit only the ingress
gateway and each endpoint's declared callers (:func:`mlopsctl.compiler.istio.admit_only`). A
template override (``project.templates``, docs/templates.md) may change any of that, so this
policy reads the objects as compiled, not the config.

Pod templates are found wherever an object holds one: any mapping with a ``containers`` list
(Deployments, StatefulSets, DaemonSets, Jobs, CronJobs' ``jobTemplate``, a Katib trial's Job,
PyTorchJob and TFJob replicas, JobSet jobs), the predictor, transformer and explainer of a KServe
InferenceService (pod fields inline, the ``model`` as a container), and the Experiment or training
job a ``tune-job`` or ``train-job`` launcher creates, embedded in its step's ``--config`` in the
PipelineVersion. Cluster add-ons, installed whole from upstream charts, are not read. The Baseline
controls of the standard (SELinux, AppArmor, sysctls, /proc, Windows host processes, probes' hosts) are
checked by :mod:`mlopsctl.policies.pod_baseline`.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from mlopsctl.compiler import alert_receiver
from mlopsctl.compiler.pipelines import PIPELINE_VERSION
from mlopsctl.graph import JSON, Resource, as_list, as_mapping
from mlopsctl.policies import Finding, PolicyContext, pod_baseline, policy

AUTHORIZATION_POLICY = "kubernetes:security.istio.io/v1:AuthorizationPolicy"
KSERVE_COMPONENTS = ("predictor", "transformer", "explainer")
KSERVE_CONTAINERS = frozenset(
    {"model", "sklearn", "xgboost", "tensorflow", "pytorch", "triton", "onnx", "pmml", "lightgbm"}
    | {"paddle", "huggingface", "alibi", "art"}
)
"""Keys of a KServe component whose value is a container (the model server)."""
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
HOST_NAMESPACES = {
    "hostNetwork": "the node's network",
    "hostPID": "the node's processes",
    "hostIPC": "the node's IPC",
}
ADDABLE_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
SECCOMP_PROFILES = frozenset({"RuntimeDefault", "Localhost"})
VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
"""The volume types the restricted standard allows (a hostPath, above all, is refused)."""
CALLER_FIELDS = ("principals", "requestPrincipals", "namespaces", "ipBlocks", "remoteIpBlocks")
"""The fields of an Istio source that name who may call; the ``not...`` fields only exclude."""
ANYONE = frozenset({"*", "0.0.0.0/0", "::/0"})
RECEIVER_DOOR: dict[str, JSON] = {
    "methods": ["POST"],
    "paths": [alert_receiver.PATH],
    "ports": [str(alert_receiver.PORT)],
}
"""The one operation mlopsctl opens to any caller: the retrain receiver's webhook, which Alertmanagers
outside the mesh post to (its NetworkPolicy admits only them)."""
LAUNCHED = ("experiment", "job")
"""The keys of a launcher's ``--config`` that hold the object it creates."""
HINT = (
    "fix the template override under project.templates (the built-in template is restricted), "
    "or waive MLP016 for this resource with a reason"
)
ACCESS_HINT = (
    "admit only the ingress gateway and the endpoint's declared callers, as the built-in template does: "
    "fix the override under project.templates, or waive MLP016 for this resource with a reason"
)


@dataclass(frozen=True)
class Pod:
    """A pod template within an object: who holds it, where, its pod-level fields and its containers."""

    subject: str
    """The object, as a message names it: ``Deployment 'x'``."""
    path: str
    """Where the pod's fields are in the object, as ``spec.template.spec``."""
    spec: Mapping[str, JSON]
    containers: tuple[tuple[str, Mapping[str, JSON]], ...]
    """(where, container) of each container, init and ephemeral ones included."""
    at: tuple[str | int, ...] = ()
    """A more precise place in mlops.yaml than the resource's source, if any."""
    annotations: tuple[tuple[str, Mapping[str, JSON]], ...] = ()
    """(where, annotations) of the metadata the pods get, as ``spec.template.metadata.annotations``."""


@policy("MLP016")
def restricted_workloads(ctx: PolicyContext) -> Iterator[Finding]:
    for resource in ctx.graph:
        if not resource.is_kubernetes:
            continue
        for pod in pods(ctx, resource):
            for problem in pod_problems(pod):
                yield Finding(
                    f"{problem} in {ctx.target.env}", hint=HINT, address=resource.address, path=pod.at
                )
        if resource.type == AUTHORIZATION_POLICY:
            for problem in open_rules(resource):
                yield Finding(
                    f"{problem} in {ctx.target.env}",
                    hint=ACCESS_HINT,
                    address=resource.address,
                )


def pods(ctx: PolicyContext, resource: Resource) -> Iterator[Pod]:
    """The pod templates of a compiled object, and of the objects its launcher steps create."""
    obj = dict(resource.inputs)
    subject = f"{obj.get('kind', resource.type.rsplit(':', 1)[-1])} '{resource.name}'"
    yield from _pods_in(obj, subject)
    if resource.type == PIPELINE_VERSION:
        for executor, launched, at in _launched(ctx, resource):
            kind = launched.get("kind", "object")
            by = f"step '{at[-1]}'" if at else f"executor '{executor}'"
            yield from _pods_in(launched, f"{subject} (the {kind} its {by} creates)", at)


def _pods_in(obj: Mapping[str, JSON], subject: str, at: tuple[str | int, ...] = ()) -> Iterator[Pod]:
    components: set[int] = set()
    if obj.get("kind") == "InferenceService" and isinstance(obj.get("spec"), dict):
        for name in KSERVE_COMPONENTS:
            component = obj["spec"].get(name)
            if isinstance(component, dict):
                components.add(id(component))
                path = f"spec.{name}"
                served = tuple(
                    (f"{path}.{key}", value)
                    for key, value in component.items()
                    if key in KSERVE_CONTAINERS and isinstance(value, dict)
                )
                # KServe gives the component's pods the service's annotations and the component's own
                notes = _annotations(("metadata", obj.get("metadata")), (path, component))
                yield Pod(subject, path, component, served + _containers(component, path), at, notes)
    for path, value, parent in _mappings(obj):
        if id(value) not in components and isinstance(value.get("containers"), list):
            meta = f"{path.rpartition('.')[0]}.metadata".lstrip(".")
            notes = _annotations((meta, as_mapping(parent).get("metadata")))
            yield Pod(subject, path, value, _containers(value, path), at, notes)


def _annotations(*holders: tuple[str, JSON]) -> tuple[tuple[str, Mapping[str, JSON]], ...]:
    """(where, annotations) of each (path, mapping) in ``holders`` whose mapping has annotations."""
    found = ((f"{where}.annotations", as_mapping(holder).get("annotations")) for where, holder in holders)
    return tuple((where, notes) for where, notes in found if isinstance(notes, dict) and notes)


def _containers(spec: Mapping[str, JSON], path: str) -> tuple[tuple[str, Mapping[str, JSON]], ...]:
    return tuple(
        (f"{path}.{key}[{i}]", container)
        for key in CONTAINER_LISTS
        for i, container in enumerate(as_list(spec.get(key)))
        if isinstance(container, dict)
    )


def _mappings(
    value: JSON, path: str = "", parent: JSON = None
) -> Iterator[tuple[str, Mapping[str, JSON], JSON]]:
    """Every mapping within ``value``, with its path (``spec.template.spec``, ``a.b[0]``) and the mapping
    that holds it (None for ``value`` itself and for the items of lists)."""
    if isinstance(value, dict):
        yield path, value, parent
        for key, child in value.items():
            yield from _mappings(child, f"{path}.{key}" if path else str(key), value)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _mappings(child, f"{path}[{i}]")


def _launched(
    ctx: PolicyContext, version: Resource
) -> Iterator[tuple[str, Mapping[str, JSON], tuple[str | int, ...]]]:
    """(executor, object, its step's place in mlops.yaml) of each object a launcher step creates: the
    ``experiment`` or ``job`` of the JSON ``--config`` its container is given."""
    spec = as_mapping(version.inputs.get("spec"))
    executors = as_mapping(
        as_mapping(as_mapping(spec.get("pipelineSpec")).get("deploymentSpec")).get("executors")
    )
    for executor, body in executors.items():
        args = as_list(as_mapping(as_mapping(body).get("container")).get("args"))
        for flag, value in itertools.pairwise(args):
            if flag == "--config" and isinstance(value, str):
                for launched in _launched_objects(value):
                    yield executor, launched, _step(ctx, version, executor)


def _launched_objects(config: str) -> list[Mapping[str, JSON]]:
    try:
        found = json.loads(config)
    except ValueError:
        return []
    return [found[key] for key in LAUNCHED if isinstance(found, dict) and isinstance(found.get(key), dict)]


def _step(ctx: PolicyContext, version: Resource, executor: str) -> tuple[str | int, ...]:
    """The step of the pipeline whose KFP executor is ``executor`` (``exec-<step>``), else nothing."""
    source = version.source
    if source[:1] != ("pipelines",) or len(source) < 2 or str(source[1]) not in ctx.config.pipelines:
        return ()
    for step in ctx.config.pipelines[str(source[1])].steps:
        if executor == "exec-" + re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-"):
            return (*source[:2], "steps", step)
    return ()


def pod_problems(pod: Pod) -> Iterator[str]:
    """What in ``pod`` breaks the restricted standard or mounts an API token, one message per field."""
    who, p = pod.subject, pod.path
    for field, what in HOST_NAMESPACES.items():
        if pod.spec.get(field) is True:
            yield f"{who} shares {what} ({p}.{field}: true)"
    if pod.spec.get("automountServiceAccountToken") is not False:
        yield f"{who} mounts a Kubernetes API token ({p}.automountServiceAccountToken is not false)"
    security = as_mapping(pod.spec.get("securityContext"))
    if security.get("runAsNonRoot") is False:
        yield f"{who} lets its containers run as root ({p}.securityContext.runAsNonRoot: false)"
    if security.get("runAsUser") == 0:
        yield f"{who} runs its containers as root ({p}.securityContext.runAsUser: 0)"
    pod_seccomp = as_mapping(security.get("seccompProfile")).get("type")
    if pod_seccomp is not None and str(pod_seccomp) not in SECCOMP_PROFILES:
        yield f"{who} runs without a seccomp profile ({p}.securityContext.seccompProfile.type: {pod_seccomp})"
    for i, volume in enumerate(as_list(pod.spec.get("volumes"))):
        kinds = sorted(k for k in as_mapping(volume) if k != "name" and k not in VOLUME_TYPES)
        if kinds:
            yield f"{who} mounts a {kinds[0]} volume ({p}.volumes[{i}].{kinds[0]})"
    yield from pod_baseline.pod_problems(who, p, pod.spec, pod.annotations)
    for where, container in pod.containers:
        yield from _container_problems(who, where, container, security)


def _container_problems(
    who: str, where: str, container: Mapping[str, JSON], pod_security: Mapping[str, JSON]
) -> Iterator[str]:
    name = f"container '{container.get('name') or where.rsplit('.', 1)[-1]}'"
    security = as_mapping(container.get("securityContext"))
    at = f"{where}.securityContext"
    if security.get("privileged") is True:
        yield f"{who} runs {name} privileged ({at}.privileged: true)"
    if security.get("allowPrivilegeEscalation") is not False:
        yield f"{who} lets {name} gain privileges ({at}.allowPrivilegeEscalation is not false)"
    non_root = security.get("runAsNonRoot")
    if non_root is False:
        yield f"{who} lets {name} run as root ({at}.runAsNonRoot: false)"
    elif non_root is None and pod_security.get("runAsNonRoot") is None:
        yield f"{who} lets {name} run as root (runAsNonRoot: true is set neither at {at} nor for the pod)"
    if security.get("runAsUser") == 0:
        yield f"{who} runs {name} as root ({at}.runAsUser: 0)"
    capabilities = as_mapping(security.get("capabilities"))
    added = sorted(str(c) for c in as_list(capabilities.get("add")) if str(c) not in ADDABLE_CAPABILITIES)
    if added:
        yield f"{who} gives {name} the capabilities {', '.join(added)} ({at}.capabilities.add)"
    if "ALL" not in as_list(capabilities.get("drop")):
        yield f"{who} keeps the default capabilities of {name} ({at}.capabilities.drop does not list ALL)"
    seccomp = as_mapping(security.get("seccompProfile")).get("type")
    if seccomp is not None and str(seccomp) not in SECCOMP_PROFILES:
        yield f"{who} runs {name} without a seccomp profile ({at}.seccompProfile.type: {seccomp})"
    elif seccomp is None and as_mapping(pod_security.get("seccompProfile")).get("type") is None:
        yield f"{who} runs {name} without a seccomp profile (set neither at {at} nor for the pod)"
    for i, port in enumerate(as_list(container.get("ports"))):
        if as_mapping(port).get("hostPort"):
            yield f"{who} binds a port of the node for {name} ({where}.ports[{i}].hostPort)"
    yield from pod_baseline.container_problems(who, name, where, container)


def open_rules(resource: Resource) -> Iterator[str]:
    """The rules of an ALLOW AuthorizationPolicy that admit any caller, except the retrain receiver's door."""
    spec = as_mapping(resource.inputs.get("spec"))
    who = f"AuthorizationPolicy '{resource.name}'"
    if spec.get("action") == "DENY" and not spec.get("rules"):
        yield f"{who} denies nothing (a DENY policy without rules): other ALLOW policies admit every caller"
    if spec.get("action", "ALLOW") != "ALLOW":
        return
    scope = as_mapping(spec.get("selector")).get("matchLabels")
    if spec.get("rules") and not scope and not spec.get("targetRef") and not spec.get("targetRefs"):
        yield (
            f"{who} admits its callers to every workload of its namespace "
            "(spec.selector.matchLabels is missing or empty)"
        )
    for i, rule in enumerate(as_list(spec.get("rules"))):
        rule = as_mapping(rule)
        sources = [as_mapping(as_mapping(f).get("source")) for f in as_list(rule.get("from"))]
        if not rule:
            yield f"{who} admits every request (spec.rules[{i}] is empty: it matches all)"
        elif not sources:
            if not _receiver_door(resource, rule):
                yield f"{who} admits any caller (spec.rules[{i}] has no from)"
        else:
            for j, source in enumerate(sources):
                if not any(not _anyone(v) for f in CALLER_FIELDS for v in as_list(source.get(f))):
                    yield f"{who} admits any caller (spec.rules[{i}].from[{j}].source names no caller)"


def _anyone(value: JSON) -> bool:
    """Whether a source value matches any caller: ``*``, a suffix match (``*/sa/default``), or every
    identity of a trust domain (``cluster.local/*``)."""
    text = str(value)
    return text in ANYONE or text.startswith("*") or re.fullmatch(r"[^/]*/\*", text) is not None


def _receiver_door(resource: Resource, rule: Mapping[str, JSON]) -> bool:
    operations = [as_mapping(to).get("operation") for to in as_list(rule.get("to"))]
    return (
        resource.name == alert_receiver.NAME
        and bool(operations)
        and all(o == RECEIVER_DOOR for o in operations)
    )
