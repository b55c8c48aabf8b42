"""Endpoints placed on Vertex AI compile to model versions, an AiEndpoint and a Deployment, and
nothing of KServe, Istio or Flagger; the mixed and the all-Vertex cases."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
from helpers import CLF_API, GPU_API, MINIMAL, STAGED, compile_text, owned

from mlopsctl.compiler.provenance import PROVENANCE, without
from mlopsctl.compiler.vertex_models import endpoint_id
from mlopsctl.config.target import Target
from mlopsctl.graph import Graph, Resource, fn_output

DEV = Target("dev", "us-central1")
EU = Target("prod", "europe-west4")
VERTEX = "placement: {endpoints: vertex}\n"
ENDPOINT = "gcp:vertex/aiEndpoint:AiEndpoint"
VERSION = "mlopsctl:vertex/modelVersion:ModelVersion"
DEPLOYMENT = "mlopsctl:vertex/deployment:Deployment"
GSA = "gcp:serviceaccount/account:Account"
BUCKET = "demo-dev-us-central1-models"
"""The dev bucket of key ``models``."""
LABELS = {
    "managed-by": "mlopsctl",
    "mlops-project": "demo",
    "mlops-env": "dev",
    "mlops-region": "us-central1",
}
TWO_VERSIONS = CLF_API.replace(
    '      v1: {artifactUri: "gs://models-bucket/clf/v1"}\n',
    '      v1: {artifactUri: "gs://models-bucket/clf/v1"}\n      v2: {artifactUri: "gs://models-bucket/clf/v2"}\n',
).replace(
    "      main: {model: clf, version: v1}\n",
    "      main: {model: clf, version: v1}\n      next: {model: clf, version: v2}\n",
)
"""Endpoint 'api' with variants main (clf v1) and next (clf v2): append a rollout."""


def _address(type_: str, name: str, target: Target = DEV) -> str:
    return f"{target}/{type_}/{name}"


def _get(graph: Graph, type_: str, name: str) -> Resource:
    return graph.resources[_address(type_, name, graph.target)]


def _graphs(tmp_path: pathlib.Path, sections: str) -> dict[Target, Graph]:
    return compile_text(tmp_path, MINIMAL + sections)


def test_an_endpoint_is_a_model_version_an_endpoint_and_a_deployment(tmp_path: pathlib.Path) -> None:
    graph = _graphs(tmp_path, CLF_API + VERTEX)[DEV]
    version = _get(graph, VERSION, "clf@v1")
    assert without(VERSION, version.inputs, PROVENANCE) == {
        "project": "acme-demo-dev",
        "location": "us-central1",
        "modelId": "demo-clf",
        "displayName": "clf",
        "artifactUri": "gs://models-bucket/clf/v1",
        "containerImageUri": "us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-6:latest",
        "versionAliases": ["default"],
        "labels": {"mlops-model": "clf", **LABELS},
    }
    assert version.source == ("models", "clf", "versions", "v1") and version.depends_on == ()
    endpoint = _get(graph, ENDPOINT, "api")
    assert without(ENDPOINT, endpoint.inputs, PROVENANCE) == {
        "name": "755688946",
        "displayName": "api",
        "description": "Endpoint 'api' of demo (dev/us-central1), managed by mlopsctl.",
        "project": "acme-demo-dev",
        "location": "us-central1",
        "labels": {"mlops-endpoint": "api", **LABELS},
    }
    deployment = _get(graph, DEPLOYMENT, "api")
    account = "ep-api-dev-usc1@acme-demo-dev.iam.gserviceaccount.com"
    assert deployment.inputs == {
        "project": "acme-demo-dev",
        "location": "us-central1",
        "endpoint": fn_output(endpoint.address, "name"),
        "deployedModels": [
            {
                "key": "main",
                "id": deployment.inputs["deployedModels"][0]["id"],
                "model": fn_output(version.address, "name"),
                "machineType": "n1-standard-2",
                "minReplicaCount": 1,
                "maxReplicaCount": 3,
                "serviceAccount": account,
            }
        ],
        "trafficSplit": {"main": 100},
    }
    assert deployment.inputs["deployedModels"][0]["id"] == "2375156146"  # never changes: a new id redeploys
    assert set(deployment.depends_on) == {endpoint.address, version.address, _address(GSA, "endpoint-api")}


def _deployed_id(tmp_path: pathlib.Path, text: str) -> str:
    [entry] = _get(_graphs(tmp_path, text)[DEV], DEPLOYMENT, "api").inputs["deployedModels"]
    return str(entry["id"])


@pytest.mark.parametrize(
    ("change", "same"),
    [
        (("main: {model: clf, version: v1}", "main: {model: clf, version: v1, minReplicas: 2}"), True),
        (
            ("main: {model: clf, version: v1}", "main: {model: clf, version: v1, machineType: n1-highmem-4}"),
            False,
        ),
        (("main: {model: clf, version: v1}", "blue: {model: clf, version: v1}"), False),
    ],
    ids=["replicas", "machine", "key"],
)
def test_a_deployed_models_id_changes_with_what_redeploys_it(
    tmp_path: pathlib.Path, change: tuple[str, str], same: bool
) -> None:
    """The id is the deployed model's own on Vertex AI: what Vertex AI changes in place keeps it, what
    needs a new deployed model beside the old one gives another."""
    text = CLF_API + VERTEX
    assert change[0] in text
    before = _deployed_id(tmp_path / "before", text)
    after = _deployed_id(tmp_path / "after", text.replace(*change))
    assert len(before) == 10 and before.isdigit() and not before.startswith("0")
    assert (before == after) is same


def test_nothing_of_kserve_istio_or_the_request_logger_is_built_for_it(tmp_path: pathlib.Path) -> None:
    sections = CLF_API + "    logging: {dataset: logs}\n" + "data:\n  datasets:\n    logs: {}\n"
    graph = _graphs(tmp_path, sections + VERTEX)[DEV]
    assert not [r for r in graph if r.is_kubernetes]  # nothing declared runs in a cluster: there is none
    assert not [r for r in graph if r.is_addon]  # no KServe, Istio, KEDA or collectors to install
    account = _get(graph, GSA, "endpoint-api")  # the models run as it: no Kubernetes account or binding
    assert not [r for r in graph if r.type == "gcp:serviceaccount/iAMMember:IAMMember"]
    assert account.inputs["accountId"] == "ep-api-dev-usc1"


@pytest.mark.parametrize(
    ("rollout", "split", "aliases"),
    [
        (
            "{strategy: canary, baseline: main, candidate: next, steps: [5, 25, 100], currentStep: 1}",
            {"main": 75, "next": 25},
            {"v1": ["default"], "v2": ["candidate"]},
        ),
        (
            "{strategy: canary, baseline: next, candidate: main, steps: [5, 25, 100], currentStep: 2}",
            {"main": 100, "next": 0},
            {"v1": ["candidate"], "v2": ["default"]},
        ),
        (
            "{strategy: ab, weights: {main: 30, next: 70}}",
            {"main": 30, "next": 70},
            {"v1": ["candidate"], "v2": ["default"]},
        ),
        (
            "{strategy: blue-green, blue: main, green: next}",
            {"main": 100, "next": 0},
            {"v1": ["default"], "v2": ["candidate"]},
        ),
        (
            "{strategy: blue-green, blue: main, green: next, active: green}",
            {"main": 0, "next": 100},
            {"v1": ["candidate"], "v2": ["default"]},
        ),
    ],
    ids=["canary", "canary-at-the-end", "ab", "blue-green", "green-active"],
)
def test_the_traffic_split_and_the_aliases_follow_the_rollout(
    tmp_path: pathlib.Path, rollout: str, split: dict[str, int], aliases: dict[str, list[str]]
) -> None:
    graph = _graphs(tmp_path, TWO_VERSIONS + f"    rollout: {rollout}\n" + VERTEX)[DEV]
    deployment = _get(graph, DEPLOYMENT, "api")
    assert deployment.inputs["trafficSplit"] == split
    assert [m["key"] for m in deployment.inputs["deployedModels"]] == ["main", "next"]
    assert {v: _get(graph, VERSION, f"clf@{v}").inputs["versionAliases"] for v in ("v1", "v2")} == aliases
    assert {_address(VERSION, "clf@v1"), _address(VERSION, "clf@v2")} <= set(deployment.depends_on)


def test_machines_accelerators_and_replicas_come_from_the_variant(tmp_path: pathlib.Path) -> None:
    variant = (
        "main: {model: clf, version: v1, machineType: g2-standard-8, accelerators: 1,"
        " acceleratorType: NVIDIA_L4, minReplicas: 2, maxReplicas: 4}"
    )
    sections = GPU_API.replace("main: {model: clf, version: v1}", variant) + VERTEX
    graph = _graphs(tmp_path, sections)[DEV]
    [model] = _get(graph, DEPLOYMENT, "api").inputs["deployedModels"]
    # A version served on GPUs is registered with the GPU build of its framework's container.
    image = "us-docker.pkg.dev/vertex-ai/prediction/pytorch-gpu.2-4:latest"
    assert _get(graph, VERSION, "clf@v1").inputs["containerImageUri"] == image
    cpu = _graphs(tmp_path / "cpu", GPU_API + VERTEX)[DEV]
    assert _get(cpu, VERSION, "clf@v1").inputs["containerImageUri"] == image.replace("-gpu.", "-cpu.")
    assert {k: v for k, v in model.items() if k not in ("key", "id", "model", "serviceAccount")} == {
        "machineType": "g2-standard-8",
        "acceleratorType": "NVIDIA_L4",
        "acceleratorCount": 1,
        "minReplicaCount": 2,
        "maxReplicaCount": 4,
    }


def test_the_serving_image_comes_from_the_registry_nearest_the_region(tmp_path: pathlib.Path) -> None:
    graph = _graphs(tmp_path, CLF_API + VERTEX)[EU]
    image = _get(graph, VERSION, "clf@v1").inputs["containerImageUri"]
    assert image == "europe-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-6:latest"


def test_endpoint_ids_are_nine_digits_stable_and_distinct_per_target() -> None:
    targets = (DEV, EU, Target("dev", "europe-west4"))
    found = {endpoint_id(p, t, name) for p in ("demo", "other") for t in targets for name in ("api", "api2")}
    assert len(found) == 12 and all(len(i) == 9 and i[0] != "0" and i.isdigit() for i in found)
    # The id is the endpoint's identity: a change here would replace every endpoint on Vertex AI.
    assert endpoint_id("demo", DEV, "api") == "755688946"


def test_request_logging_is_the_endpoints_own_into_a_table_vertex_ai_creates(tmp_path: pathlib.Path) -> None:
    sections = (
        CLF_API.replace("gs://models-bucket/clf/v1", f"gs://{BUCKET}/clf/v1")
        + "    logging: {dataset: logs, samplingRate: 0.25}\n"
        + "data:\n  buckets:\n    models: {}\n  datasets:\n    logs: {}\n"
    )
    graph = _graphs(tmp_path, sections + VERTEX)[DEV]
    endpoint = _get(graph, ENDPOINT, "api")
    assert endpoint.inputs["predictRequestResponseLoggingConfig"] == {
        "enabled": True,
        "samplingRate": 0.25,
        "bigqueryDestination": {"outputUri": "bq://acme-demo-dev.logs_dev_us_central1.api_requests"},
    }
    assert not [r for r in graph if r.type == "gcp:bigquery/table:Table"]  # Vertex AI creates it
    agent = _get(graph, "gcp:bigquery/datasetIamMember:DatasetIamMember", "vertex-ai-agent-data-editor-logs")
    assert agent.inputs["datasetId"] == "logs_dev_us_central1"
    assert agent.inputs["role"] == "roles/bigquery.dataEditor"
    # The agent is made to exist (it may otherwise appear only on first use), and the grant waits for it.
    identity = f"{DEV}/gcp:projects/serviceIdentity:ServiceIdentity/aiplatform"
    assert agent.inputs["member"] == {"fn::output": {"resource": identity, "property": "member"}}
    assert identity in agent.depends_on
    assert set(endpoint.depends_on) == {agent.address, _address("gcp:bigquery/dataset:Dataset", "logs")}
    # The endpoint's own account only reads the artifacts, and only the Deployment runs as it.
    grants = [r for r in graph if "ep-api-dev-usc1@" in str(r.inputs.get("member", ""))]
    assert [(r.type, r.inputs["role"], r.inputs.get("bucket")) for r in grants] == [
        ("gcp:storage/bucketIAMMember:BucketIAMMember", "roles/storage.objectViewer", BUCKET)
    ]
    assert grants[0].address in _get(graph, DEPLOYMENT, "api").depends_on
    assert not [
        r for r in graph if r.type == "gcp:projects/iAMMember:IAMMember" and "ep-api" in str(r.inputs)
    ]


MIXED = """\
    rollout: {strategy: canary, baseline: main, candidate: next}
    logging: {dataset: logs}
data:
  datasets:
    logs: {}
monitors:
  shift:
    type: drift
    endpoint: api
    baseline: {dataset: logs, table: train}
    features: {amount: {kind: numeric}}
    schedule: {cron: "0 3 * * *"}
  slow: {type: latency, endpoint: api, objective: 300}
"""


def test_an_environment_can_move_its_endpoints_and_monitors_to_vertex_ai(tmp_path: pathlib.Path) -> None:
    overridden = STAGED.replace(
        "    regions: [us-central1]\n",
        "    regions: [us-central1]\n    overrides:\n      placement: "
        "{endpoints: vertex, monitors: vertex}\n",
        1,
    )
    graphs = compile_text(tmp_path, overridden + TWO_VERSIONS + MIXED)
    kinds = {t: {r.type.rpartition(":")[2] for r in g} for t, g in graphs.items()}
    on_vertex = {"AiEndpoint", "Deployment", "ModelVersion", "ModelMonitor"}
    in_cluster = {
        "InferenceService",
        "VirtualService",
        "Gateway",
        "CronJob",
        "Rules",
        "PodMonitoring",
        "Table",
    }
    assert on_vertex <= kinds[DEV] and not in_cluster & kinds[DEV]
    for target in (Target("prod", "us-central1"), EU):
        assert in_cluster <= kinds[target]
        assert not {"AiEndpoint", "ModelVersion", "ModelMonitor"} & kinds[target]
        assert not [r for r in graphs[target] if r.type.startswith("mlopsctl:vertex/")]
    assert {r.name for r in graphs[DEV] if r.type == "gcp:monitoring/alertPolicy:AlertPolicy"} == {"slow"}


def test_with_every_section_on_vertex_ai_there_is_no_cluster(tmp_path: pathlib.Path) -> None:
    sections = CLF_API + "accelerators:\n  cpu: {type: cpu}\n"
    placement = "placement: {endpoints: vertex, monitors: vertex, pipelines: vertex}\n"
    graph = _graphs(tmp_path, sections + placement)[DEV]
    types = {r.type for r in graph}
    assert not [r for r in graph if r.is_kubernetes or r.is_addon]
    assert not {"gcp:container/cluster:Cluster", "gcp:container/nodePool:NodePool"} & types
    assert not {"gcp:serviceaccount/iAMMember:IAMMember", "gcp:compute/router:Router"} & types
    assert [r.name for r in graph if r.type == GSA] == ["endpoint-api"]
    # The cluster stays while a declared section runs on GKE.
    pipeline = "pipelines:\n  p:\n    steps:\n      s: {image: s:1, command: [s]}\n"
    on_gke = placement.replace("pipelines: vertex", "pipelines: gke")
    assert "gcp:container/cluster:Cluster" not in {r.type for r in _graphs(tmp_path, sections + on_gke)[DEV]}
    with_pipelines = compile_text(tmp_path, owned(MINIMAL) + sections + pipeline + on_gke)
    assert "gcp:container/cluster:Cluster" in {r.type for r in with_pipelines[DEV]}


def test_the_platform_report_names_the_managed_services(tmp_path: pathlib.Path) -> None:
    from mlopsctl.api import compile_graphs, platform, validate
    from mlopsctl.config.source import ConfigSource

    pipeline = (
        "pipelines:\n  train:\n    steps:\n      fit: {kind: container, image: t:1, command: [python]}\n"
    )
    text = owned(MINIMAL) + CLF_API + pipeline + "placement: {endpoints: vertex, pipelines: vertex}\n"
    path = tmp_path / "mlops.yaml"
    path.write_text(text, encoding="utf-8")
    validation = validate(ConfigSource(path, "mlops.yaml", None))
    uses = platform(validation, compile_graphs(validation))[DEV]
    assert [(u.name, u.version, u.needed_by) for u in uses] == [
        ("Vertex AI Pipelines", "managed", ("pipelines.train",)),
        ("Vertex AI endpoints", "managed", ("endpoints.api",)),
        ("Vertex AI Model Registry", "managed", ("models.clf.versions.v1",)),
    ]
    assert {u.install for u in uses} == {"managed service of Google Cloud"}


def _split_change(tmp_path: pathlib.Path, before: int, after: int) -> Any:
    from mlopsctl.plan import diff_target
    from mlopsctl.state import state_from_graph

    rollout = "    rollout: {{strategy: canary, baseline: main, candidate: next, currentStep: {}}}\n"
    old = _graphs(tmp_path, TWO_VERSIONS + rollout.format(before) + VERTEX)[DEV]
    new = _graphs(tmp_path, TWO_VERSIONS + rollout.format(after) + VERTEX)[DEV]
    return diff_target(DEV, new, state_from_graph(old, project="demo", source_commit=None, config_hash="h"))


def test_a_canary_step_plans_as_a_traffic_split_change_of_the_deployment(tmp_path: pathlib.Path) -> None:
    from mlopsctl.plan import Action, Plan
    from mlopsctl.views.plan_text import render_text

    plan = _split_change(tmp_path, 0, 1)
    [change] = plan.changes
    assert (change.type, change.name, change.actions) == (DEPLOYMENT, "api", (Action.UPDATE,))
    differing = {k for k in change.after if change.before[k] != change.after[k]}
    assert differing == {"trafficSplit"}
    assert (change.before["trafficSplit"], change.after["trafficSplit"]) == (
        {"main": 95, "next": 5},
        {"main": 75, "next": 25},
    )
    text = render_text(Plan("demo", (plan,)))
    assert "# dev/us-central1/mlopsctl:vertex/deployment:Deployment/api will be updated in-place" in text
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in text


def test_the_cluster_gets_the_add_ons_of_what_stays_on_gke(tmp_path: pathlib.Path) -> None:
    pipeline = (
        "pipelines:\n  train:\n    steps:\n      fit: {kind: container, image: t:1, command: [python]}\n"
    )
    text = owned(MINIMAL) + CLF_API + pipeline
    addons = {r.name for r in compile_text(tmp_path, text + VERTEX)[DEV] if r.is_addon}
    assert "kubeflow-pipelines" in addons
    assert not {"kserve", "kserve-runtimes", "keda", "istio-ingressgateway", "flagger"} & addons
