"""MLP016: the compiled pods follow the restricted Pod Security Standard and mount no API token, and the
mesh admits only declared callers, whatever a template override (``project.templates``) makes of them."""

from __future__ import annotations

import pathlib
import re

import pytest
from helpers import MINIMAL, OWNED_STAGED, owned
from policy_helpers import (
    DEPLOYMENT,
    HEAD,
    PASSING,
    RESTRICTED_DEPLOYMENT,
    TEMPLATE,
    TEMPLATED,
    overridden,
    where,
)

from mlopsctl.config.diagnostics import Diagnostic

AUTHZ = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n" + HEAD
SCOPED = "  selector: {matchLabels: {{ match_labels | tojson }}}\n"
HOST_ROOT = (
    DEPLOYMENT
    + TEMPLATE
    + """\
    spec:
      hostNetwork: true
      hostPID: true
      automountServiceAccountToken: true
      serviceAccountName: default
      containers:
        - name: x
          image: busybox
          securityContext: {privileged: true, runAsUser: 0}
"""
)
"""The request logger as the audit's override ran it: privileged, as root, in the node's namespaces."""
ALLOW_ALL = AUTHZ + "spec:\n" + SCOPED + "  action: ALLOW\n  rules: [{}]\n"
"""Every AuthorizationPolicy, the predictors' deny-others included, turned into allow-all."""
LOGGER = "prod/us-central1/kubernetes:apps/v1:Deployment/score-request-logger"
C = "spec.template.spec.containers[0].securityContext"
LOGGER_FOUND = [
    f"Deployment 'score-request-logger' keeps the default capabilities of container 'x' "
    f"({C}.capabilities.drop does not list ALL)",
    f"Deployment 'score-request-logger' lets container 'x' gain privileges ({C}.allowPrivilegeEscalation is "
    "not false)",
    "Deployment 'score-request-logger' lets container 'x' run as root "
    f"(runAsNonRoot: true is set neither at {C} nor for the pod)",
    "Deployment 'score-request-logger' mounts a Kubernetes API token "
    "(spec.template.spec.automountServiceAccountToken is not false)",
    f"Deployment 'score-request-logger' runs container 'x' as root ({C}.runAsUser: 0)",
    f"Deployment 'score-request-logger' runs container 'x' privileged ({C}.privileged: true)",
    f"Deployment 'score-request-logger' runs container 'x' without a seccomp profile (set neither at {C} nor "
    "for the pod)",
    "Deployment 'score-request-logger' shares the node's network (spec.template.spec.hostNetwork: true)",
    "Deployment 'score-request-logger' shares the node's processes (spec.template.spec.hostPID: true)",
]
POLICIES_FOUND = [
    f"AuthorizationPolicy '{name}' admits every request (spec.rules[0] is empty: it matches all)"
    for name in (
        "score-main-predictor",
        "score-main-predictor-deny-others",
        "score-request-logger",
        "score-request-logger-deny-others",
    )
]


def mlp016(folder: pathlib.Path, text: str, overrides: dict[str, str]) -> list[Diagnostic]:
    return overridden(folder, text, overrides, "MLP016")


def in_env(found: list[Diagnostic], env: str) -> list[tuple[str, str, str]]:
    """(severity, message without the environment, file:line:col) of the findings in ``env``; a finding
    that each region repeats names its region too (``in prod/us-central1``)."""
    suffix = re.compile(rf" in {env}(/[a-z0-9-]+)?$")
    return [
        (d.severity.value, suffix.sub("", d.message), str(d.position))
        for d in found
        if suffix.search(d.message)
    ]


def test_the_audited_overrides_are_errors_in_prod_and_warnings_in_dev(tmp_path: pathlib.Path) -> None:
    found = mlp016(tmp_path, TEMPLATED, {"deployment": HOST_ROOT, "authorizationpolicy": ALLOW_ALL})
    endpoint, logging = where(TEMPLATED, "score:\n    logging"), where(TEMPLATED, "logging: {")
    expected = sorted(
        [(m, endpoint) for m in POLICIES_FOUND[:2]]
        + [(m, logging) for m in POLICIES_FOUND[2:] + LOGGER_FOUND]
    )
    assert sorted((m, at) for _, m, at in in_env(found, "prod")) == expected
    assert {s for s, _, _ in in_env(found, "prod")} == {"error"}
    assert sorted((m, at) for _, m, at in in_env(found, "dev")) == expected
    assert {s for s, _, _ in in_env(found, "dev")} == {"warning"}
    assert len(found) == 2 * len(expected)
    logger = next(d for d in found if d.address == LOGGER)
    assert logger.hint is not None and "project.templates" in logger.hint and "waive MLP016" in logger.hint


def test_a_waiver_with_a_reason_silences_the_resource_it_names(tmp_path: pathlib.Path) -> None:
    waived = TEMPLATED + (
        "policies:\n  waivers:\n"
        f"    - {{policy: MLP016, resource: '{LOGGER}', reason: a node debugger that security reviewed}}\n"
    )
    found = mlp016(tmp_path, waived, {"deployment": HOST_ROOT, "authorizationpolicy": ALLOW_ALL})
    assert [m for _, m, _ in in_env(found, "prod")] == POLICIES_FOUND
    assert sorted(m for _, m, _ in in_env(found, "dev")) == sorted(POLICIES_FOUND + LOGGER_FOUND)


RECEIVER = (
    owned(MINIMAL).replace("  name: demo\n", "  name: demo\n  stageImage: stages:1\n", 1)
    + """\
data:
  datasets:
    logs: {}
models:
  m: {framework: sklearn, versions: {v1: {artifactUri: gs://acme-models/m/1}}}
endpoints:
  api:
    variants: {main: {model: m, version: v1}}
    logging: {dataset: logs}
pipelines:
  retrain:
    steps: {fit: {image: fit:1, command: [fit]}}
monitors:
  watch: {type: availability, endpoint: api, objective: 99.5, window: 1h, actions: {retrain: retrain}}
"""
)
"""An SLO monitor that retrains: the retrain receiver's webhook is open to Alertmanagers outside the mesh."""
TUNED = (
    OWNED_STAGED
    + """\
accelerators:
  gpu: {type: gpu, accelerator: nvidia-l4, count: 1}
pipelines:
  p:
    steps:
      prepare: {image: prep:1, command: [prep], outputs: {data: artifact}}
      search:
        kind: tune
        image: trainer:1
        command: [python, trial.py]
        inputs: {data: prepare.data}
        outputs: {best: artifact}
        tuning:
          searchSpace: {lr: {type: double, min: 0.1, max: 1}}
          objective: {metric: auc_pr}
      fit:
        kind: train
        image: trainer:1
        command: [python, -m, train]
        inputs: {data: prepare.data}
        distributed: {framework: pytorch, workers: 2}
        resources: {nodePool: gpu, accelerators: 1}
"""
)
"""A Katib Experiment and a PyTorchJob, embedded in the PipelineVersion's launcher steps."""


@pytest.mark.parametrize(
    "text", [MINIMAL, PASSING, RECEIVER, TUNED], ids=["minimal", "passing", "receiver", "tuned"]
)
def test_what_mlopsctl_writes_passes(tmp_path: pathlib.Path, text: str) -> None:
    assert mlp016(tmp_path, text, {}) == []


WIDE_DOOR = (
    AUTHZ + "spec:\n" + SCOPED + "  rules: [{to: [{operation: {methods: [POST, GET], ports: ['8080']}}]}]\n"
)
ANY_PRINCIPAL = (
    AUTHZ + "spec:\n" + SCOPED + "  action: ALLOW\n  rules: [{from: [{source: {principals: ['*']}}]}]\n"
)
ONLY_NOT = (
    AUTHZ + "spec:\n" + SCOPED + "  action: ALLOW\n  rules: [{from: [{source: {notNamespaces: [x]}}]}]\n"
)
DENY_ALL = AUTHZ + "spec:\n  action: DENY\n  rules: [{}]\n"
NOTHING_ALLOWED = AUTHZ + "spec:\n  action: ALLOW\n"
MESH_WIDE = (
    AUTHZ
    + "spec:\n"
    + SCOPED
    + "  action: ALLOW\n  rules: [{from: [{source: {principals: [cluster.local/*]}}]}]\n"
)
DENY_NOTHING = AUTHZ + "spec:\n  action: DENY\n  rules: []\n"
NAMESPACE_WIDE = AUTHZ + "spec:\n  rules: [{from: [{source: {principals: [cluster.local/ns/a/sa/b]}}]}]\n"


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        (WIDE_DOOR, "admits any caller (spec.rules[0] has no from)"),
        (ANY_PRINCIPAL, "admits any caller (spec.rules[0].from[0].source names no caller)"),
        (ONLY_NOT, "admits any caller (spec.rules[0].from[0].source names no caller)"),
        (DENY_ALL, None),
        (NOTHING_ALLOWED, None),
        (MESH_WIDE, "admits any caller (spec.rules[0].from[0].source names no caller)"),
        (
            DENY_NOTHING,
            "denies nothing (a DENY policy without rules): other ALLOW policies admit every caller",
        ),
        (
            NAMESPACE_WIDE,
            "admits its callers to every workload of its namespace"
            " (spec.selector.matchLabels is missing or empty)",
        ),
    ],
    ids=[
        "no action, no from",
        "any principal",
        "only exclusions",
        "deny all",
        "allow nothing",
        "every identity of the mesh",
        "deny nothing",
        "no selector",
    ],
)
def test_rules_that_admit_any_caller(tmp_path: pathlib.Path, template: str, problem: str | None) -> None:
    """The retrain receiver's door passes as mlopsctl writes it, and is a finding once widened."""
    text = RECEIVER.replace("  name: demo\n", "  name: demo\n  templates: ovr\n", 1)
    found = in_env(mlp016(tmp_path, text, {"authorizationpolicy": template}), "prod")
    names = ["api-main-predictor", "api-main-predictor-deny-others", "api-request-logger"]
    names += ["api-request-logger-deny-others", "retrain-receiver"]
    expected = [f"AuthorizationPolicy '{n}' {problem}" for n in names] if problem else []
    assert sorted({m for _, m, _ in found}) == expected


LITERAL = RESTRICTED_DEPLOYMENT
CONTAINER = "spec.template.spec.containers[0].securityContext"
POD_CASES = [
    ("restricted", [], None),
    (
        "host IPC",
        [("automountServiceAccountToken", "hostIPC: true\n      automountServiceAccountToken")],
        "shares the node's IPC (spec.template.spec.hostIPC: true)",
    ),
    (
        "an added capability",
        [("drop: [ALL]}", "drop: [ALL], add: [NET_BIND_SERVICE, SYS_ADMIN]}")],
        f"gives container 'app' the capabilities SYS_ADMIN ({CONTAINER}.capabilities.add)",
    ),
    (
        "an unconfined container",
        [("drop: [ALL]}", "drop: [ALL]}, seccompProfile: {type: Unconfined}")],
        f"runs container 'app' without a seccomp profile ({CONTAINER}.seccompProfile.type: Unconfined)",
    ),
    (
        "an unconfined pod",
        [
            ("{type: RuntimeDefault}", "{type: Unconfined}"),
            ("drop: [ALL]}", "drop: [ALL]}, seccompProfile: {type: Localhost}"),
        ],
        "runs without a seccomp profile (spec.template.spec.securityContext.seccompProfile.type: Unconfined)",
    ),
    (
        "a root container in a non-root pod",
        [("drop: [ALL]}", "drop: [ALL]}, runAsNonRoot: false")],
        f"lets container 'app' run as root ({CONTAINER}.runAsNonRoot: false)",
    ),
    (
        "a hostPath volume",
        [("      containers:", "      volumes: [{name: root, hostPath: {path: /}}]\n      containers:")],
        "mounts a hostPath volume (spec.template.spec.volumes[0].hostPath)",
    ),
    (
        "a host port",
        [("image: app:1", "image: app:1\n          ports: [{containerPort: 80, hostPort: 80}]")],
        "binds a port of the node for container 'app' (spec.template.spec.containers[0].ports[0].hostPort)",
    ),
    (
        "a privileged init container",
        [
            (
                "      containers:",
                "      initContainers:\n        - name: setup\n          image: app:1\n"
                "          securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, "
                "privileged: true}\n      containers:",
            )
        ],
        "runs container 'setup' privileged "
        "(spec.template.spec.initContainers[0].securityContext.privileged: true)",
    ),
]


@pytest.mark.parametrize(("edits", "problem"), [c[1:] for c in POD_CASES], ids=[c[0] for c in POD_CASES])
def test_each_field_of_the_restricted_standard(
    tmp_path: pathlib.Path, edits: list[tuple[str, str]], problem: str | None
) -> None:
    template = LITERAL
    for old, new in edits:
        assert old in template
        template = template.replace(old, new)
    found = in_env(mlp016(tmp_path, TEMPLATED, {"deployment": template}), "prod")
    assert [m for _, m, _ in found] == ([f"Deployment 'score-request-logger' {problem}"] if problem else [])


def test_pods_of_inference_services_and_of_launched_objects(tmp_path: pathlib.Path) -> None:
    """A transformer added to each InferenceService, and a Katib trial pod rewritten in the Experiment
    that a tune step creates, placed at the step."""
    isvc = (
        "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\n"
        + HEAD
        + "spec:\n  predictor: {{ predictor | tojson }}\n  transformer:\n"
        + "    automountServiceAccountToken: false\n    containers: [{name: t, image: t:1, "
        + "securityContext: {privileged: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, "
        + "runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}}]\n"
    )
    found = in_env(mlp016(tmp_path, TEMPLATED, {"inferenceservice": isvc}), "prod")
    assert [m for _, m, _ in found] == [
        "InferenceService 'score-main' runs container 't' privileged "
        "(spec.transformer.containers[0].securityContext.privileged: true)"
    ]
    experiment = (
        "apiVersion: kubeflow.org/v1beta1\nkind: Experiment\n"
        + HEAD
        + "spec:\n  trialTemplate:\n    trialSpec:\n      apiVersion: batch/v1\n      kind: Job\n"
        + "      spec:\n        template:\n          spec:\n            hostPID: true\n"
        + "            automountServiceAccountToken: false\n"
        + "            securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}\n"
        + "            containers: [{name: trial, image: t:1, securityContext: "
        + "{allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}}]\n"
    )
    tuned = TUNED.replace("  name: demo\n", "  name: demo\n  templates: ovr\n", 1)
    found = in_env(mlp016(tmp_path, tuned, {"experiment": experiment}), "prod")
    assert len(found) == 2  # one PipelineVersion in each region of prod
    for severity, message, at in found:
        assert (severity, at) == ("error", where(tuned, "search:"))
        assert message.startswith("PipelineVersion 'p-") and message.endswith(
            " (the Experiment its step 'search' creates) shares the node's processes "
            "(spec.trialTemplate.trialSpec.spec.template.spec.hostPID: true)"
        )


def test_training_replicas_are_read(tmp_path: pathlib.Path) -> None:
    pytorchjob = (
        "apiVersion: kubeflow.org/v1\nkind: PyTorchJob\n"
        + HEAD
        + """\
spec:
  pytorchReplicaSpecs:
    Master:
      replicas: 1
      template:
        spec:
          hostNetwork: true
          automountServiceAccountToken: false
          securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
          containers:
            - name: pytorch
              image: trainer:1
              securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
"""
    )
    tuned = TUNED.replace("  name: demo\n", "  name: demo\n  templates: ovr\n", 1)
    found = in_env(mlp016(tmp_path, tuned, {"pytorchjob": pytorchjob}), "prod")
    assert {(at, m.split(") ", 1)[1]) for _, m, at in found} == {
        (
            where(tuned, "fit:\n"),
            "shares the node's network (spec.pytorchReplicaSpecs.Master.template.spec.hostNetwork: true)",
        )
    }
