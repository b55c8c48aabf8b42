"""Where pods run: one placement for pipeline steps, trials, replicas and predictors; on a TPU pool
always with the accelerator and topology labels GKE requires of pods asking for TPU chips. Predictors
never land there: no KServe runtime drives TPU chips, so a variant on a TPU pool is refused."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
from helpers import OWNED_STAGED, compile_text, write

from mlopsctl.api import validate
from mlopsctl.compiler.pods import placement, pod_placement
from mlopsctl.config.models.compute import CpuPool, GpuPool, TpuPool
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target

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
"""
TPU_PREDICTOR = """\
models:
  enc: {framework: pytorch, versions: {v1: {artifactUri: "gs://acme-models/enc/v1"}}}
endpoints:
  api:
    variants: {main: {model: enc, version: v1, nodePool: host, accelerators: 4}}
"""
V6E_2X2 = {POOL: "host", TPU_ACCELERATOR: "tpu-v6e-slice", TPU_TOPOLOGY: "2x2"}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    graph = compile_text(tmp_path_factory.mktemp("pods"), OWNED_STAGED + PROJECT)[DEV]
    [version] = [r for r in graph if r.type.endswith(":PipelineVersion")]
    compiled: dict[str, Any] = version.inputs["spec"]
    return compiled


def _kfp_selector(spec: dict[str, Any], step: str) -> dict[str, str]:
    executors = spec["platformSpec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    labels: dict[str, str] = executors[f"exec-{step}"]["nodeSelector"]["labels"]
    return labels


def test_a_pipeline_step_asking_for_tpu_chips_selects_the_slice(spec: dict[str, Any]) -> None:
    assert _kfp_selector(spec, "embed") == V6E_2X2
    container = spec["pipelineSpec"]["deploymentSpec"]["executors"]["exec-embed"]["container"]
    accelerator = container["resources"]["accelerator"]
    assert (accelerator["resourceType"], accelerator["resourceCount"]) == ("google.com/tpu", "4")


def test_a_pipeline_step_on_a_cpu_pool_selects_only_its_pool(spec: dict[str, Any]) -> None:
    assert _kfp_selector(spec, "report") == {POOL: "cpu"}


def test_a_predictor_asking_for_tpu_chips_is_refused(tmp_path: pathlib.Path) -> None:
    """No KServe runtime drives TPU chips: the variant is refused where it names the TPU pool."""
    validation = validate(
        ConfigSource(write(tmp_path, OWNED_STAGED + PROJECT + TPU_PREDICTOR), "mlops.yaml", None)
    )
    assert [d.to_text() for d in validation.diagnostics] == [
        "mlops.yaml:34:58: error E204: variant 'main' of endpoint 'api' runs on node pool 'host', but its "
        "runtime 'triton' (kserve-tritonserver) cannot use TPU chips\n"
        "  hint: serve it from a GPU or CPU pool: no KServe runtime mlopsctl deploys uses TPU chips"
    ]
