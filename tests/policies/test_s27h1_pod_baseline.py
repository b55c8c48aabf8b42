"""MLP016 holds pods to the Baseline controls that the restricted Pod Security Standard includes:
SELinux, AppArmor, Windows host processes, /proc masks, sysctls, and probes aimed at other hosts."""

from __future__ import annotations

import pathlib

import pytest
from policy_helpers import HEAD, RESTRICTED_DEPLOYMENT, TEMPLATED, edited, overridden, where

LOGGER = RESTRICTED_DEPLOYMENT.replace(
    "      labels: {{ pod_labels | tojson }}\n",
    "      labels: {{ pod_labels | tojson }}\n      annotations: {note: x}\n",
)
"""The request logger's Deployment, restricted: each case edits one field of it."""
POD = "spec.template.spec.securityContext"
CONTAINER = "spec.template.spec.containers[0].securityContext"
POD_SC = "{runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}"
POD_SC_WITH = "{runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}, "
APP_SC = "{allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}"
APP_SC_WITH = "{allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, "
CASES = [
    ("pod SELinux type", (POD_SC, POD_SC_WITH + "seLinuxOptions: {type: spc_t}}"),
     "runs its containers with an SELinux type outside the container types "
     f"({POD}.seLinuxOptions.type: spc_t)"),
    ("container SELinux type", (APP_SC, APP_SC_WITH + "seLinuxOptions: {type: unconfined_t}}"),
     "runs container 'app' with an SELinux type outside the container types "
     f"({CONTAINER}.seLinuxOptions.type: unconfined_t)"),
    ("SELinux user", (APP_SC, APP_SC_WITH + "seLinuxOptions: {user: system_u}}"),
     f"runs container 'app' with a custom SELinux user ({CONTAINER}.seLinuxOptions.user: system_u)"),
    ("SELinux role", (POD_SC, POD_SC_WITH + "seLinuxOptions: {role: system_r, type: container_t}}"),
     f"runs its containers with a custom SELinux role ({POD}.seLinuxOptions.role: system_r)"),
    ("allowed SELinux types",
     (APP_SC, APP_SC_WITH + "seLinuxOptions: {type: container_engine_t, level: s0}}"), None),
    ("unsafe sysctl", (POD_SC, POD_SC_WITH + "sysctls: [{name: net.ipv4.tcp_syncookies, value: '1'}, "
                       "{name: kernel.msgmax, value: '65536'}]}"),
     f"sets the sysctl kernel.msgmax, outside the safe set ({POD}.sysctls[1].name)"),
    ("safe sysctls", (POD_SC, POD_SC_WITH + "sysctls: [{name: net.ipv4.tcp_keepalive_time, value: '60'}, "
                      "{name: net.ipv4.ip_local_reserved_ports, value: '8080'}]}"),
     None),
    ("pod AppArmor", (POD_SC, POD_SC_WITH + "appArmorProfile: {type: Unconfined}}"),
     f"runs its containers without an AppArmor profile ({POD}.appArmorProfile.type: Unconfined)"),
    ("container AppArmor", (APP_SC, APP_SC_WITH + "appArmorProfile: {type: Unconfined}}"),
     f"runs container 'app' without an AppArmor profile ({CONTAINER}.appArmorProfile.type: Unconfined)"),
    ("allowed AppArmor", (APP_SC, APP_SC_WITH + "appArmorProfile: {type: Localhost, localhostProfile: p}}"),
     None),
    ("AppArmor annotation", ("{note: x}", "{container.apparmor.security.beta.kubernetes.io/app: unconfined}"),
     "runs container 'app' without its AppArmor profile (spec.template.metadata.annotations"
     "['container.apparmor.security.beta.kubernetes.io/app']: unconfined)"),
    ("allowed AppArmor annotation",
     ("{note: x}", "{container.apparmor.security.beta.kubernetes.io/app: runtime/default}"), None),
    ("pod host process", (POD_SC, POD_SC_WITH + "windowsOptions: {hostProcess: true}}"),
     f"runs its containers as a Windows host process ({POD}.windowsOptions.hostProcess: true)"),
    ("container host process", (APP_SC, APP_SC_WITH + "windowsOptions: {hostProcess: true}}"),
     f"runs container 'app' as a Windows host process ({CONTAINER}.windowsOptions.hostProcess: true)"),
    ("unmasked /proc", (APP_SC, APP_SC_WITH + "procMount: Unmasked}"),
     f"unmasks /proc for container 'app' ({CONTAINER}.procMount: Unmasked)"),
    ("default /proc", (APP_SC, APP_SC_WITH + "procMount: Default}"), None),
    ("probe at a host", ("image: app:1", "image: app:1\n          readinessProbe: "
                         "{httpGet: {host: 169.254.169.254, path: /, port: 80}}"),
     "aims a check of container 'app' at host 169.254.169.254 "
     "(spec.template.spec.containers[0].readinessProbe.httpGet.host)"),
    ("hook at a host", ("image: app:1", "image: app:1\n          lifecycle: "
                        "{preStop: {tcpSocket: {host: 10.0.0.1, port: 22}}}"),
     "aims a check of container 'app' at host 10.0.0.1 "
     "(spec.template.spec.containers[0].lifecycle.preStop.tcpSocket.host)"),
    ("probe of its own pod",
     ("image: app:1", "image: app:1\n          livenessProbe: {tcpSocket: {port: 80}}"), None),
]  # fmt: skip


def mlp016(folder: pathlib.Path, text: str, overrides: dict[str, str]) -> list[tuple[str, str]]:
    """(message, file:line:col) of MLP016's findings in prod, with ``overrides`` in ``ovr/kubernetes/``."""
    return [
        (d.message.removesuffix(" in prod"), str(d.position))
        for d in overridden(folder, text, overrides, "MLP016")
        if d.message.endswith(" in prod")
    ]


@pytest.mark.parametrize(("edit", "problem"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_baseline_control(tmp_path: pathlib.Path, edit: tuple[str, str], problem: str | None) -> None:
    found = mlp016(tmp_path, TEMPLATED, {"deployment": edited(LOGGER, [edit])})
    logger = where(TEMPLATED, "logging: {")
    assert found == ([(f"Deployment 'score-request-logger' {problem}", logger)] if problem else [])


def test_an_inference_service_override_with_a_privileged_selinux_type(tmp_path: pathlib.Path) -> None:
    """The audit's repro: the predictor's pods given the super-privileged container type."""
    isvc = (
        "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\n"
        + HEAD
        + """\
spec:
  predictor:
    automountServiceAccountToken: false
    securityContext:
      runAsNonRoot: true
      seccompProfile: {type: RuntimeDefault}
      seLinuxOptions: {type: spc_t}
    model:
      modelFormat: {name: sklearn}
      runtime: kserve-sklearnserver
      storageUri: gs://elsewhere/m/v1
      securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
"""
    )
    assert mlp016(tmp_path, TEMPLATED, {"inferenceservice": isvc}) == [
        (
            "InferenceService 'score-main' runs its containers with an SELinux type outside the container "
            "types (spec.predictor.securityContext.seLinuxOptions.type: spc_t)",
            where(TEMPLATED, "main: {model"),
        )
    ]


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (
            ("automountServiceAccountToken: false", "volumes: 1\n      automountServiceAccountToken: false"),
            None,
        ),
        (
            ("seccompProfile: {type: RuntimeDefault}", "seccompProfile: {type: {}}"),
            "runs without a seccomp profile (spec.template.spec.securityContext.seccompProfile.type: {})",
        ),
        (("drop: [ALL]}", "drop: ALL, add: 7}"), "keeps the default capabilities of container 'app'"),
        (("image: app:1", "image: app:1\n          ports: 80"), None),
    ],
    ids=["volumes not a list", "seccomp type a mapping", "capabilities not lists", "ports not a list"],
)
def test_misshapen_fields_are_read_not_crashed_on(
    tmp_path: pathlib.Path, edit: tuple[str, str], problem: str | None
) -> None:
    """What an override renders may be any shape: MLP016 reports what it can read, and never fails."""
    found = [m for m, _ in mlp016(tmp_path, TEMPLATED, {"deployment": edited(LOGGER, [edit])})]
    assert not [m for m in found if "failed" in m]
    assert problem is None or any(problem in m for m in found), found
