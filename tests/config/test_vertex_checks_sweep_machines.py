"""Vertex AI endpoints: machine types with GPUs built in take exactly those, an accelerator type needs
its count, machine type suggestions stay in the family, and a misspelt placement is no GKE placement."""

from __future__ import annotations

import pathlib

import pytest
from helpers import GPU_API, MINIMAL, diagnostics

from mlopsctl.config.checks import CheckContext, run_checks
from mlopsctl.config.load import load_file
from mlopsctl.config.partial import beyond_cut, valid_part
from mlopsctl.config.resolve import resolve
from mlopsctl.config.target import Target
from mlopsctl.config.validate import validate_model
from mlopsctl.config.vertex_catalog import vertex_catalog

ONE_ENV = MINIMAL.split("  prod:\n")[0]
DATE = vertex_catalog().date
VARIANT = "      main: {model: clf, version: v1}\n"


def _vertex_variant(fields: str) -> str:
    """One environment serving 'api' on Vertex AI, its variant 'main' given ``fields`` (line 20 on)."""
    block = "      main:\n        model: clf\n        version: v1\n" + fields
    return ONE_ENV + GPU_API.replace(VARIANT, block) + "placement:\n  endpoints: vertex\n"


def _gpus(machine: str, count: int, gpu: str) -> str:
    return f"        machineType: {machine}\n        accelerators: {count}\n        acceleratorType: {gpu}\n"


def _errors(tmp_path: pathlib.Path, text: str) -> list[tuple[str, str | None]]:
    return [(m, h) for m, h in diagnostics(tmp_path, text) if " error " in m]


CASES = {
    "g2-standard-8 with 4 L4": (
        _gpus("g2-standard-8", 4, "NVIDIA_L4"),
        "21:23: error E402: machine type g2-standard-8 has 1 NVIDIA_L4 GPU built in, not 4",
        "set accelerators: 1 and acceleratorType: NVIDIA_L4, or for 4 NVIDIA_L4 GPUs use g2-standard-48",
    ),
    "g2-standard-8 without accelerators": (
        "        machineType: g2-standard-8\n",
        "20:22: error E402: machine type g2-standard-8 has 1 NVIDIA_L4 GPU built in, but the variant names "
        "no accelerators: Vertex AI needs them",
        "set accelerators: 1 and acceleratorType: NVIDIA_L4, or pick a machine type without GPUs, "
        "e.g. n1-standard-4",
    ),
    "a2-highgpu-2g with 4 A100": (
        _gpus("a2-highgpu-2g", 4, "NVIDIA_TESLA_A100"),
        "21:23: error E402: machine type a2-highgpu-2g has 2 NVIDIA_TESLA_A100 GPUs built in, not 4",
        "set accelerators from 1 to 2, or for 4 NVIDIA_TESLA_A100 GPUs use a2-highgpu-4g",
    ),
    "a2-ultragpu-1g with a 40GB A100": (
        _gpus("a2-ultragpu-1g", 1, "NVIDIA_TESLA_A100"),
        "22:26: error E402: machine type a2-ultragpu-1g has 1 NVIDIA_A100_80GB GPU built in, "
        "not NVIDIA_TESLA_A100",
        "set accelerators: 1 and acceleratorType: NVIDIA_A100_80GB, or for 1 NVIDIA_TESLA_A100 GPU use "
        "a2-highgpu-1g",
    ),
    "a3-highgpu-8g without a type": (
        "        machineType: a3-highgpu-8g\n        accelerators: 8\n",
        "21:23: error E402: machine type a3-highgpu-8g has 8 NVIDIA_H100_80GB GPUs built in: "
        "acceleratorType is missing",
        "set acceleratorType: NVIDIA_H100_80GB",
    ),
    "a type without its count": (
        "        machineType: n1-standard-4\n        acceleratorType: NVIDIA_TESLA_T4\n",
        "21:26: error E402: acceleratorType NVIDIA_TESLA_T4 without accelerators: "
        "Vertex AI would deploy no GPU",
        "set accelerators to the GPUs per replica, e.g. accelerators: 1 (Vertex AI takes the type and the "
        "count together and has no default count), or remove acceleratorType",
    ),
    "L4 on the default machine": (
        "        accelerators: 2\n        acceleratorType: NVIDIA_L4\n",
        "21:26: error E402: NVIDIA_L4 runs on g2 machines, not on n1-standard-2",
        "set machineType to g2-standard-24, with the GPU built in",
    ),
    "a TPU machine type": (
        "        machineType: ct5lp-hightpu-1t\n",
        f"20:22: error E401: Vertex AI offers no machine type 'ct5lp-hightpu-1t' (catalog of {DATE})",
        "use e.g. n1-standard-4 or g2-standard-8",
    ),
    "a misspelt machine type": (
        "        machineType: n1-standart-4\n",
        f"20:22: error E401: Vertex AI offers no machine type 'n1-standart-4' (catalog of {DATE})",
        "did you mean 'n1-standard-4'?",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_vertex_variant_gets_one_located_error_naming_the_fix(case: str, tmp_path: pathlib.Path) -> None:
    fields, message, hint = CASES[case]
    assert _errors(tmp_path, _vertex_variant(fields)) == [(message, hint)]


@pytest.mark.parametrize(
    "fields",
    [
        _gpus("g2-standard-8", 1, "NVIDIA_L4"),
        _gpus("g2-standard-48", 4, "NVIDIA_L4"),
        _gpus("a2-ultragpu-1g", 1, "NVIDIA_A100_80GB"),
        _gpus("a3-highgpu-8g", 8, "NVIDIA_H100_80GB"),
        _gpus("n1-standard-4", 2, "NVIDIA_TESLA_T4"),
        # fewer GPUs than built in: Vertex AI shares the machine between replicas (MachineSpec)
        _gpus("a2-highgpu-2g", 1, "NVIDIA_TESLA_A100"),
        _gpus("g2-standard-48", 1, "NVIDIA_L4"),
        _gpus("a3-highgpu-8g", 3, "NVIDIA_H100_80GB"),
    ],
)
def test_machines_with_their_gpus_are_valid(fields: str, tmp_path: pathlib.Path) -> None:
    assert _errors(tmp_path, _vertex_variant(fields)) == []


def test_built_in_gpus_are_not_asked_of_gke_endpoints(tmp_path: pathlib.Path) -> None:
    text = _vertex_variant("        machineType: g2-standard-8\n").replace(
        "  endpoints: vertex\n", "  endpoints: gke\n"
    )
    assert not [m for m, _ in _errors(tmp_path, text) if "E402" in m]


TYPO = (
    ONE_ENV.replace(
        "  name: demo\n", "  name: demo\n  owner: ml@acme.example\n  stageImage: reg.example/s:1\n"
    )
    + """\
placement:
  pipelines: vertx
pipelines:
  train:
    steps:
      fit:
        image: trainer:1
        command: [python, fit.py]
        resources: {cpu: "64", memory: 512Gi}
"""
)


def test_a_misspelt_placement_is_one_error_not_gke_node_pool_fits(tmp_path: pathlib.Path) -> None:
    """Reported in full by `validate` once config.project passes placement_known (see the report);
    the checks themselves drop what only the default placement would find."""
    path = tmp_path / "mlops.yaml"
    path.write_text(TYPO, encoding="utf-8")
    document, _ = load_file(path, "mlops.yaml")
    assert document is not None
    resolved, _ = resolve(document, Target("dev", "us-central1"))
    config, errors = validate_model(resolved.data, resolved.sources)
    assert config is None and [e.code for e in errors] == ["E204"]
    part, cut = valid_part(resolved.data, errors, resolved.sources)
    assert part is not None and cut == [("placement", "pipelines")]
    context = CheckContext(part, Target("dev", "us-central1"), tmp_path)
    assert [d.code for d in beyond_cut(run_checks(context), cut)] == ["E205", "E205"]  # guesses on GKE
    unknown = CheckContext(part, Target("dev", "us-central1"), tmp_path, placement_known=False)
    assert beyond_cut(run_checks(unknown), cut) == []


def test_validate_reports_a_misspelt_placement_alone(tmp_path: pathlib.Path) -> None:
    found = diagnostics(tmp_path, TYPO)
    assert [first.split(": ")[1] for first, _ in found] == ["error E204"]
