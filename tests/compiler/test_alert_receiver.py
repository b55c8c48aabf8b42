"""The retrain receiver of SLO alerts on GKE: emitted only when an SLO monitor retrains, strictly valid,
running a stage command that exists with a config it accepts, with minimal rights, and routed to from
the Alertmanager of either metrics mode."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from typing import Any

import pytest
from conftest import ROOT
from helpers import MINIMAL, compile_text, owned
from upstream_schemas import UpstreamSchemas
from vertex_retrain_cases import ON_VERTEX, PIPELINE_ACCOUNT, RETRAINING

from mlopsctl.compiler.alert_receiver import NAME, PATH, PORT
from mlopsctl.compiler.schedules import POLL_RULES, RUN_STEP_RULES
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource
from mlopsctl_stage.stages.retrain_receiver import Receiver

DEV = Target("dev", "us-central1")
KSA = "retrain-receiver-dev-usc1"
URL = f"http://{NAME}.demo.svc.cluster.local{PATH}"
ALERTMANAGER_CONFIG = ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig")
SERVING = """\
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
    parameters: {epochs: 10}
    steps: {fit: {image: fit:1, command: [fit]}}
  refresh:
    steps: {fit: {image: fit:1, command: [fit]}}
    triggers: [{monitor: watch}]
monitors:
  watch: {type: availability, endpoint: api, objective: 99.5, window: 1h, actions: {retrain: retrain}}
"""
BASE = owned(MINIMAL).replace("  name: demo\n", "  name: demo\n  stageImage: stages:1\n") + SERVING
IN_CLUSTER = "platform: {metrics: in-cluster}\n"
NO_RETRAIN = BASE.replace(", actions: {retrain: retrain}", "").replace(
    "    triggers: [{monitor: watch}]\n", ""
)
ON_GKE_RETRAINING_VERTEX = RETRAINING.replace(
    ON_VERTEX, "placement: {endpoints: gke, monitors: gke, pipelines: vertex}\n"
)


def _graph(tmp_path: pathlib.Path, text: str) -> Graph:
    return compile_text(tmp_path, text)[DEV]


def _kinds(graph: Graph, name: str) -> dict[str, Resource]:
    return {r.inputs["kind"]: r for r in graph if r.is_kubernetes and r.inputs["metadata"]["name"] == name}


def _container(graph: Graph) -> dict[str, Any]:
    [container] = _kinds(graph, NAME)["Deployment"].inputs["spec"]["template"]["spec"]["containers"]
    return dict(container)


def _config(graph: Graph) -> dict[str, Any]:
    flag, config, *_ = _container(graph)["args"]
    assert flag == "--config"
    loaded: dict[str, Any] = json.loads(config)
    return loaded


def _validate(schemas: UpstreamSchemas, resource: Resource) -> None:
    key = (resource.inputs["apiVersion"], resource.inputs["kind"])
    if key != ALERTMANAGER_CONFIG or schemas.supports(*key):
        assert schemas.validate(dict(resource.inputs)) == [], resource.address


@pytest.mark.parametrize("text", [NO_RETRAIN, IN_CLUSTER + NO_RETRAIN], ids=["managed", "in-cluster"])
def test_nothing_when_no_slo_monitor_retrains(tmp_path: pathlib.Path, text: str) -> None:
    graph = _graph(tmp_path, text)
    assert _kinds(graph, NAME) == {}
    assert not [r for r in graph if r.is_kubernetes and r.inputs["kind"] in ("AlertmanagerConfig", "Secret")]


def test_in_cluster_on_kfp(tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas) -> None:
    graph = _graph(tmp_path, IN_CLUSTER + BASE)
    objects = _kinds(graph, NAME)
    assert set(objects) == {
        "Deployment",
        "Service",
        "PeerAuthentication",
        "AuthorizationPolicy",
        "AlertmanagerConfig",
        "NetworkPolicy",
    }
    for resource in objects.values():
        _validate(upstream_schemas, resource)
    route = objects["AlertmanagerConfig"].inputs
    # kube-prometheus-stack's Alertmanager selects it, in any namespace, and scopes it to its own.
    addons = json.loads((ROOT / "mlopsctl/data/addons.json").read_text())["addons"]
    spec = addons["kube-prometheus-stack"]["values"]["alertmanager"]["alertmanagerSpec"]
    assert spec["alertmanagerConfigSelector"]["matchLabels"].items() <= route["metadata"]["labels"].items()
    assert spec["alertmanagerConfigNamespaceSelector"] == {}
    assert spec["alertmanagerConfigMatcherStrategy"] == {"type": "OnNamespace"}
    assert route["spec"]["route"]["matchers"] == [
        {"name": "retrain_pipeline", "matchType": "=~", "value": ".+"}
    ]
    assert route["spec"]["route"]["groupBy"] == ["namespace", "retrain_pipeline"]
    assert route["spec"]["receivers"][0]["webhookConfigs"] == [{"url": URL, "sendResolved": False}]
    service = objects["Service"].inputs["spec"]
    assert service["ports"] == [{"name": "http", "port": 80, "targetPort": "http"}]
    assert objects["Deployment"].inputs["spec"]["selector"]["matchLabels"] == service["selector"]


@pytest.mark.skipif(
    "not __import__('upstream_schemas').load_upstream_schemas().supports(*ALERTMANAGER_CONFIG)",
    reason="schemas-upstream has no AlertmanagerConfig CRD (prometheus-operator v0.93.0) yet",
)
def test_the_alertmanager_config_is_strictly_valid(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas
) -> None:
    route = _kinds(_graph(tmp_path, IN_CLUSTER + BASE), NAME)["AlertmanagerConfig"]
    assert upstream_schemas.validate(dict(route.inputs)) == []


def test_the_command_exists_and_accepts_its_config(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path, BASE)
    container = _container(graph)
    assert container["command"] == ["mlopsctl-stage", "retrain-receiver"]
    assert container["args"][2:] == ["--port", str(PORT)]
    help_ = subprocess.run(
        [sys.executable, "-m", "mlopsctl_stage", *container["command"][1:], "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--port" in help_.stdout
    config = _config(graph)
    receiver = Receiver.from_config(config)  # what the stage checks at startup
    assert set(receiver.retrain) == {("watch", "refresh"), ("watch", "retrain")}
    assert config["retrain"]["watch"]["retrain"] == {
        "endpoint": "ml-pipeline.kubeflow.svc.cluster.local:8888",
        "namespace": "demo",
        "experiment": "retrain",
        "pipeline": "retrain",
        "pipelineVersion": _rule_labels(graph)["retrain"],
        "parameters": {"epochs": 10},
        "serviceAccount": "pipeline-retrain-dev-usc1",
    }
    probe = container["readinessProbe"]["httpGet"]
    assert (probe["path"], container["livenessProbe"]["httpGet"]["path"]) == ("/healthz", "/healthz")


def _rule_labels(graph: Graph) -> dict[str, str]:
    [rules] = [r for r in graph if r.is_kubernetes and r.inputs["kind"] == "Rules"]
    found = [r["labels"] for r in rules.inputs["spec"]["groups"][0]["rules"]]
    return {labels["retrain_pipeline"]: labels["retrain_pipeline_version"] for labels in found}


def test_on_kfp_the_receiver_may_only_start_and_list_runs(tmp_path: pathlib.Path) -> None:
    graph = _graph(tmp_path, BASE)
    pod = _kinds(graph, NAME)["Deployment"].inputs["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == KSA
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["nodeSelector"] == {"cloud.google.com/gke-nodepool": "system"}
    assert pod["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]["audience"] == (
        "pipelines.kubeflow.org"
    )
    account = _kinds(graph, KSA)["ServiceAccount"].inputs
    # No Google account: the KFP API authenticates the projected token.
    assert "iam.gke.io/gcp-service-account" not in account["metadata"].get("annotations", {})
    bindings = [
        r.inputs
        for r in graph
        if r.is_kubernetes and r.inputs["kind"] == "RoleBinding" and r.inputs["subjects"][0]["name"] == KSA
    ]
    [binding] = bindings
    role = _kinds(graph, binding["roleRef"]["name"])["Role"].inputs
    assert role["rules"] == POLL_RULES
    # The runs it starts execute as each pipeline's account, which may report its steps.
    for ksa in ("pipeline-retrain-dev-usc1", "pipeline-refresh-dev-usc1"):
        assert _kinds(graph, f"{ksa}-run-steps")["Role"].inputs["rules"] == RUN_STEP_RULES
    assert not [r for r in graph if KSA in json.dumps(r.inputs) and r.type.startswith("gcp:")]


def test_only_posts_to_the_webhook_are_admitted_in_plain_text(tmp_path: pathlib.Path) -> None:
    objects = _kinds(_graph(tmp_path, BASE), NAME)
    selector = objects["Service"].inputs["spec"]["selector"]
    peer = objects["PeerAuthentication"].inputs["spec"]
    assert peer == {
        "selector": {"matchLabels": selector},
        "mtls": {"mode": "STRICT"},
        "portLevelMtls": {str(PORT): {"mode": "PERMISSIVE"}},
    }
    policy = objects["AuthorizationPolicy"].inputs["spec"]
    assert (policy["action"], policy["selector"]["matchLabels"]) == ("ALLOW", selector)
    assert policy["rules"] == [
        {"to": [{"operation": {"methods": ["POST"], "paths": [PATH], "ports": ["8080"]}}]}
    ]


def test_managed_metrics_configure_gmps_alertmanager(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas
) -> None:
    graph = _graph(tmp_path, BASE)
    assert "AlertmanagerConfig" not in _kinds(graph, NAME)
    secret = _kinds(graph, "alertmanager")["Secret"]
    _validate(upstream_schemas, secret)
    assert secret.inputs["metadata"]["namespace"] == "gmp-public"
    config = json.loads(secret.inputs["stringData"]["alertmanager.yaml"])
    assert config["route"]["receiver"] == "null"
    [route] = config["route"]["routes"]
    assert route["matchers"] == ['namespace="demo"', 'retrain_pipeline=~".+"']
    assert route["group_by"] == ["namespace", "retrain_pipeline"]
    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers[route["receiver"]]["webhook_configs"] == [{"url": URL, "send_resolved": False}]
    assert set(receivers) == {"null", route["receiver"]}


def test_pipelines_on_vertex_ai_are_started_as_a_google_account(
    tmp_path: pathlib.Path, upstream_schemas: UpstreamSchemas
) -> None:
    graph = _graph(tmp_path, ON_GKE_RETRAINING_VERTEX)
    objects = _kinds(graph, NAME)
    for resource in objects.values():
        _validate(upstream_schemas, resource)
    [entry] = _config(graph)["retrain"]["slow"].values()
    assert (entry["backend"], entry["serviceAccount"]) == ("vertex", PIPELINE_ACCOUNT)
    Receiver.from_config(_config(graph))
    account = _kinds(graph, KSA)["ServiceAccount"].inputs["metadata"]["annotations"]
    email = account["iam.gke.io/gcp-service-account"]
    grants = {
        (r.inputs["role"], r.inputs.get("serviceAccountId", r.inputs.get("bucket", r.inputs.get("project"))))
        for r in graph
        if r.type.startswith("gcp:") and r.inputs.get("member") == f"serviceAccount:{email}"
    }
    assert grants == {
        ("roles/aiplatform.user", "acme-demo-dev"),
        ("roles/iam.serviceAccountUser", f"projects/acme-demo-dev/serviceAccounts/{PIPELINE_ACCOUNT}"),
        ("roles/storage.objectViewer", next(b for role, b in grants if role == "roles/storage.objectViewer")),
    }
    pod = objects["Deployment"].inputs["spec"]["template"]["spec"]
    assert "volumes" not in pod  # no KFP token
    assert not [r for r in graph if r.is_kubernetes and r.inputs["kind"] == "Role" and NAME in r.name]
    rules = [r for r in graph if r.is_kubernetes and r.inputs["kind"] == "Rules"]
    labels = [rule["labels"] for r in rules for rule in r.inputs["spec"]["groups"][0]["rules"]]
    assert {(x.get("monitor"), x.get("retrain_pipeline")) for x in labels} >= {("slow", "train")}
