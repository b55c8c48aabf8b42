"""Sections placed on Vertex AI ask only for what Vertex AI offers; the feature store's references resolve."""

from __future__ import annotations

import pathlib

import pytest
from helpers import CLF_API, GPU_API, MINIMAL, WITH_DATA, diagnostics

VERTEX_ENDPOINTS = "placement:\n  endpoints: vertex\n"

ENDPOINT_CASES = {
    "shadow traffic": (
        CLF_API.replace(
            "      main: {model: clf, version: v1}\n",
            "      main: {model: clf, version: v1}\n      copy: {model: clf, version: v1}\n",
        )
        + "    rollout: {strategy: shadow, primary: main, shadow: copy, mirrorPercent: 10}\n",
        "E407: Vertex AI endpoints have no shadow traffic: they only split traffic by weight",
    ),
    "a node pool": (
        CLF_API.replace("main: {model: clf, version: v1}", "main: {model: clf, version: v1, nodePool: gpu}")
        + "accelerators:\n  gpu: {type: cpu}\n",
        "E407: a Vertex AI endpoint does not run on the project's GKE node pools",
    ),
    "an unknown machine type": (
        CLF_API.replace(
            "main: {model: clf, version: v1}", "main: {model: clf, version: v1, machineType: n1-standard-3}"
        ),
        "E401: Vertex AI offers no machine type 'n1-standard-3'",
    ),
    "a GPU without its type": (
        GPU_API.replace(
            "main: {model: clf, version: v1}", "main: {model: clf, version: v1, accelerators: 1}"
        ),
        "E407: 1 accelerator(s) but no acceleratorType: Vertex AI needs the GPU type",
    ),
    "a GPU on the wrong machine": (
        GPU_API.replace(
            "main: {model: clf, version: v1}",
            "main: {model: clf, version: v1, accelerators: 1, acceleratorType: NVIDIA_L4,"
            " machineType: n1-standard-4}",
        ),
        "E402: NVIDIA_L4 runs on g2 machines, not on n1-standard-4",
    ),
    "a GPU for a CPU-only container": (
        CLF_API.replace(
            "main: {model: clf, version: v1}",
            "main: {model: clf, version: v1, accelerators: 1, acceleratorType: NVIDIA_L4,"
            " machineType: g2-standard-4}",
        ),
        "E407: Vertex AI's prebuilt sklearn container serves on CPUs only: the variant's 1 GPU(s) would "
        "sit idle",
    ),
    "gRPC": (
        CLF_API + "    protocols: [http, grpc]\n",
        "E407: Vertex AI's prebuilt serving containers answer HTTP only",
    ),
}


@pytest.mark.parametrize("case", sorted(ENDPOINT_CASES))
def test_what_a_vertex_endpoint_cannot_do_is_located_with_the_alternative(
    case: str, tmp_path: pathlib.Path
) -> None:
    sections, expected = ENDPOINT_CASES[case]
    found = diagnostics(tmp_path, MINIMAL + sections + VERTEX_ENDPOINTS)
    matching = [(m, h) for m, h in found if expected in m]
    assert len(matching) == 1, found  # every target has it: one finding
    [(message, hint)] = matching
    assert message.split(":")[0].isdigit() and hint
    assert not [m for m, _ in found if " error " in m and expected not in m], found


def test_the_same_endpoint_on_gke_is_fine(tmp_path: pathlib.Path) -> None:
    sections = ENDPOINT_CASES["shadow traffic"][0]
    assert not [m for m, _ in diagnostics(tmp_path, MINIMAL + sections) if "error" in m]


def test_a_vertex_environment_beside_a_gke_one(tmp_path: pathlib.Path) -> None:
    sections = ENDPOINT_CASES["shadow traffic"][0]
    text = (MINIMAL + sections).replace(
        "    regions: [us-central1]\n",
        "    regions: [us-central1]\n    overrides:\n      placement: {endpoints: vertex}\n",
        1,
    )
    found = [m for m, _ in diagnostics(tmp_path, text) if "E407" in m]
    assert len(found) == 1 and found[0].endswith("(in dev/us-central1)")


def test_vertex_pipelines_refuse_node_pools_and_cluster_jobs(tmp_path: pathlib.Path) -> None:
    text = (
        MINIMAL.replace("  name: demo\n", "  name: demo\n  owner: ml@acme.example\n")
        + "pipelines:\n  train:\n    nodePool: cpu\n    steps:\n"
        + "      fit: {kind: container, image: trainer:1, command: [python], resources: {accelerators: 1}}\n"
        + "accelerators:\n  cpu: {type: cpu}\n"
        + "placement: {pipelines: vertex}\n"
    )
    found = [m.split(": error ")[1] for m, _ in diagnostics(tmp_path, text) if " error " in m]
    assert "E407: a Vertex AI pipeline cannot use a GKE node pool" in found
    assert "E407: 1 accelerator(s) but no acceleratorType: Vertex AI needs the GPU type" in found


def test_feature_views_name_what_exists(tmp_path: pathlib.Path) -> None:
    text = WITH_DATA + (
        "features:\n"
        "  groups:\n"
        "    customers:\n"
        "      source: {dataset: features, table: customers}\n"
        "      entityIdColumns: [customer_id]\n"
        "      features: [age, balance]\n"
        "    orders:\n"
        "      source: {dataset: features, table: orders}\n"
        "      entityIdColumns: [order_id]\n"
        "      features: [amount, income]\n"
        "  onlineStores:\n"
        "    main: {type: optimized}\n"
        "  views:\n"
        "    profile: {store: mian, group: customers, features: [age, income]}\n"
    )
    found = diagnostics(tmp_path, text)
    errors = {m.split(": error ")[1]: h for m, h in found if " error " in m}
    assert errors == {
        "E301: online store 'mian' is not declared under features.onlineStores": "did you mean 'main'?",
        "E301: feature 'income' is not declared under features.groups.customers.features": (
            "declared under features.groups.customers.features: age, balance"
        ),
    }


LONG = "a-project-name-of-forty-characters-00000"


@pytest.mark.parametrize(
    ("placement", "expected"),
    [
        ("{pipelines: vertex, endpoints: vertex, monitors: vertex}", []),
        ("{pipelines: vertex, endpoints: gke, monitors: gke}", ["GKE cluster name", "InferenceService name"]),
    ],
)
def test_gke_name_limits_apply_only_to_what_runs_on_gke(
    tmp_path: pathlib.Path, placement: str, expected: list[str]
) -> None:
    """Without a cluster there is no cluster name, and a Vertex AI endpoint makes no InferenceService."""
    variant = "a-variant-named-at-length"
    sections = CLF_API.replace("      main: {model", f"      {variant}: {{model")
    text = MINIMAL.replace("name: demo", f"name: {LONG}").replace("  api:\n", "") + sections.replace(
        "  api:\n", "  an-endpoint-named-at-length:\n"
    )
    found = [m for m, _ in diagnostics(tmp_path, f"{text}placement: {placement}\n") if " E404: " in m]
    assert sorted({w for m in found for w in ("GKE cluster name", "InferenceService name") if w in m}) == (
        expected
    ), found
