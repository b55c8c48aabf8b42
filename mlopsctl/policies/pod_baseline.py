"""The Baseline controls of the Pod Security Standards that the restricted standard includes (MLP016).

:mod:`mlopsctl.policies.workloads` finds the pod templates and checks the restricted controls; this
module checks the rest of what the Baseline profile forbids (kubernetes.io, "Pod Security Standards",
and the checks of Kubernetes' pod-security-admission): SELinux types, users and roles; AppArmor
profiles other than the runtime's default or a node's own; Windows host processes; an unmasked
``/proc``; sysctls outside the safe set; and probes or lifecycle hooks aimed at another host.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from mlopsctl.graph import JSON, as_mapping

SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
"""The SELinux types a pod or container may ask for (empty: the runtime's default)."""
APPARMOR_TYPES = frozenset({"RuntimeDefault", "Localhost"})
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
"""The (deprecated) annotation prefix that sets a container's AppArmor profile, per container name."""
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_rmem",  # safe since Kubernetes 1.32
        "net.ipv4.tcp_wmem",
    }
)
"""Sysctls namespaced to the pod and isolated from other pods: the only ones the standard allows."""
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
HOOKS = ("postStart", "preStop")
HANDLERS = ("httpGet", "tcpSocket")


def security_context_problems(subject: str, at: str, security: Mapping[str, JSON]) -> Iterator[str]:
    """What a pod's or a container's ``securityContext`` (at ``at``) sets beyond the Baseline;
    ``subject`` is ``Deployment 'x'`` for a pod, ``Deployment 'x' ... container 'c'`` for a container."""
    selinux = as_mapping(security.get("seLinuxOptions"))
    kind = selinux.get("type")
    if kind is not None and str(kind) not in SELINUX_TYPES:
        yield f"{subject} with an SELinux type outside the container types ({at}.seLinuxOptions.type: {kind})"
    for field in ("user", "role"):
        if selinux.get(field):
            yield f"{subject} with a custom SELinux {field} ({at}.seLinuxOptions.{field}: {selinux[field]})"
    apparmor = as_mapping(security.get("appArmorProfile")).get("type")
    if apparmor is not None and str(apparmor) not in APPARMOR_TYPES:
        yield f"{subject} without an AppArmor profile ({at}.appArmorProfile.type: {apparmor})"
    if as_mapping(security.get("windowsOptions")).get("hostProcess") is True:
        yield f"{subject} as a Windows host process ({at}.windowsOptions.hostProcess: true)"


def pod_problems(
    who: str, path: str, spec: Mapping[str, JSON], annotations: tuple[tuple[str, Mapping[str, JSON]], ...]
) -> Iterator[str]:
    """The pod-level Baseline findings: its security context, its sysctls and its AppArmor annotations."""
    security = as_mapping(spec.get("securityContext"))
    yield from security_context_problems(f"{who} runs its containers", f"{path}.securityContext", security)
    sysctls = security.get("sysctls")
    for i, sysctl in enumerate(sysctls if isinstance(sysctls, list) else []):
        name = as_mapping(sysctl).get("name")
        if str(name) not in SAFE_SYSCTLS:
            at = f"{path}.securityContext.sysctls[{i}].name"
            yield f"{who} sets the sysctl {name}, outside the safe set ({at})"
    for where, values in annotations:
        for key, value in values.items():
            if key.startswith(APPARMOR_ANNOTATION) and not _default_apparmor(value):
                container = key.removeprefix(APPARMOR_ANNOTATION)
                yield (
                    f"{who} runs container '{container}' without its AppArmor profile "
                    f"({where}['{key}']: {value})"
                )


def container_problems(who: str, name: str, where: str, container: Mapping[str, JSON]) -> Iterator[str]:
    """The container-level Baseline findings of the container ``name`` at ``where``."""
    at = f"{where}.securityContext"
    security = as_mapping(container.get("securityContext"))
    yield from security_context_problems(f"{who} runs {name}", at, security)
    proc = security.get("procMount")
    if proc is not None and proc != "Default":
        yield f"{who} unmasks /proc for {name} ({at}.procMount: {proc})"
    aimed = [(probe, as_mapping(container.get(probe))) for probe in PROBES]
    aimed += [
        (f"lifecycle.{hook}", as_mapping(as_mapping(container.get("lifecycle")).get(hook))) for hook in HOOKS
    ]
    for field, handler in aimed:
        for kind in HANDLERS:
            host = as_mapping(handler.get(kind)).get("host")
            if host:
                yield f"{who} aims a check of {name} at host {host} ({where}.{field}.{kind}.host)"


def _default_apparmor(value: JSON) -> bool:
    """Whether an AppArmor annotation keeps a confined profile: the runtime's default or one of the node's."""
    text = str(value or "")
    return text in ("", "runtime/default") or text.startswith("localhost/")
