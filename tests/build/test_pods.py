"""Where pods run: one placement for pipeline steps, trials, replicas and predictors; on a TPU pool
always with the accelerator and topology labels GKE requires of pods asking for TPU chips."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import STAGED, compile_text

from mlopsctl.build.pods import placement, pod_placement
from mlopsctl.config.models.compute import CpuPool, GpuPool, TpuPool
from mlopsctl.graph import Target

DEV = Target("dev", "us-central1")
POOL = "cloud.google.com/gke-nodepool"
TPU_ACCELERATOR = "cloud.google.com/gke-tpu-accelerator"
TPU_TOPOLOGY = "cloud.google.com/gke-tpu-topology"
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
TPU_TOLERATION = {"key": "google.com/tpu", "operator": "Exists", "effect": "NoSchedule"}
SPOT_TOLERATION = {
    "key": "cloud.google.com/gke-spot",
    "operator": "Equal",
    "effect": "NoSchedule",
    "value": "true",
}
V5E_2X4 = {POOL: "p", TPU_ACCELERATOR: "tpu-v5-lite-podslice", TPU_TOPOLOGY: "2x4"}


@pytest.mark.parametrize(
    ("pool", "count", "selector", "tolerations", "accelerator"),
    [
        (None, 1, {}, [], None),
        (CpuPool(type="cpu"), 2, {POOL: "p"}, [], None),
        (CpuPool(type="cpu", spot=True), 0, {POOL: "p"}, [SPOT_TOLERATION], None),
        (GpuPool(type="gpu", accelerator="nvidia-l4"), 0, {POOL: "p"}, [GPU_TOLERATION], None),
        (
            GpuPool(type="gpu", accelerator="nvidia-l4", spot=True),
            2,
            {POOL: "p"},
            [GPU_TOLERATION, SPOT_TOLERATION],
            ("nvidia.com/gpu", 2),
        ),
        (
            TpuPool(type="tpu", version="v5e", topology="2x4"),
            4,
            V5E_2X4,
            [TPU_TOLERATION],
            ("google.com/tpu", 4),
        ),
        # Without chips too: the labels are the pool's nodes', so they never keep a pod off them.
        (TpuPool(type="tpu", version="v5e", topology="2x4"), 0, V5E_2X4, [TPU_TOLERATION], None),
        (
            TpuPool(type="tpu", version="v5p", topology="2x2x4", spot=True),
            4,
            {POOL: "p", TPU_ACCELERATOR: "tpu-v5p-slice", TPU_TOPOLOGY: "2x2x4"},
            [TPU_TOLERATION, SPOT_TOLERATION],
            ("google.com/tpu", 4),
        ),
    ],
)
def test_placement(
    pool: CpuPool | GpuPool | TpuPool | None,
    count: int,
    selector: dict[str, str],
    tolerations: list[dict[str, str]],
    accelerator: tuple[str, int] | None,
) -> None:
    where = placement("p" if pool else None, pool, count)
    assert (where.node_selector, [t.to_json() for t in where.tolerations]) == (selector, tolerations)
    assert ((where.accelerator, where.count) if where.accelerator else None) == accelerator
    assert pod_placement(where).get("nodeSelector", {}) == selector


PROJECT = """\
models:
  enc: {framework: pytorch, versions: {v1: {artifactUri: "gs://acme-models/enc/v1"}}}
accelerators:
  host: {type: tpu, version: v6e, topology: 2x2}
  cpu: {type: cpu, autoscaling: {minNodes: 1}}
pipelines:
  p:
    steps:
      embed:
        image: embed:1
        command: [python, embed.py]
        outputs: {vectors: dataset}
        resources: {nodePool: host, accelerators: 4}
      report:
        image: report:1
        command: [python, report.py]
        inputs: {vectors: embed.vectors}
        resources: {nodePool: cpu}
endpoints:
  api:
    variants: {main: {model: enc, version: v1, nodePool: host, accelerators: 4}}
"""
V6E_2X2 = {POOL: "host", TPU_ACCELERATOR: "tpu-v6e-slice", TPU_TOPOLOGY: "2x2"}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    graph = compile_text(tmp_path_factory.mktemp("pods"), STAGED + PROJECT)[DEV]
    [version] = [r for r in graph if r.type.endswith(":PipelineVersion")]
    [isvc] = [r for r in graph if r.type.endswith(":InferenceService")]
    return {"spec": version.inputs["spec"], "isvc": isvc.inputs}


def _kfp_selector(spec: dict[str, Any], step: str) -> dict[str, str]:
    executors = spec["platformSpec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    labels: dict[str, str] = executors[f"exec-{step}"]["nodeSelector"]["labels"]
    return labels


def test_a_pipeline_step_asking_for_tpu_chips_selects_the_slice(compiled: dict[str, Any]) -> None:
    assert _kfp_selector(compiled["spec"], "embed") == V6E_2X2
    container = compiled["spec"]["pipelineSpec"]["deploymentSpec"]["executors"]["exec-embed"]["container"]
    accelerator = container["resources"]["accelerator"]
    assert (accelerator["resourceType"], accelerator["resourceCount"]) == ("google.com/tpu", "4")


def test_a_pipeline_step_on_a_cpu_pool_selects_only_its_pool(compiled: dict[str, Any]) -> None:
    assert _kfp_selector(compiled["spec"], "report") == {POOL: "cpu"}


def test_a_predictor_asking_for_tpu_chips_selects_the_slice(compiled: dict[str, Any]) -> None:
    predictor = compiled["isvc"]["spec"]["predictor"]
    assert predictor["nodeSelector"] == V6E_2X2
    assert predictor["model"]["resources"]["limits"]["google.com/tpu"] == "4"
