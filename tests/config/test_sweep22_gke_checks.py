"""Checks a sweep found missing on the GKE side: a CPU node pool on a machine type with accelerators
built in (E402), and did-you-mean hints for accelerator types spelled in the other case or with the
other separator."""

from __future__ import annotations

import pathlib

import pytest
from helpers import DEV_ONLY, GPU_API, diagnostics

from mlopsctl.config.diagnostics import did_you_mean
from mlopsctl.config.vertex_catalog import vertex_catalog

BASE = DEV_ONLY


def _pool(spec: str) -> str:
    return BASE + f"accelerators:\n  web:\n{spec}"


CPU_ON_ACCELERATORS = {
    "g2-standard-8": (
        "1 nvidia-l4 GPU",
        "GPU",
        "declare it as a GPU pool (type: gpu, accelerator: nvidia-l4, count: 1), or choose a machine type "
        "without accelerators, e.g. n2-standard-8",
    ),
    "a2-highgpu-1g": (
        "1 nvidia-tesla-a100 GPU",
        "GPU",
        "declare it as a GPU pool (type: gpu, accelerator: nvidia-tesla-a100, count: 1), or choose a "
        "machine type without accelerators, e.g. n2-standard-8",
    ),
    "a3-highgpu-8g": (
        "8 nvidia-h100-80gb GPUs",
        "GPU",
        "declare it as a GPU pool (type: gpu, accelerator: nvidia-h100-80gb, count: 8), or choose a "
        "machine type without accelerators, e.g. n2-standard-8",
    ),
    "g2-standard-32": (
        "1 nvidia-l4 GPU",
        "GPU",
        "declare it as a GPU pool (type: gpu, accelerator: nvidia-l4, count: 1), or choose a machine type "
        "without accelerators, e.g. n2-standard-32",
    ),
    "ct5lp-hightpu-4t": (
        "TPU v5e chips",
        "TPU",
        "declare it as a TPU pool (type: tpu, version: v5e, topology: 2x2 or larger), or choose a machine "
        "type without accelerators, e.g. n2-standard-8",
    ),
}


@pytest.mark.parametrize("machine", sorted(CPU_ON_ACCELERATORS))
def test_a_cpu_pool_on_a_machine_with_accelerators_built_in_is_refused(
    tmp_path: pathlib.Path, machine: str
) -> None:
    has, kind, hint = CPU_ON_ACCELERATORS[machine]
    lacks = (
        "no GPU taint and no GPU driver installation"
        if kind == "GPU"
        else "no TPU taint and no slice topology"
    )
    found = diagnostics(tmp_path, _pool(f"    type: cpu\n    machineType: {machine}\n"))
    assert found == [
        (
            f"12:18: error E402: node pool 'web' is a CPU pool on machine type '{machine}', which has {has} "
            f"built in: the pool gets {lacks}, so pods without {kind} requests land on its nodes",
            hint,
        ),
    ]


@pytest.mark.parametrize("machine", ["n1-standard-8", "n1-highmem-96", "e2-standard-4", "n2-standard-16"])
def test_a_cpu_pool_on_a_machine_without_accelerators_of_its_own_is_accepted(
    tmp_path: pathlib.Path, machine: str
) -> None:
    """N1 takes GPUs only when a pool attaches them: as a CPU pool it has none."""
    found = diagnostics(tmp_path, _pool(f"    type: cpu\n    machineType: {machine}\n"))
    assert [first for first, _ in found if " E" in first] == []


def test_a_gpu_pool_on_a_machine_that_cannot_take_its_gpu_stays_refused(tmp_path: pathlib.Path) -> None:
    found = diagnostics(
        tmp_path, _pool("    type: gpu\n    accelerator: nvidia-l4\n    machineType: a2-highgpu-1g\n")
    )
    assert [d for d in found if " error " in d[0]] == [
        (
            "13:18: error E402: machine type 'a2-highgpu-1g' cannot carry nvidia-l4 GPUs",
            "machine types for 1 nvidia-l4 GPU: g2-standard-4, g2-standard-8, g2-standard-12, "
            "g2-standard-16, g2-standard-32",
        )
    ]


def test_a_gke_accelerator_in_vertex_spelling_gets_the_gke_spelling(tmp_path: pathlib.Path) -> None:
    found = diagnostics(tmp_path, _pool("    type: gpu\n    accelerator: NVIDIA_L4\n"))
    assert found == [
        (
            "12:18: error E204: invalid value 'NVIDIA_L4' for accelerators.web.accelerator",
            "did you mean 'nvidia-l4'?",
        )
    ]


@pytest.mark.parametrize(
    ("written", "wanted"),
    [
        ("nvidia-tesla-t4", "NVIDIA_TESLA_T4"),
        ("nvidia_l4", "NVIDIA_L4"),
        ("Nvidia-Tesla-P4", "NVIDIA_TESLA_P4"),
    ],
)
def test_a_vertex_accelerator_in_gke_spelling_gets_the_vertex_spelling(
    tmp_path: pathlib.Path, written: str, wanted: str
) -> None:
    variant = f"main: {{model: clf, version: v1, accelerators: 1, acceleratorType: {written}}}"
    text = (
        BASE
        + "placement:\n  endpoints: vertex\n"
        + GPU_API.replace("main: {model: clf, version: v1}", variant)
    )
    found = diagnostics(tmp_path, text)
    assert [(first.partition(" error ")[2], hint) for first, hint in found] == [
        (
            f"E401: Vertex AI offers no accelerator type '{written}' (catalog of {vertex_catalog().date})",
            f"did you mean '{wanted}'?",
        )
    ]


def test_the_same_spelling_but_for_case_and_separators_beats_a_closer_string() -> None:
    """``nvidia-tesla-p4`` is one letter from ``nvidia-tesla-t4``, but it is ``NVIDIA_TESLA_P4`` spelled
    the GKE way."""
    assert (
        did_you_mean("nvidia-tesla-p4", ["NVIDIA_TESLA_P4", "nvidia-tesla-t4"])
        == "did you mean 'NVIDIA_TESLA_P4'?"
    )
    assert did_you_mean("NVIDIA-L4", ["nvidia_l4", "NVIDIA_L40"]) == "did you mean 'nvidia_l4'?"


@pytest.mark.parametrize(
    ("word", "choices", "expected"),
    [
        ("maxReplica", ["maxReplicas", "minReplicas"], "did you mean 'maxReplicas'?"),
        ("PROD", ["prod", "dev"], "did you mean 'prod'?"),
        ("staging", ["prod", "dev"], None),
        ("a-b", ["A_B", "a_b"], "did you mean 'a_b'?"),
    ],
)
def test_other_suggestions_are_unchanged(word: str, choices: list[str], expected: str | None) -> None:
    assert did_you_mean(word, choices) == expected
