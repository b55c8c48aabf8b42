"""What one Vertex AI machine holds: a pipeline step's CPUs and memory within what Vertex AI Pipelines gives
a step, GPU counts some machine carries (steps and models deployed on n1), CPUs and memory that fit a
machine with the step's GPUs, and an n1 machine type no larger than those carrying the variant's GPUs."""

from __future__ import annotations

import json
import pathlib
from importlib import resources

import pytest
from helpers import DEV_ONLY, GPU_API, WITH_DATA, diagnostics, owned

from mlopsctl.config.checks.resources import shape
from mlopsctl.config.vertex_catalog import vertex_catalog

DATE = vertex_catalog().date
MEMORY = "Vertex AI Pipelines gives a step at most 624 GB of memory (624Gi)"
ON_GKE = "or place pipelines on GKE (placement.pipelines: gke, per environment under overrides)"
STEP = """\
placement: {pipelines: vertex}
pipelines:
  train:
    steps:
      fit:
        image: trainer:1
        command: [python]
"""


def _step(resources: str) -> str:
    """A pipeline on Vertex AI whose one step has ``resources`` (a flow mapping), on the last line."""
    return owned(WITH_DATA) + STEP + f"        resources: {resources}\n"


def _errors(tmp_path: pathlib.Path, text: str) -> list[tuple[str, str | None]]:
    return [(m, h) for m, h in diagnostics(tmp_path, text) if " error " in m]


def _col(text: str, value: str) -> str:
    """``LINE:COLUMN`` of ``value`` on the step's ``resources`` line (the last of ``text``)."""
    lines = text.splitlines()
    return f"{len(lines)}:{lines[-1].index(value) + 1}"


STEP_CASES = {
    "200 CPUs": (
        '{cpu: "200", memory: 100Gi}',
        '"200"',
        f"E401: Vertex AI Pipelines runs a step on at most 96 CPUs, not 200 (catalog of {DATE})",
        f"set cpu to 96 or less, {ON_GKE}",
    ),
    "5000Gi": (
        '{cpu: "8", memory: 5000Gi}',
        "5000Gi",
        f"E401: {MEMORY}, not 5000Gi (catalog of {DATE})",
        f"set memory to 624Gi or less, {ON_GKE}",
    ),
    "625Gi": (
        "{memory: 625Gi}",
        "625Gi",
        f"E401: {MEMORY}, not 625Gi (catalog of {DATE})",
        f"set memory to 624Gi or less, {ON_GKE}",
    ),
    "3 L4": (
        "{accelerators: 3, acceleratorType: NVIDIA_L4}",
        "3",
        "E402: a Vertex AI machine carries 1, 2, 4 or 8 NVIDIA_L4 GPUs, not 3",
        "set accelerators to 1, 2, 4 or 8",
    ),
    "3 A100": (
        '{accelerators: 3, acceleratorType: NVIDIA_TESLA_A100, cpu: "12", memory: 80Gi}',
        "3",
        "E402: a Vertex AI machine carries 1, 2, 4, 8 or 16 NVIDIA_TESLA_A100 GPUs, not 3",
        "set accelerators to 1, 2, 4, 8 or 16",
    ),
    "3 T4": (
        "{accelerators: 3, acceleratorType: NVIDIA_TESLA_T4}",
        "3",
        "E402: a Vertex AI machine carries 1, 2 or 4 NVIDIA_TESLA_T4 GPUs, not 3",
        "set accelerators to 1, 2 or 4",
    ),
    "H100 without a count": (
        "{acceleratorType: NVIDIA_H100_80GB}",
        "NVIDIA_H100_80GB",
        "E402: a Vertex AI machine carries 8 NVIDIA_H100_80GB GPUs, not the 1 a step with acceleratorType "
        "but no accelerators gets",
        "set accelerators: 8",
    ),
    "1 L4 with 33 CPUs": (
        '{accelerators: 1, acceleratorType: NVIDIA_L4, cpu: "33"}',
        '"33"',
        "E402: no Vertex AI machine with 1 NVIDIA_L4 GPU has 33 CPUs: the largest, g2-standard-32, has "
        "32 vCPUs and 128 GB",
        "set cpu to 32 or less, or set accelerators: 4 (g2-standard-48 has 48 vCPUs and 192 GB)",
    ),
    "2 A100 with 200Gi": (
        "{accelerators: 2, acceleratorType: NVIDIA_TESLA_A100, memory: 200Gi}",
        "200Gi",
        "E402: no Vertex AI machine with 2 NVIDIA_TESLA_A100 GPUs has 200Gi of memory: the largest, "
        "a2-highgpu-2g, has 24 vCPUs and 170 GB",
        "set memory to 170Gi or less, or set accelerators: 4 (a2-highgpu-4g has 48 vCPUs and 340 GB)",
    ),
}


@pytest.mark.parametrize("case", sorted(STEP_CASES))
def test_a_step_no_vertex_machine_fits_is_refused_where_written(case: str, tmp_path: pathlib.Path) -> None:
    written, value, message, hint = STEP_CASES[case]
    text = _step(written)
    assert _errors(tmp_path, text) == [(f"{_col(text, value)}: error {message}", hint)]
    on_gke = text.replace("placement: {pipelines: vertex}\n", "")
    assert not [m for m, _ in _errors(tmp_path, on_gke) if "Vertex AI" in m]  # GKE node pools decide


def test_one_t4_with_96_cpus_and_600gi_is_refused_twice(tmp_path: pathlib.Path) -> None:
    text = _step('{accelerators: 1, acceleratorType: NVIDIA_TESLA_T4, cpu: "96", memory: 600Gi}')
    more = "or set accelerators: 4 (n1-highmem-96 has 96 vCPUs and 624 GB)"
    cpu = _col(text, '"96"')
    assert _errors(tmp_path, text) == [
        (
            f"{cpu}: error E402: no Vertex AI machine with 1 NVIDIA_TESLA_T4 GPU has 96 "
            "CPUs: the largest, n1-highmem-32, has 32 vCPUs and 208 GB",
            f"set cpu to 32 or less, {more}",
        ),
        (
            f"{_col(text, '600Gi')}: error E402: no Vertex AI machine with 1 NVIDIA_TESLA_T4 GPU has "
            "600Gi of memory: the largest, n1-highmem-32, has 32 vCPUs and 208 GB",
            f"set memory to 208Gi or less, {more}",
        ),
    ]


@pytest.mark.parametrize(
    "written",
    [
        '{cpu: "96", memory: 624Gi}',
        '{cpu: "500m", memory: 1Gi}',
        '{accelerators: 1, acceleratorType: NVIDIA_L4, cpu: "32", memory: 128Gi}',
        '{accelerators: 4, acceleratorType: NVIDIA_TESLA_T4, cpu: "96", memory: 624Gi}',
        '{accelerators: 16, acceleratorType: NVIDIA_TESLA_A100, cpu: "96", memory: 600Gi}',
        "{accelerators: 8, acceleratorType: NVIDIA_H100_80GB}",
        "{acceleratorType: NVIDIA_TESLA_T4}",
        "{accelerators: 4, acceleratorType: NVIDIA_TESLA_P100}",
    ],
)
def test_a_step_some_vertex_machine_fits_is_valid(written: str, tmp_path: pathlib.Path) -> None:
    assert _errors(tmp_path, _step(written)) == []


def _variant(fields: str) -> str:
    """Endpoint 'api' on Vertex AI, its variant 'main' given ``fields`` (line 20 on)."""
    block = "      main:\n        model: clf\n        version: v1\n" + fields
    variant = "      main: {model: clf, version: v1}\n"
    return DEV_ONLY + GPU_API.replace(variant, block) + "placement:\n  endpoints: vertex\n"


def _gpus(machine: str, count: int, gpu: str) -> str:
    return f"        machineType: {machine}\n        accelerators: {count}\n        acceleratorType: {gpu}\n"


VARIANT_CASES = {
    "3 T4 on n1-standard-8": (
        _gpus("n1-standard-8", 3, "NVIDIA_TESLA_T4"),
        "21:23: error E402: a Vertex AI machine carries 1, 2 or 4 NVIDIA_TESLA_T4 GPUs, not 3",
        "set accelerators to 1, 2 or 4",
    ),
    "1 V100 on n1-standard-16": (
        _gpus("n1-standard-16", 1, "NVIDIA_TESLA_V100"),
        "20:22: error E402: machine type n1-standard-16 (16 vCPUs, 60 GB) is larger than any that carries "
        "1 NVIDIA_TESLA_V100 GPU: the largest is n1-highmem-8 (8 vCPUs, 52 GB)",
        "set accelerators to 2, 4 or 8, or pick a machine type of at most 8 vCPUs, e.g. n1-standard-8",
    ),
    "8 L4 on g2-standard-48": (
        _gpus("g2-standard-48", 8, "NVIDIA_L4"),
        "21:23: error E402: machine type g2-standard-48 has 4 NVIDIA_L4 GPUs built in, not 8",
        "set accelerators from 1 to 4, or for 8 NVIDIA_L4 GPUs use g2-standard-96",
    ),
}


@pytest.mark.parametrize("case", sorted(VARIANT_CASES))
def test_a_deployed_model_no_machine_carries_is_refused(case: str, tmp_path: pathlib.Path) -> None:
    fields, message, hint = VARIANT_CASES[case]
    assert _errors(tmp_path, _variant(fields)) == [(message, hint)]


@pytest.mark.parametrize(
    "fields",
    [
        _gpus("n1-standard-32", 1, "NVIDIA_TESLA_T4"),
        _gpus("n1-standard-2", 8, "NVIDIA_TESLA_V100"),
        _gpus("n1-standard-8", 1, "NVIDIA_TESLA_V100"),
        _gpus("g2-standard-48", 1, "NVIDIA_L4"),
        _gpus("g2-standard-96", 3, "NVIDIA_L4"),
    ],
)
def test_a_deployed_model_some_machine_carries_is_valid(fields: str, tmp_path: pathlib.Path) -> None:
    assert _errors(tmp_path, _variant(fields)) == []


def _gke_catalog() -> dict[str, dict[str, dict[str, list[int]]]]:
    text = resources.files("mlopsctl").joinpath("data/accelerators.json").read_text(encoding="utf-8")
    gpus = json.loads(text)["gpus"]
    return {g: {m: spec["counts"] for m, spec in v["machineTypes"].items()} for g, v in gpus.items()}


@pytest.mark.parametrize("gpu", sorted(vertex_catalog().gpu_counts))
def test_vertex_gpu_counts_agree_with_the_gke_catalog(gpu: str) -> None:
    """Each count's named machine carries it and is the largest of those that do (accelerators.json and
    machines.json hold the Compute Engine tables both follow)."""
    counts = vertex_catalog().gpu_counts[gpu]
    carriers = _gke_catalog().get(gpu.lower().replace("_", "-"))
    if carriers is None:  # P100: GKE's catalog does not list it
        assert set(counts.values()) == {None}
        return
    for count, machine in counts.items():
        assert machine is not None and count in carriers[machine]
        largest = shape(machine)
        assert largest is not None
        for other, carried in carriers.items():
            found = shape(other)
            if count in carried and found is not None:
                assert (found.vcpus, found.memory) <= (largest.vcpus, largest.memory), (gpu, count, other)
                assert found.memory <= largest.memory, (gpu, count, other)
    built_in = {c for g, c in vertex_catalog().built_in_gpus.values() if g == gpu}
    assert built_in <= set(counts)
