from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from conftest import ROOT
from helpers import MINIMAL, owned, write
from upstream_schemas import UpstreamSchemas

from mlopsctl import __version__
from mlopsctl.api import compile_graphs, validate
from mlopsctl.compiler.monitoring import prometheus_duration
from mlopsctl.compiler.schedules import RUN_RULES
from mlopsctl.compiler.slo import promql
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource

SENSORS = ROOT / "examples/projects/sensor-anomaly/mlops.yaml"
DIGITS = ROOT / "examples/projects/digits/mlops.yaml"
PROD_SENSORS = Target("prod", "europe-west1")
DEV = Target("dev", "us-central1")
CRONJOB = "kubernetes:batch/v1:CronJob"
RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
GMP_RULES = "kubernetes:monitoring.googleapis.com/v1:Rules"
IN_CLUSTER = "platform: {metrics: in-cluster}\n"
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _compile(path: pathlib.Path) -> tuple[Any, dict[Target, Graph]]:
    validation = validate(ConfigSource(path, str(path), None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return validation, compile_graphs(validation)


def _resource(graph: Graph, type_: str, name: str) -> Resource:
    return graph.resources[f"{graph.target}/{type_}/{name}"]


def _job_config(cronjob: Resource) -> dict[str, Any]:
    [container] = cronjob.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    program, kind = container["command"]
    flag, config = container["args"]
    assert (program, flag) == ("mlopsctl-stage", "--config")
    loaded: dict[str, Any] = json.loads(config)
    assert loaded["type"] == kind
    return loaded


def _version_name(graph: Graph, pipeline: str) -> str:
    [name] = [
        r.name
        for r in graph
        if r.type.endswith(":PipelineVersion")
        and r.inputs["metadata"]["labels"]["pipelines.kubeflow.org/pipeline"] == pipeline
    ]
    return name


def test_sensor_drift_monitor_is_a_scheduled_job(upstream_schemas: UpstreamSchemas) -> None:
    graph = _compile(SENSORS)[1][PROD_SENSORS]
    cronjob = _resource(graph, CRONJOB, "readings-drift")
    assert upstream_schemas.validate(dict(cronjob.inputs)) == []
    spec = cronjob.inputs["spec"]
    assert (spec["schedule"], spec["timeZone"], spec["concurrencyPolicy"]) == (
        "0 * * * *",
        "Europe/Brussels",
        "Forbid",
    )
    pod = spec["jobTemplate"]["spec"]["template"]
    # It starts retraining runs: in the mesh (to reach the KFP API), with a token for it.
    assert pod["metadata"]["annotations"] == {"sidecar.istio.io/nativeSidecar": "true"}
    assert "sidecar.istio.io/inject" not in pod["metadata"]["labels"]
    [container] = pod["spec"]["containers"]
    assert container["env"] == [
        {"name": "KF_PIPELINES_SA_TOKEN_PATH", "value": "/var/run/secrets/kubeflow/pipelines/token"}
    ]
    assert pod["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]["audience"] == (
        "pipelines.kubeflow.org"
    )
    assert pod["spec"]["serviceAccountName"] == "monitor-readings-drift-prod-euw1"
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["securityContext"] == {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    [container] = pod["spec"]["containers"]
    assert container["image"] == "europe-docker.pkg.dev/acme-plant/sensors/stages:2.3.0"
    assert container["securityContext"] == RESTRICTED_CONTAINER
    version = _version_name(graph, "anomaly")
    assert _job_config(cronjob) == {
        "monitor": "readings-drift",
        "type": "drift",
        "endpoint": "detector",
        "serving": {
            "table": "acme-sensors-prod.serving_prod_europe_west1.detector_requests",
            "samplingRate": 0.25,
        },
        "baseline": {"table": "acme-sensors-prod.features_prod_europe_west1.serving_baseline"},
        "window": "24h",
        "windowSeconds": 86400,
        "features": {
            "pressure_kpa": {"kind": "numeric", "metric": "jensen_shannon_divergence", "threshold": 0.1},
            "sensor_model": {"kind": "categorical", "metric": "l_infinity_distance", "threshold": 0.2},
            "temperature_c": {"kind": "numeric", "metric": "jensen_shannon_divergence", "threshold": 0.15},
            "vibration_rms": {"kind": "numeric", "metric": "jensen_shannon_divergence", "threshold": 0.08},
        },
        "output": {
            "statistics": "acme-sensors-prod.features_prod_europe_west1.readings_drift_statistics",
            "alerts": "acme-sensors-prod.features_prod_europe_west1.readings_drift_alerts",
        },
        "notify": ["plant-alerts"],
        "retrain": [
            {
                "endpoint": "ml-pipeline.kubeflow.svc.cluster.local:8888",
                "namespace": "sensors",
                "experiment": "anomaly",
                "pipeline": "anomaly",
                "pipelineVersion": version,
                "parameters": {},
                "serviceAccount": "pipeline-anomaly-prod-euw1",
            }
        ],
    }
    assert set(cronjob.depends_on) == {
        "prod/europe-west1/kubernetes:core/v1:Namespace/sensors",
        "prod/europe-west1/kubernetes:core/v1:ServiceAccount/monitor-readings-drift-prod-euw1",
        f"prod/europe-west1/kubernetes:pipelines.kubeflow.org/v2beta1:PipelineVersion/{version}",
        "prod/europe-west1/kubernetes:rbac.authorization.k8s.io/v1:RoleBinding/monitor-readings-drift-runs",
    }


def test_sensor_skew_monitor_uses_default_thresholds_and_the_training_table() -> None:
    graph = _compile(SENSORS)[1][PROD_SENSORS]
    config = _job_config(_resource(graph, CRONJOB, "readings-skew"))
    assert config["baseline"] == {"table": "acme-sensors-prod.telemetry_prod_europe_west1.readings"}
    assert {name: f["threshold"] for name, f in config["features"].items()} == {
        "pressure_kpa": 0.1,
        "sensor_model": 0.1,
        "site_id": 0.1,
        "temperature_c": 0.1,
        "vibration_rms": 0.05,
    }
    assert config["output"]["alerts"] == "acme-sensors-prod.telemetry_prod_europe_west1.readings_skew_alerts"
    assert (config["window"], config["windowSeconds"]) == ("7d", 604800)


def test_a_retraining_monitor_may_start_runs() -> None:
    graph = _compile(SENSORS)[1][PROD_SENSORS]
    role = _resource(graph, "kubernetes:rbac.authorization.k8s.io/v1:Role", "monitor-readings-skew-runs")
    assert role.inputs["rules"] == RUN_RULES  # the same as the schedules' run starters
    binding = _resource(
        graph, "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "monitor-readings-skew-runs"
    )
    assert binding.inputs["subjects"][0]["name"] == "monitor-readings-skew-prod-euw1"


@pytest.mark.parametrize(
    ("name", "expected_for", "description"),
    [
        ("digits-latency", "5m", "p95 latency above 50 ms for 5m (monitor 'digits-latency')."),
        ("digits-errors", "10m", "more than 1% of requests failed for 10m (monitor 'digits-errors')."),
    ],
)
def test_digits_slos_are_managed_rules(
    upstream_schemas: UpstreamSchemas, name: str, expected_for: str, description: str
) -> None:
    validation, graphs = _compile(DIGITS)
    target = Target("prod", "us-central1")
    rule_object = _resource(graphs[target], GMP_RULES, name)
    assert upstream_schemas.validate(dict(rule_object.inputs)) == []
    assert f"{target}/{RULE}/{name}" not in graphs[target].resources
    assert rule_object.inputs["metadata"]["namespace"] == "digits"
    assert rule_object.depends_on == ("prod/us-central1/kubernetes:core/v1:Namespace/digits",)
    config = validation.targets[target].config
    [group] = rule_object.inputs["spec"]["groups"]
    assert group["name"] == name
    # GMP's rule evaluator refuses a namespaced rule that sets a label it scopes by: it adds
    # namespace (and cluster, location, project_id) to every alert itself.
    assert group["rules"] == [
        {
            "alert": "".join(p.capitalize() for p in name.split("-")),
            "expr": promql(config, config.monitors[name]),
            "for": expected_for,
            "labels": {
                "severity": "warning",
                "endpoint": "digits",
                "monitor": name,
                "slo": config.monitors[name].type,
            },
            "annotations": {
                "summary": f"{config.monitors[name].type} objective of endpoint 'digits' is not met",
                "description": description,
            },
        }
    ]


SERVING = """\
data:
  datasets:
    logs: {}
    features: {tables: {base: {}}}
models:
  m: {framework: sklearn, versions: {v1: {artifactUri: gs://acme-models/m/1}}}
endpoints:
  api:
    variants: {main: {model: m, version: v1}}
    logging: {dataset: logs}
pipelines:
  retrain:
    parameters: {epochs: 10, full: false}
    steps: {fit: {image: fit:1, command: [fit], inputs: {epochs: params.epochs}}}
  refresh:
    parameters: {epochs: 3}
    steps: {fit: {image: fit:1, command: [fit]}}
    triggers:
      - monitor: watch
alertChannels:
  pager: {type: pagerduty, secret: pd-key}
"""
SLO = """\
monitors:
  watch:
    type: availability
    endpoint: api
    objective: 99.5
    window: 1h30m
    actions: {notify: [pager], retrain: retrain}
"""
DRIFT = """\
monitors:
  watch:
    type: drift
    endpoint: api
    baseline: {dataset: features, table: base}
    features: {x: {kind: numeric}}
    schedule: {cron: "0 3 * * *", concurrencyPolicy: Replace}
    actions: {retrain: retrain}
"""


BASE = owned(MINIMAL).replace("  name: demo\n", "  name: demo\n  stageImage: stages:1\n") + SERVING


def _inline(tmp_path: pathlib.Path, monitors: str) -> Graph:
    return _compile(write(tmp_path, BASE + monitors))[1][DEV]


@pytest.mark.parametrize(
    ("platform", "kind", "scope_labels", "selector_labels"),
    [
        ("", GMP_RULES, {}, {}),
        (IN_CLUSTER, RULE, {"namespace": "demo"}, {"release": "kube-prometheus-stack"}),
    ],
    ids=["managed", "in-cluster"],
)
def test_an_slo_that_retrains_names_each_run_to_start(
    tmp_path: pathlib.Path,
    upstream_schemas: UpstreamSchemas,
    platform: str,
    kind: str,
    scope_labels: dict[str, str],
    selector_labels: dict[str, str],
) -> None:
    graph = _inline(tmp_path, platform + SLO)
    rule_object = _resource(graph, kind, "watch")
    assert upstream_schemas.validate(dict(rule_object.inputs)) == []
    # kube-prometheus-stack's Prometheus loads only the PrometheusRules labelled for its release.
    assert rule_object.inputs["metadata"]["labels"].get("release") == selector_labels.get("release")
    rules = rule_object.inputs["spec"]["groups"][0]["rules"]
    retrain = [(r["labels"]["retrain_pipeline"], r["labels"]["retrain_pipeline_version"]) for r in rules]
    assert retrain == [
        ("refresh", _version_name(graph, "refresh")),
        ("retrain", _version_name(graph, "retrain")),
    ]
    assert [{k: r["labels"].get(k) for k in ("namespace", "cluster")} for r in rules] == [
        {"namespace": scope_labels.get("namespace"), "cluster": None}
    ] * 2
    assert {r["labels"]["severity"] for r in rules} == {"critical"}
    assert {r["for"] for r in rules} == {"1h30m"}
    assert {r["expr"] for r in rules} == {rules[0]["expr"]}
    versions = {
        f"dev/us-central1/kubernetes:pipelines.kubeflow.org/v2beta1:PipelineVersion/{v}" for _, v in retrain
    }
    assert versions <= set(rule_object.depends_on)


def test_a_drift_job_retrains_the_pipelines_it_triggers(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas
) -> None:
    graph = _inline(tmp_path, DRIFT)
    cronjob = _resource(graph, CRONJOB, "watch")
    assert upstream_schemas.validate(dict(cronjob.inputs)) == []
    assert (cronjob.inputs["spec"]["timeZone"], cronjob.inputs["spec"]["concurrencyPolicy"]) == (
        "Etc/UTC",
        "Replace",
    )
    config = _job_config(cronjob)
    assert [r["pipeline"] for r in config["retrain"]] == ["refresh", "retrain"]
    assert [r["parameters"] for r in config["retrain"]] == [{"epochs": 3}, {"epochs": 10, "full": False}]
    assert config["notify"] == []
    assert config["serving"] == {
        "table": "acme-demo-dev.logs_dev_us_central1.api_requests",
        "samplingRate": 1.0,
    }
    assert config["features"] == {
        "x": {"kind": "numeric", "metric": "jensen_shannon_divergence", "threshold": 0.1}
    }


def test_retrain_parameters_overlay_each_pipelines_own(tmp_path: pathlib.Path) -> None:
    drift = DRIFT.replace(
        "actions: {retrain: retrain}",
        "actions: {retrain: retrain, notify: [pager], retrainParameters: {epochs: 30}}",
    )
    config = _job_config(_resource(_inline(tmp_path, drift), CRONJOB, "watch"))
    assert [(r["pipeline"], r["parameters"]) for r in config["retrain"]] == [
        ("refresh", {"epochs": 30}),
        ("retrain", {"epochs": 30, "full": False}),
    ]
    assert config["notify"] == ["pager"]


def test_a_data_monitor_needs_a_request_log(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, (BASE + DRIFT).replace("    logging: {dataset: logs}\n", ""))
    found = validate(ConfigSource(config, str(config), None)).diagnostics
    diagnostics = [d.to_dict() for d in found if d.is_error and d.path[0] == "monitors"]
    assert [(d["code"], d["path"]) for d in diagnostics] == [("E301", "monitors.watch.endpoint")]
    assert "logs no requests" in str(diagnostics[0]["message"])
    assert diagnostics[0]["hint"]


def test_without_a_stage_image_the_monitor_runs_the_release_image(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, (BASE + DRIFT).replace("  stageImage: stages:1\n", ""))
    validation = validate(ConfigSource(config, str(config), None))
    assert validation.ok
    images = {
        container["image"]
        for graph in compile_graphs(validation).values()
        for resource in graph
        if resource.inputs.get("kind") == "CronJob"
        for container in resource.inputs["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    }
    assert images == {f"ghcr.io/mlopsctl/mlopsctl-stage:{__version__}"}


@pytest.mark.parametrize(
    ("seconds", "expected"), [(300, "5m"), (5400, "1h30m"), (604800, "7d"), (90061, "1d1h1m1s"), (0, "0s")]
)
def test_durations_in_prometheus_form(seconds: int, expected: str) -> None:
    assert prometheus_duration(seconds) == expected
