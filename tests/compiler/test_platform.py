"""The platform step: each cluster gets the add-ons its workloads need, and only those, pinned."""

from __future__ import annotations

import pathlib
import typing

import pytest
from conftest import EXAMPLES
from helpers import MINIMAL, STAGED, compile_text
from upstream_schemas import UpstreamSchemas

from mlopsctl.api import compile_graphs, platform, validate
from mlopsctl.compiler.metrics import prometheus_url
from mlopsctl.config.addons import catalog, version_key
from mlopsctl.config.models.platform import AddOnName
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import HELM_RELEASE, KUSTOMIZE_DIRECTORY, Graph
from mlopsctl.output.argocd import FIRST_WAVE, applications

DEV = Target("dev", "us-central1")
MODEL = "models:\n  m: {framework: sklearn, versions: {v1: {artifactUri: gs://acme-models/m/1}}}\n"
ENDPOINT = MODEL + "endpoints:\n  score:\n    variants:\n      main: {model: m, version: v1}\n"
CPU = ENDPOINT.replace("{model: m, version: v1}", "{model: m, version: v1, autoscaling: {metric: cpu}}")
KEDA = ENDPOINT.replace("{model: m, version: v1}", "{model: m, version: v1, autoscaling: {metric: rps}}")


def _addons(tmp_path: pathlib.Path, text: str) -> dict[str, dict[str, typing.Any]]:
    graph = compile_text(tmp_path, text)[DEV]
    return {r.name: dict(r.inputs) for r in graph if r.is_addon}


def test_a_project_without_workloads_installs_nothing(tmp_path: pathlib.Path) -> None:
    assert _addons(tmp_path, MINIMAL) == {}


def test_an_endpoint_brings_kserve_the_mesh_and_what_they_require(tmp_path: pathlib.Path) -> None:
    found = _addons(tmp_path, STAGED + CPU)
    assert set(found) == {
        "cert-manager",
        "istio-base",
        "istiod",
        "istio-ingressgateway",
        "kserve-crd",
        "kserve",
        "kserve-runtimes",  # the ClusterServingRuntimes the InferenceServices name
    }
    assert found["kserve-runtimes"]["values"] == {"kserve": {"servingruntime": {"enabled": True}}}
    kserve = found["kserve"]
    assert (
        kserve["chart"] == "oci://ghcr.io/kserve/charts/kserve-resources" and kserve["version"] == "v0.20.0"
    )
    controller = kserve["values"]["kserve"]["controller"]
    assert controller["deploymentMode"] == "Standard"  # raw deployments, as KServe 0.20 names them
    assert controller["gateway"]["disableIngressCreation"] is True  # routes are mlopsctl's own
    assert found["istio-ingressgateway"]["values"]["labels"] == {"istio": "ingressgateway"}
    assert found["cert-manager"]["repositoryOpts"] == {"repo": "https://charts.jetstack.io"}


def test_keda_only_where_kserve_hands_scaling_to_it(tmp_path: pathlib.Path) -> None:
    assert "keda" not in _addons(tmp_path / "a", STAGED + CPU)  # an HPA, KServe's default
    assert _addons(tmp_path / "b", STAGED + KEDA)["keda"]["version"] == "2.20.2"


def test_managed_mesh_installs_no_istio_control_plane_but_the_gateway(tmp_path: pathlib.Path) -> None:
    found = _addons(tmp_path, STAGED + ENDPOINT + "platform: {mesh: managed}\n")
    assert "istiod" not in found and "istio-base" not in found
    assert found["istio-ingressgateway"]["chart"] == "gateway"


def test_a_pinned_version_is_what_is_installed(tmp_path: pathlib.Path) -> None:
    found = _addons(tmp_path, STAGED + ENDPOINT + "platform: {versions: {kserve: v0.20.1}}\n")
    assert found["kserve"]["version"] == "v0.20.1" and found["kserve-crd"]["version"] == "v0.20.0"


def test_requirements_are_dependencies_and_come_first(tmp_path: pathlib.Path) -> None:
    graph = compile_text(tmp_path, STAGED + ENDPOINT)[DEV]
    order = [r.name for r in graph.ordered() if r.is_addon]
    for resource in (r for r in graph if r.is_addon):
        for required in catalog().addons[resource.name].requires:
            assert any(d.endswith(f"/{required}") for d in resource.depends_on), resource.name
            assert order.index(required) < order.index(resource.name)


def test_flagger_queries_the_clusters_prometheus(tmp_path: pathlib.Path) -> None:
    canary = ENDPOINT.replace(
        "      main: {model: m, version: v1}\n",
        "      a: {model: m, version: v1}\n      b: {model: m, version: v1}\n"
        "    rollout: {strategy: canary, baseline: a, candidate: b, analysis: {}}\n",
    )
    for metrics in ("managed", "in-cluster"):
        text = STAGED + canary + f"platform: {{metrics: {metrics}}}\n"
        graph = compile_text(tmp_path / metrics, text)[DEV]
        flagger = next(r for r in graph if r.name == "flagger")
        config = validate(ConfigSource(tmp_path / metrics / "mlops.yaml", "m", None)).targets[DEV].config
        assert flagger.inputs["values"]["metricsServer"] == prometheus_url(config)
        assert flagger.inputs["values"]["meshProvider"] == "istio"


def _example_graphs() -> list[tuple[str, Graph]]:
    found = []
    for example in EXAMPLES:
        validation = validate(ConfigSource(example, str(example), None))
        found += [(f"{example.parent.name}-{t}", g) for t, g in compile_graphs(validation).items()]
    return found


@pytest.mark.parametrize(("name", "graph"), _example_graphs(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_example_application_is_valid_and_waves_follow_requirements(
    name: str, graph: Graph, upstream_schemas: UpstreamSchemas
) -> None:
    apps = applications(graph, {"app.kubernetes.io/managed-by": "mlopsctl"})
    assert set(apps) == {r.name for r in graph if r.is_addon}
    waves = {n: int(a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]) for n, a in apps.items()}
    for addon_name, app in apps.items():
        assert upstream_schemas.validate(app) == [], addon_name
        addon = catalog().addons[addon_name]
        assert FIRST_WAVE <= waves[addon_name] < 0
        assert all(waves[r] < waves[addon_name] for r in addon.requires if r in waves)
        # Pinned, so no new revision starts another sync: a failed first install must retry itself.
        retry = app["spec"]["syncPolicy"]["retry"]
        assert retry["limit"] > 0 and retry["backoff"]["maxDuration"] == "5m"
        source = app["spec"]["source"]
        assert source["targetRevision"] == addon.version  # pinned, never a branch
        if addon.install == "kustomize":
            assert source == {
                "repoURL": f"{addon.source}.git",
                "path": addon.package,
                "targetRevision": addon.version,
            }
        else:
            assert source["chart"] == addon.package
            assert source["helm"]["releaseName"] == addon_name


def test_kustomize_and_helm_resources_use_the_sdk_tokens(tmp_path: pathlib.Path) -> None:
    addons = catalog().addons
    assert {a.install for a in addons.values()} == {"helm", "kustomize", "gke"}
    graph = compile_text(tmp_path, STAGED + ENDPOINT)[DEV]
    for resource in (r for r in graph if r.is_addon):
        assert resource.type == (
            HELM_RELEASE if addons[resource.name].install == "helm" else KUSTOMIZE_DIRECTORY
        )


def test_versions_match_the_upstream_schemas_the_output_is_tested_against() -> None:
    tested = {
        "istiod": "1.30.3",
        "kserve": "v0.20.0",
        "kubeflow-pipelines": "2.17.0",
        "katib": "v0.19.0",
        "training-operator": "v1.9.4",
        "flagger": "1.44.0",
        "jobset": "0.12.0",
        "keda": "2.20.2",
        "cert-manager": "v1.21.1",
        "profile-controller": "v2.0.0",
        "google-managed-prometheus": "v0.17.2",
        "kube-prometheus-stack": "88.3.0",  # the chart of Prometheus Operator v0.93.0
    }
    addons = catalog().addons
    assert {name: addons[name].version for name in tested} == tested
    assert all(version_key(a.version) for a in addons.values())


def test_every_installable_add_on_can_be_pinned() -> None:
    installable = {n for n, a in catalog().addons.items() if a.install != "gke"}
    assert set(typing.get_args(AddOnName)) == installable


def test_platform_report_names_what_needs_each_add_on(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "mlops.yaml"
    path.write_text(STAGED + KEDA, encoding="utf-8")
    validation = validate(ConfigSource(path, "mlops.yaml", None))
    uses = {u.name: u for u in platform(validation, compile_graphs(validation))[DEV]}
    assert uses["keda"].needed_by == ("endpoints.score.variants.main",)
    assert uses["cert-manager"].needed_by == ("add-on kserve",)
    assert uses["kserve"].install == "helm chart kserve-resources from oci://ghcr.io/kserve/charts"
    # A hand install (the kubernetes target) must give the chart what the Release gives it.
    graph = compile_graphs(validation)[DEV]
    [release] = [r for r in graph if r.is_addon and r.name == "kserve"]
    assert uses["kserve"].values == release.inputs["values"]
    assert uses["kserve"].values["kserve"]["controller"]["deploymentMode"] == "Standard"
    assert uses["kserve"].to_dict()["values"] == release.inputs["values"]
    assert all("values" not in u.to_dict() for u in uses.values() if not u.install.startswith("helm"))


def test_the_compatibility_matrix_in_the_docs_is_the_catalog() -> None:
    docs = (pathlib.Path(__file__).parents[2] / "docs" / "platform.md").read_text(encoding="utf-8")
    for name, addon in catalog().addons.items():
        if addon.install == "helm":
            package = f"Helm `{addon.package}` from `{addon.source}`"
        elif addon.install == "kustomize":
            package = f"kustomize `{addon.package}` of {addon.source}"
        else:
            package = "part of GKE"
        requires = ", ".join(addon.requires) or "-"
        namespace = "(GKE)" if addon.install == "gke" else addon.namespace or "(cluster-scoped)"
        row = f"| `{name}` | {addon.version} | {package} | {namespace} | {requires} |"
        assert row in docs, row


def test_managed_mesh_joins_the_cluster_to_the_fleets_service_mesh(tmp_path: pathlib.Path) -> None:
    graphs = compile_text(tmp_path, STAGED + CPU + "platform: {mesh: managed}\n")
    features = {t: [r for r in g if r.type == "gcp:gkehub/feature:Feature"] for t, g in graphs.items()}
    # One feature per fleet (project): made by the first region of the project, not by each.
    assert [t for t, found in features.items() if found] == [DEV, Target("prod", "us-central1")]
    for target, graph in graphs.items():
        [membership] = [r for r in graph if r.type == "gcp:gkehub/featureMembership:FeatureMembership"]
        assert membership.inputs["mesh"] == {"management": "MANAGEMENT_AUTOMATIC"}
        assert membership.inputs["membershipLocation"] == target.region
        assert any(d.endswith(f"Cluster/{membership.inputs['membership']}") for d in membership.depends_on)
        services = {r.inputs["service"] for r in graph if r.type == "gcp:projects/service:Service"}
        assert {"gkehub.googleapis.com", "mesh.googleapis.com"} <= services


@pytest.mark.parametrize(
    ("platform_text", "expected"),
    [
        ("", {"managedPrometheus": True, "fleet": None, "secretSyncConfig": None}),
        (
            "platform: {metrics: in-cluster, mesh: managed, secrets: gke-addon}\n",
            {
                "managedPrometheus": False,
                "fleet": {"project": "acme-demo-dev"},
                "secretSyncConfig": {
                    "enabled": True,
                    "rotationConfig": {"enabled": True, "rotationInterval": "600s"},
                },
            },
        ),
    ],
)
def test_the_cluster_runs_what_the_platform_choices_leave_to_gke(
    tmp_path: pathlib.Path, platform_text: str, expected: dict[str, typing.Any]
) -> None:
    graph = compile_text(tmp_path, STAGED + CPU + platform_text)[DEV]
    [cluster] = [r.inputs for r in graph if r.type == "gcp:container/cluster:Cluster"]
    assert cluster["monitoringConfig"]["managedPrometheus"] == {"enabled": expected["managedPrometheus"]}
    assert cluster.get("fleet") == expected["fleet"]
    assert cluster.get("secretSyncConfig") == expected["secretSyncConfig"]
