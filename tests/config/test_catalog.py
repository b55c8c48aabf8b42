"""The accelerator catalog: its data is consistent and its lookups answer what the checks ask."""

from __future__ import annotations

import json
import pathlib
from importlib import resources
from typing import get_args

import pytest
from helpers import MINIMAL, diagnostics

from mlopsctl.config import catalog
from mlopsctl.config.models.compute import GpuType, TpuVersion

REQUIRED_REGIONS = [
    "us-central1",
    "us-east1",
    "us-east4",
    "us-west1",
    "us-west4",
    "europe-west1",
    "europe-west4",
    "asia-east1",
    "asia-southeast1",
    "asia-northeast1",
]


def test_file_names_its_sources_and_date() -> None:
    raw = json.loads(resources.files("mlopsctl").joinpath("data/accelerators.json").read_text())
    assert raw["date"] == "2026-11-21"
    assert raw["source"] and all(url.startswith("https://cloud.google.com/") for url in raw["source"])
    assert catalog.catalog().notes


def test_required_regions_are_known() -> None:
    assert set(REQUIRED_REGIONS) <= set(catalog.regions())


def test_zones_belong_to_their_region() -> None:
    for region in catalog.regions():
        zones = catalog.zones(region)
        assert zones and all(z.startswith(f"{region}-") for z in zones)


def test_every_accelerator_of_the_language_is_in_the_catalog() -> None:
    data = catalog.catalog()
    assert set(data.gpus) == set(get_args(GpuType))
    assert set(data.tpus) == set(get_args(TpuVersion))
    offered_gpus = {g for r in data.regions.values() for z in r.zones.values() for g in z.gpus}
    offered_tpus = {t for r in data.regions.values() for z in r.zones.values() for t in z.tpus}
    assert offered_gpus == set(data.gpus)
    assert offered_tpus == set(data.tpus)


@pytest.mark.parametrize("gpu_type", get_args(GpuType))
def test_default_machine_types_carry_their_count(gpu_type: str) -> None:
    machine_types = catalog.gpu_machine_types(gpu_type)
    counts = catalog.gpu_counts(gpu_type)
    assert counts
    for count in counts:
        default = catalog.default_gpu_machine_type(gpu_type, count)
        assert default is not None and count in machine_types[default]


@pytest.mark.parametrize(
    "region, expected",
    [
        ("us-central1", ["us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"]),
        ("europe-west1", ["europe-west1-b", "europe-west1-c", "europe-west1-d"]),
        ("mars-north1", []),
    ],
)
def test_zones(region: str, expected: list[str]) -> None:
    assert catalog.zones(region) == expected


@pytest.mark.parametrize(
    "region, gpu_type, expected",
    [
        ("us-central1", "nvidia-l4", ["us-central1-a", "us-central1-b", "us-central1-c"]),
        ("us-east4", "nvidia-a100-80gb", ["us-east4-c"]),
        ("asia-east1", "nvidia-a100-80gb", []),
        ("mars-north1", "nvidia-l4", []),
    ],
)
def test_gpu_zones(region: str, gpu_type: str, expected: list[str]) -> None:
    assert catalog.gpu_zones(region, gpu_type) == expected


@pytest.mark.parametrize(
    "region, version, expected",
    [
        ("us-central1", "v5e", ["us-central1-a"]),
        ("europe-west4", "v6e", ["europe-west4-a"]),
        ("us-central2", "v4", ["us-central2-b"]),
        ("us-east4", "v5p", []),
    ],
)
def test_tpu_zones(region: str, version: str, expected: list[str]) -> None:
    assert catalog.tpu_zones(region, version) == expected


@pytest.mark.parametrize(
    "gpu_type, machine_type, counts",
    [
        ("nvidia-l4", "g2-standard-4", (1,)),
        ("nvidia-l4", "g2-standard-48", (4,)),
        ("nvidia-tesla-t4", "n1-standard-32", (1, 2, 4)),
        ("nvidia-tesla-t4", "n1-standard-64", (4,)),
        ("nvidia-tesla-v100", "n1-standard-16", (2, 4, 8)),
        ("nvidia-tesla-a100", "a2-megagpu-16g", (16,)),
        ("nvidia-h200-141gb", "a3-ultragpu-8g", (8,)),
    ],
)
def test_gpu_machine_types(gpu_type: str, machine_type: str, counts: tuple[int, ...]) -> None:
    assert catalog.gpu_machine_types(gpu_type)[machine_type] == counts


@pytest.mark.parametrize(
    "gpu_type, count, expected",
    [
        ("nvidia-l4", 1, "g2-standard-4"),
        ("nvidia-l4", 2, "g2-standard-24"),
        ("nvidia-l4", 3, None),
        ("nvidia-tesla-t4", 4, "n1-standard-16"),
        ("nvidia-tesla-t4", 8, None),
        ("nvidia-a100-80gb", 8, "a2-ultragpu-8g"),
        ("nvidia-h100-mega-80gb", 8, "a3-megagpu-8g"),
        ("nvidia-h100-mega-80gb", 1, None),
        ("nvidia-unknown", 1, None),
    ],
)
def test_default_gpu_machine_type(gpu_type: str, count: int, expected: str | None) -> None:
    assert catalog.default_gpu_machine_type(gpu_type, count) == expected


def test_tpu_topologies_are_ordered_by_size() -> None:
    assert catalog.tpu_topologies("v5e") == ["1x1", "2x2", "2x4", "4x4", "4x8", "8x8", "8x16", "16x16"]
    assert catalog.tpu_topologies("v5p")[0] == "2x2x1"
    assert catalog.tpu_topologies("v9") == []


@pytest.mark.parametrize(
    "version, topology, machine_type, expected",
    [
        ("v5e", "1x1", None, ("ct5lp-hightpu-1t", 1, 1)),
        ("v5e", "2x4", None, ("ct5lp-hightpu-8t", 8, 1)),
        ("v5e", "2x4", "ct5lp-hightpu-4t", ("ct5lp-hightpu-4t", 4, 2)),
        ("v6e", "4x4", None, ("ct6e-standard-4t", 4, 4)),
        ("v5p", "4x4x4", None, ("ct5p-hightpu-4t", 4, 16)),
        ("v4", "2x2x1", None, ("ct4p-hightpu-4t", 4, 1)),
        ("v5e", "2x2", "ct5lp-hightpu-8t", None),
        ("v5e", "3x3", None, None),
        ("v9", "2x2", None, None),
    ],
)
def test_tpu_machine_type(
    version: str, topology: str, machine_type: str | None, expected: tuple[str, int, int] | None
) -> None:
    found = catalog.tpu_machine_type(version, topology, machine_type)
    assert (found and (found.machine_type, found.chips_per_host, found.hosts)) == expected
    if found is not None:
        assert found.multi_host == (found.hosts > 1)


def test_tpu_gke_accelerator_labels() -> None:
    assert catalog.tpu_gke_accelerator("v5e") == "tpu-v5-lite-podslice"
    assert catalog.tpu_gke_accelerator("v6e") == "tpu-v6e-slice"
    assert catalog.tpu_gke_accelerator("v9") is None


SEOUL = MINIMAL.replace("regions: [us-central1, europe-west4]", "regions: [us-central1, asia-northeast3]")
WARNING = (
    "11:28: warning W401: region 'asia-northeast3' is not in the accelerator catalog of 2026-11-21"
    "; the zones and accelerators of its node pools are not checked (in prod/asia-northeast3)"
)


@pytest.mark.parametrize(
    ("pools", "expected"),
    [
        (
            "",
            [
                (
                    "11:28: warning W401: region 'asia-northeast3' is not in the accelerator catalog of "
                    "2026-11-21 (in prod/asia-northeast3)",
                    "if the region is intended, nothing needs to change",
                )
            ],
        ),
        (
            "  gpu: {type: gpu, accelerator: nvidia-l4, zones: [asia-northeast3-a]}\n",
            [(WARNING, "if the region is intended, nothing needs to change")],
        ),
        (
            "  gpu: {type: gpu, accelerator: nvidia-l4}\n",
            [
                (
                    WARNING,
                    "list the zones of asia-northeast3 that offer the accelerators of node pools gpu: "
                    "without zones they are placed in every zone of the cluster",
                )
            ],
        ),
        (
            "  cpu: {type: cpu, machineType: e2-standard-4, zones: [us-central1-a, asia-northeast3-b]}\n",
            [
                (WARNING, "if the region is intended, nothing needs to change"),
                (
                    "13:56: error E401: zone 'us-central1-a' of node pool 'cpu' is not in region "
                    "'asia-northeast3' (in prod/asia-northeast3)",
                    "zones of asia-northeast3 are named asia-northeast3-a, asia-northeast3-b, ...",
                ),
            ],
        ),
        (
            "  tpu: {type: tpu, version: v5e, topology: 4x4}\n",
            [
                (
                    WARNING,
                    "list the zones of asia-northeast3 that offer the accelerators of node pools tpu: "
                    "without zones they are placed in every zone of the cluster",
                ),
                (
                    "13:8: error E403: a 4x4 TPU v5e slice must be in one zone, "
                    "and region 'asia-northeast3' is not in the accelerator catalog of 2026-11-21 "
                    "to choose it (node pool 'tpu') "
                    "(in prod/asia-northeast3)",
                    "list the zone of asia-northeast3 that offers TPU v5e under zones",
                ),
            ],
        ),
    ],
)
def test_region_outside_the_catalog_is_a_warning_naming_its_date(
    tmp_path: pathlib.Path, pools: str, expected: list[tuple[str, str]]
) -> None:
    text = SEOUL + (f"accelerators:\n{pools}" if pools else "")
    assert [d for d in diagnostics(tmp_path, text) if "prod/asia-northeast3)" in d[0]] == expected


def test_likely_typo_is_suggested_but_not_an_error(tmp_path: pathlib.Path) -> None:
    text = (
        SEOUL.replace("asia-northeast3", "us-centrall1")
        + "accelerators:\n  gpu: {type: gpu, accelerator: nvidia-l4}\n"
    )
    [(message, hint)] = [d for d in diagnostics(tmp_path, text) if "W401" in d[0]]
    assert message.startswith("11:28: warning W401: region 'us-centrall1' is not in the accelerator catalog")
    assert hint == "did you mean 'us-central1'?"
