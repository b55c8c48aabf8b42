from __future__ import annotations

import dataclasses
import pathlib

import pytest
from helpers import write
from policy_helpers import PASSING, TODAY, assert_errors_at, edited, findings, where

from mlopsctl.api import compile_graphs, validate
from mlopsctl.compiler.iam import BUCKET_IAM_MEMBER
from mlopsctl.compiler.storage import BUCKET
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Resource
from mlopsctl.policies import PolicyContext, builtin_policies
from mlopsctl.policies.run import evaluate

NO_KMS = ("security:\n  kms:\n    data: {}\n  defaultKmsKey: data\n", "")
TWO_PROD_REGIONS = (
    "    regions: [us-central1]\nsecurity",
    "    regions: [us-central1, europe-west4]\nsecurity",
)

# (name, [(old, new) replacements of PASSING], [(id, marker the finding points at)]); severity is error.
CASES = [
    (
        "no customer-managed key",
        [NO_KMS],
        [("MLP005", "project:"), ("MLP005", "prod:"), ("MLP005", "raw: {}"), ("MLP005", "serving: {}")],
    ),
    (
        "a key in production only",
        [
            NO_KMS,
            (
                "    regions: [us-central1]\ndata",
                "    regions: [us-central1]\n    overrides:\n      security:\n"
                "        kms: {data: {}}\n        defaultKmsKey: data\ndata",
            ),
        ],
        [],
    ),
    ("a multi-region bucket", [("raw: {}", "raw: {location: EU}")], [("MLP006", "raw:")] * 2),
    (
        "an allowed multi-region",
        [
            ("raw: {}", "raw: {location: EU}"),
            ("monitors:", "policies: {allowedMultiRegions: [eu]}\nmonitors:"),
        ],
        [],
    ),
    (
        "a dataset in another region of production",
        [("serving: {}", "serving: {location: europe-west4}"), TWO_PROD_REGIONS],
        [("MLP006", "serving: {")],
    ),
    (
        "a key ring elsewhere",
        [("    data: {}\n", "    data: {}\n    archive: {location: europe-west1}\n")],
        [("MLP006", "archive:")] * 2,
    ),
]


@pytest.mark.parametrize(("changes", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_data_policies(
    tmp_path: pathlib.Path, changes: list[tuple[str, str]], expected: list[tuple[str, str]]
) -> None:
    assert_errors_at(tmp_path, edited(PASSING, changes), expected)


def test_residency_names_the_resource_and_the_regions(tmp_path: pathlib.Path) -> None:
    text = PASSING.replace("raw: {}", "raw: {location: EU}")
    dev, prod = findings(tmp_path, text)
    assert dev.address == "dev/us-central1/gcp:storage/bucket:Bucket/raw"
    assert dev.message == "Bucket 'raw' is located in EU, outside the regions of dev (us-central1)"
    assert prod.address == "prod/us-central1/gcp:storage/bucket:Bucket/raw"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"publicAccessPrevention": "inherited"},
            "bucket 'demo-dev-us-central1-raw' does not enforce public access prevention",
        ),
        (
            {"member": "allUsers"},
            "gcp:storage/bucketIAMMember:BucketIAMMember 'public' grants roles/storage.objectViewer "
            "to allUsers",
        ),
        (
            {"members": ["allAuthenticatedUsers"]},
            "gcp:storage/bucketIAMMember:BucketIAMMember 'public' grants roles/storage.objectViewer "
            "to allAuthenticatedUsers",
        ),
    ],
)
def test_public_access(tmp_path: pathlib.Path, change: dict[str, object], message: str) -> None:
    """Nothing mlops.yaml can say makes data public: the graph is altered as a template could."""
    validation = validate(ConfigSource(write(tmp_path, PASSING), "mlops.yaml", None))
    target = Target("dev", "us-central1")
    graph = compile_graphs(validation)[target]
    bucket = next(r for r in graph if r.type == BUCKET)
    if "publicAccessPrevention" in change:
        graph.resources[bucket.address] = dataclasses.replace(bucket, inputs={**bucket.inputs, **change})
        address = bucket.address
    else:
        inputs = {"bucket": bucket.inputs["name"], "role": "roles/storage.objectViewer", **change}
        address = graph.add(
            Resource(target, BUCKET_IAM_MEMBER, "public", inputs, source=bucket.source)
        ).address
    ctx = PolicyContext(target, graph, validation.targets[target].config)
    [found] = evaluate(ctx, builtin_policies(), validation.targets[target].sources, TODAY)
    assert (found.code, found.message, found.address) == ("MLP004", message, address)
    assert str(found.position) == where(PASSING, "raw: {}")


def test_cmek_in_production_covers_what_vertex_ai_keeps(tmp_path: pathlib.Path) -> None:
    """Placed on Vertex AI, the endpoint, its model versions, TensorBoard and metadata store are held to
    MLP005 too: encrypted with the default key, or a finding each."""
    vertex = edited(PASSING, [("security:", "placement: {endpoints: vertex, monitors: vertex}\nsecurity:")])
    vertex += "tracking: {experiments: true, tensorboard: true}\n"
    assert not [d for d in findings(tmp_path, vertex) if d.code == "MLP005"]
    found = [d.message for d in findings(tmp_path, edited(vertex, [NO_KMS])) if d.code == "MLP005"]
    for kind in (
        "aiendpoint 'score'",
        "modelversion 'm@v1'",
        "aitensorboard 'demo'",
        "aimetadatastore 'default'",
    ):
        assert any(message.startswith(f"{kind} is not encrypted") for message in found), (kind, found)
