from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import upstream_schemas as module
from upstream_schemas import (
    UpstreamSchemas,
    load_upstream_schemas,
    locate_schemas,
)


def _object(api_version: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "fraud", "namespace": "serving"},
        **fields,
    }


def _changed(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``obj`` with the dotted ``path`` (list indexes as numbers) set to ``value``."""
    result = copy.deepcopy(obj)
    *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
    target: Any = result
    for part in parents:
        target = target[part]
    target[last] = value
    return result


NAMESPACE = {
    "apiVersion": "v1",
    "kind": "Namespace",
    "metadata": {"name": "serving", "labels": {"team": "ml"}},
}
SERVICE_ACCOUNT = _object(
    "v1",
    "ServiceAccount",
    metadata={
        "name": "trainer",
        "namespace": "ml",
        "annotations": {"iam.gke.io/gcp-service-account": "trainer@proj.iam.gserviceaccount.com"},
    },
)
CONTAINER = {
    "name": "main",
    "image": "europe-docker.pkg.dev/proj/repo/trainer:1.0",
    "ports": [{"containerPort": 8080, "name": "http"}],
    "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": 2, "nvidia.com/gpu": 1}},
    "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
}
CRON_JOB = _object(
    "batch/v1",
    "CronJob",
    spec={
        "schedule": "0 3 * * *",
        "timeZone": "Europe/Paris",
        "concurrencyPolicy": "Forbid",
        "jobTemplate": {
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [CONTAINER]}}}
        },
    },
)
DEPLOYMENT = _object(
    "apps/v1",
    "Deployment",
    spec={
        "replicas": 2,
        "selector": {"matchLabels": {"app": "fraud"}},
        "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
        "template": {"metadata": {"labels": {"app": "fraud"}}, "spec": {"containers": [CONTAINER]}},
    },
)
INFERENCE_SERVICE = _object(
    "serving.kserve.io/v1beta1",
    "InferenceService",
    spec={
        "predictor": {
            "minReplicas": 1,
            "model": {
                "modelFormat": {"name": "sklearn"},
                "storageUri": "gs://models/fraud/v3",
                "resources": {"limits": {"cpu": 1, "memory": "2Gi"}},
            },
        }
    },
)
VIRTUAL_SERVICE = _object(
    "networking.istio.io/v1",
    "VirtualService",
    spec={
        "hosts": ["fraud.example.com"],
        "gateways": ["istio-system/ingress"],
        "http": [
            {
                "match": [{"uri": {"prefix": "/v1"}}],
                "retries": {"attempts": 3, "retryRemoteLocalities": None},
                "route": [
                    {"destination": {"host": "fraud-blue", "port": {"number": 80}}, "weight": 90},
                    {"destination": {"host": "fraud-green", "port": {"number": 80}}, "weight": 10},
                ],
            }
        ],
    },
)
PIPELINE_VERSION = _object(
    "pipelines.kubeflow.org/v2beta1",
    "PipelineVersion",
    spec={
        "pipelineName": "train",
        "pipelineSpec": {
            "pipelineInfo": {"name": "train"},
            "root": {"dag": {"tasks": {}}},
            "anything": [1, "x"],
        },
    },
)
PROMETHEUS_RULE = _object(
    "monitoring.coreos.com/v1",
    "PrometheusRule",
    spec={
        "groups": [
            {
                "name": "fraud.rules",
                "rules": [
                    {
                        "alert": "FraudLatencyHigh",
                        "expr": "histogram_quantile(0.99, rate(latency_bucket[5m])) > 0.5",
                        "for": "10m",
                        "labels": {"severity": "page"},
                        "annotations": {"summary": "p99 latency above 500ms"},
                    }
                ],
            }
        ]
    },
)
SCHEDULED_WORKFLOW = _object(
    "kubeflow.org/v1beta1", "ScheduledWorkflow", spec={"trigger": {"cronSchedule": {"cron": "0 0 3 * * *"}}}
)
EXPERIMENT = _object("kubeflow.org/v1beta1", "Experiment", spec={"anything": {"goes": True}})


@pytest.mark.parametrize(
    "obj",
    [
        NAMESPACE,
        SERVICE_ACCOUNT,
        CRON_JOB,
        DEPLOYMENT,
        INFERENCE_SERVICE,
        VIRTUAL_SERVICE,
        PIPELINE_VERSION,
        PROMETHEUS_RULE,
        EXPERIMENT,
        {**SCHEDULED_WORKFLOW, "status": {}},
    ],
    ids=lambda obj: obj["kind"],
)
def test_valid_objects_have_no_errors(upstream_schemas: UpstreamSchemas, obj: dict[str, Any]) -> None:
    assert upstream_schemas.validate(obj) == []


INVALID_CASES: list[tuple[dict[str, Any], str, Any, list[str]]] = [
    (NAMESPACE, "spek", {}, ["$.spek: unknown field 'spek' (did you mean 'spec'?)"]),
    (NAMESPACE, "metadata.labels", ["team"], ["$.metadata.labels: ['team'] is not of type 'object'"]),
    (NAMESPACE, "metadata.name", 3, ["$.metadata.name: 3 is not of type 'string'"]),
    (
        CRON_JOB,
        "spec.jobTemplate.spec.template.spec.containers.0.imagePullPolicy",
        3,
        ["$.spec.jobTemplate.spec.template.spec.containers[0].imagePullPolicy: 3 is not of type 'string'"],
    ),
    (CRON_JOB, "spec.schedule", None, ["$.spec.schedule: None is not of type 'string'"]),
    (
        DEPLOYMENT,
        "spec.strategy.rollingUpdate.maxSurge",
        0.5,
        ["$.spec.strategy.rollingUpdate.maxSurge: 0.5 is not of type 'integer', 'string'"],
    ),
    (
        DEPLOYMENT,
        "spec.template.spec.containers.0.resources.limits.cpu",
        True,
        ["$.spec.template.spec.containers[0].resources.limits.cpu: True is not of type 'string', 'number'"],
    ),
    (
        INFERENCE_SERVICE,
        "spec.predictor.minReplica",
        1,
        ["$.spec.predictor.minReplica: unknown field 'minReplica' (did you mean 'minReplicas'?)"],
    ),
    (
        INFERENCE_SERVICE,
        "spec.predictor.model.resources.limits.cpu",
        [1],
        ["$.spec.predictor.model.resources.limits.cpu: [1] is not of type 'integer', 'string'"],
    ),
    (
        INFERENCE_SERVICE,
        "metadata.label",
        {},
        ["$.metadata.label: unknown field 'label' (did you mean 'labels'?)"],
    ),
    (
        VIRTUAL_SERVICE,
        "spec.http.0.route.0.weigth",
        90,
        ["$.spec.http[0].route[0].weigth: unknown field 'weigth' (did you mean 'weight'?)"],
    ),
    (
        VIRTUAL_SERVICE,
        "spec.http.0.match.0.uri",
        {"prefix": "/v1", "exact": "/v1"},
        [
            "$.spec.http[0].match[0].uri: {'prefix': '/v1', 'exact': '/v1'} is valid under each of "
            "{'required': ['prefix']}, {'required': ['exact']}"
        ],
    ),
    (
        VIRTUAL_SERVICE,
        "spec.http.0.retries.attempts",
        None,
        ["$.spec.http[0].retries.attempts: None is not of type 'integer'"],
    ),
    (
        VIRTUAL_SERVICE,
        "spec.hosts",
        "fraud.example.com",
        ["$.spec.hosts: 'fraud.example.com' is not of type 'array'"],
    ),
    (PIPELINE_VERSION, "spec", {"pipelineName": "train"}, ["$.spec: 'pipelineSpec' is a required property"]),
    (
        PROMETHEUS_RULE,
        "spec.groups.0.rules.0.for",
        "10 minutes",
        [
            r"$.spec.groups[0].rules[0].for: '10 minutes' does not match '^(0|(([0-9]+)y)?(([0-9]+)w)?"
            r"(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$'"
        ],
    ),
    (
        PROMETHEUS_RULE,
        "spec.groups.0.rules.0.exp",
        "up == 0",
        ["$.spec.groups[0].rules[0].exp: unknown field 'exp' (did you mean 'expr'?)"],
    ),
    (SCHEDULED_WORKFLOW, "metadata.name", "swf", ["$: 'status' is a required property"]),
    (EXPERIMENT, "metadata.uid", 7, ["$.metadata.uid: 7 is not of type 'string'"]),
]


@pytest.mark.parametrize(
    ("obj", "path", "value", "expected"),
    INVALID_CASES,
    ids=[f"{obj['kind']}:{path}" for obj, path, _, _ in INVALID_CASES],
)
def test_invalid_objects_report_each_error_with_its_path(
    upstream_schemas: UpstreamSchemas, obj: dict[str, Any], path: str, value: Any, expected: list[str]
) -> None:
    assert upstream_schemas.validate(_changed(obj, path, value)) == expected


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [
        ("v1", "Pipeline"),
        ("example.com/v1", "Widget"),
        ("networking.istio.io/v2", "VirtualService"),
        ("serving.kserve.io/v1alpha1", "InferenceService"),
    ],
)
def test_kinds_without_an_upstream_schema_are_reported(
    upstream_schemas: UpstreamSchemas, api_version: str, kind: str
) -> None:
    assert not upstream_schemas.supports(api_version, kind)
    assert upstream_schemas.validate({"apiVersion": api_version, "kind": kind}) == [
        f"$: no upstream schema for apiVersion {api_version!r}, kind {kind!r}"
    ]


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [
        ("v1", "ConfigMap"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("networking.istio.io/v1beta1", "DestinationRule"),
        ("flagger.app/v1beta1", "Canary"),
        ("argoproj.io/v1alpha1", "Application"),
    ],
)
def test_supported_kinds(upstream_schemas: UpstreamSchemas, api_version: str, kind: str) -> None:
    assert upstream_schemas.supports(api_version, kind)


def test_a_missing_kind_is_reported(upstream_schemas: UpstreamSchemas) -> None:
    assert upstream_schemas.validate({"apiVersion": "v1"}) == [
        "$: no upstream schema for apiVersion 'v1', kind None"
    ]


def test_schemas_are_loaded_once_per_folder() -> None:
    assert load_upstream_schemas() is load_upstream_schemas()


def test_the_environment_variable_names_the_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    folder = load_upstream_schemas().folder
    monkeypatch.setattr(module, "DEFAULT_FOLDER", Path("/nonexistent"))
    monkeypatch.setenv(module.ENV_VAR, str(folder))
    assert locate_schemas() == folder


@pytest.mark.parametrize(
    ("ci", "outcome"),
    [("true", pytest.fail.Exception), ("TRUE", pytest.fail.Exception), ("", pytest.skip.Exception)],
)
def test_a_missing_folder_skips_except_under_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setenv(module.ENV_VAR, str(tmp_path))
    monkeypatch.setenv("CI", ci)
    assert locate_schemas() is None
    with pytest.raises(outcome, match="upstream schemas not found"):
        load_upstream_schemas()


def test_the_default_folder_is_used_without_the_environment_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(module.ENV_VAR, raising=False)
    monkeypatch.setattr(module, "DEFAULT_FOLDER", tmp_path)
    assert locate_schemas() is None
    (tmp_path / module.SWAGGER_FILE).parent.mkdir(parents=True)
    (tmp_path / module.SWAGGER_FILE).write_text("{}")
    assert locate_schemas() == tmp_path
