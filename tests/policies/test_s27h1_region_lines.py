"""A finding that each region of an environment repeats word for word names its region, so that no two
lines of ``check`` read the same; each keeps its own address and SARIF fingerprint."""

from __future__ import annotations

import json
import pathlib

import pytest
from api_helpers import sarif
from helpers import run, write
from policy_helpers import where

TWO_REGIONS = """\
apiVersion: mlopsctl.dev/v1alpha1
kind: MLOpsProject
project:
  name: demo
  stageImage: registry.example/stages:1
environments:
  prod:
    gcpProject: acme-demo-prod
    regions: [us-central1, europe-west4]
data:
  buckets:
    raw: {}
"""
"""Production in two regions, without a customer-managed key: MLP005 finds each region's resources."""
BUCKET = "bucket 'raw' is not encrypted with a customer-managed key in prod"


@pytest.fixture
def here(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_each_region_is_named_where_the_lines_would_repeat(here: pathlib.Path) -> None:
    code, _, out = run("check", write(here, TWO_REGIONS).name)
    assert code == 1
    lines = [line for line in out.splitlines() if " MLP005: " in line]
    assert len(lines) == len(set(lines)) == 6  # repository, cluster and bucket, in each region
    at = where(TWO_REGIONS, "raw: {}")
    assert [line for line in lines if line.startswith(at)] == [
        f"{at}: error MLP005: {BUCKET}/europe-west4",
        f"{at}: error MLP005: {BUCKET}/us-central1",
    ]
    # the clusters' lines differ by their names already: they keep the environment alone
    assert sum(line.endswith("customer-managed key in prod") for line in lines) == 2


def test_one_region_keeps_the_environment_alone(here: pathlib.Path) -> None:
    text = TWO_REGIONS.replace("[us-central1, europe-west4]", "[us-central1]")
    _, _, out = run("check", write(here, text).name)
    assert f"{where(text, 'raw: {}')}: error MLP005: {BUCKET}\n" in out


def test_sarif_results_keep_their_resource_and_a_stable_unique_fingerprint(here: pathlib.Path) -> None:
    file = write(here, TWO_REGIONS).relative_to(here)
    results = json.loads(sarif(file))["runs"][0]["results"]
    bucket = {
        r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]: r["message"]["text"]
        for r in results
        if r["message"]["text"].startswith("bucket 'raw'")
    }
    assert sorted(bucket) == [
        "prod/europe-west4/gcp:storage/bucket:Bucket/raw",
        "prod/us-central1/gcp:storage/bucket:Bucket/raw",
    ]
    assert len(set(bucket.values())) == 2
    prints = [r["partialFingerprints"]["mlopsctlFinding/v1"] for r in results]
    assert len(set(prints)) == len(prints)
    again = json.loads(sarif(file))["runs"][0]["results"]
    assert [r["partialFingerprints"]["mlopsctlFinding/v1"] for r in again] == prints
