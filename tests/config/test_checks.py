"""Semantic checks: a small valid project, and one mistake at a time."""

from __future__ import annotations

import pathlib

import pytest
from check_cases_limits import LIMIT_CASES
from check_cases_names import NAME_CASES
from check_cases_references import REFERENCE_CASES
from check_cases_wiring import WIRING_CASES
from checks_base import SCORING, Case, base_config, diagnose, found, put
from helpers import write

from mlopsctl.api import validate
from mlopsctl.config.checks.names import bucket_name_problem, dns_label_problem
from mlopsctl.config.diagnostics import Severity
from mlopsctl.config.source import ConfigSource

CASES: dict[str, Case] = {**REFERENCE_CASES, **WIRING_CASES, **NAME_CASES, **LIMIT_CASES}


@pytest.mark.parametrize(
    "env, region", [("prod", "us-central1"), ("prod", "europe-west4"), ("dev", "us-central1")]
)
def test_base_config_is_clean(env: str, region: str) -> None:
    assert diagnose(base_config(), env, region) == []


@pytest.mark.parametrize("name", list(CASES))
def test_mistake_is_reported(name: str) -> None:
    mutate, expected = CASES[name]
    doc = base_config()
    mutate(doc)
    assert found(doc) == sorted(expected)


@pytest.mark.parametrize(
    ("region", "pools", "hint"),
    [
        ("us-centrl1", True, "did you mean 'us-central1'?"),
        ("us-centrall1", False, "did you mean 'us-central1'?"),
        ("eurpoe-west4", False, "did you mean 'europe-west4'?"),
        ("europe-west2", True, "list the zones of europe-west2 that offer the accelerators of node pools "),
        ("europe-west2", False, "if the region is intended, nothing needs to change"),
        ("asia-south1", False, "if the region is intended, nothing needs to change"),
        ("me-west1", False, "if the region is intended, nothing needs to change"),
        ("us-east5", True, "list the zones of us-east5 that offer the accelerators of node pools "),
    ],
)
def test_region_outside_the_catalog(region: str, pools: bool, hint: str) -> None:
    """A catalog cannot be complete: a warning naming its date; a suggestion for a likely typo."""
    doc = base_config()
    doc["environments"]["prod"]["regions"] = ["us-central1", "europe-west4", region]
    if not pools:
        for section in ("accelerators", "batchJobs"):
            del doc[section]
        for step in doc["pipelines"]["train"]["steps"].values():
            step.pop("resources", None)
        del doc["pipelines"]["train"]["nodePool"]
    (diag,) = diagnose(doc, "prod", region)
    assert (diag.code, diag.path) == ("W401", ("environments", "prod", "regions", 2))
    assert diag.severity is Severity.WARNING
    assert diag.hint is not None and diag.hint.startswith(hint)
    assert f"region '{region}' is not in the accelerator catalog of " in diag.message


@pytest.mark.parametrize(
    ("output_type", "operator", "value"),
    [
        ("float", ">=", 1),
        ("float", "<", 0.5),
        ("integer", "!=", 0),
        ("boolean", "==", True),
        ("string", "==", "ok"),
    ],
)
def test_condition_matching_the_output_type_is_accepted(
    output_type: str, operator: str, value: object
) -> None:
    doc = base_config()
    doc["pipelines"]["train"]["steps"]["train"]["outputs"]["auc"] = output_type
    doc["pipelines"]["train"]["steps"]["push"]["when"] = {
        "output": "train.auc",
        "operator": operator,
        "value": value,
    }
    assert diagnose(doc) == []


def test_gpu_missing_from_region_lists_regions_that_offer_it() -> None:
    doc = base_config()
    doc["environments"]["dev"]["regions"] = ["us-west1"]
    doc["accelerators"]["gpu-l4"]["accelerator"] = "nvidia-a100-80gb"
    (diag,) = diagnose(doc, "dev", "us-west1")
    assert (diag.code, diag.path) == ("E401", ("accelerators", "gpu-l4", "accelerator"))
    assert diag.hint is not None and "us-central1" in diag.hint and "us-west1" not in diag.hint


def test_zone_hint_lists_zones_that_offer_the_gpu() -> None:
    doc = base_config()
    doc["accelerators"]["gpu-l4"]["zones"] = ["us-central1-f"]
    (diag,) = diagnose(doc)
    assert diag.hint == "zones of us-central1 that offer it: us-central1-a, us-central1-b, us-central1-c"


def test_cycle_is_listed_in_order() -> None:
    doc = base_config()
    doc["pipelines"]["train"]["steps"]["ingest"]["dependsOn"] = ["push"]
    assert [d.message.rpartition(": ")[2] for d in diagnose(doc)] == [
        "ingest → push → train → ingest",
        "ingest → push → evaluate → ingest",
    ]


def test_promotion_cycle_is_listed_in_promotion_order() -> None:
    doc = base_config()
    doc["environments"]["dev"]["promotion"] = {"from": "prod"}
    (diag,) = diagnose(doc)
    assert diag.message.endswith("dev → prod → dev")


def test_unknown_name_hint_suggests_the_closest() -> None:
    doc = base_config()
    doc["pipelines"]["train"]["serviceAccount"] = "traner"
    (diag,) = diagnose(doc)
    assert diag.message == "service account 'traner' is not declared under security.serviceAccounts"
    assert diag.hint == "did you mean 'trainer'?"


def test_runtime_hint_names_runtimes_that_serve_the_format() -> None:
    doc = base_config()
    put(((*SCORING, "runtime"), "sklearn"))(doc)
    [diagnostic] = diagnose(doc)
    assert (
        diagnostic.message
        == "runtime 'sklearn' of endpoint 'scoring' cannot serve model 'fraud': it is an xgboost model"
    )
    assert diagnostic.hint == "use runtime xgboost, or leave 'runtime' out to default to one"


def test_unused_declarations_are_warnings() -> None:
    doc = base_config()
    doc["alertChannels"]["team"] = {"type": "email", "address": "team@example.com"}
    (diag,) = diagnose(doc)
    assert diag.severity is Severity.WARNING


def test_inference_service_hint_explains_the_limit() -> None:
    mutate, _ = CASES["inference service name"]
    doc = base_config()
    mutate(doc)
    (diag,) = diagnose(doc)
    assert diag.hint is not None and "KServe" in diag.hint and "63" in diag.hint


@pytest.mark.parametrize(
    "name, code",
    [
        ("my-bucket", None),
        ("data.example.com", None),
        ("ab", "E304"),
        ("-bucket", "E304"),
        ("bucket-", "E304"),
        ("my..bucket", "E304"),
        ("goog-data", "E304"),
        ("10.0.0.1", "E304"),
        ("a" * 63, None),
        ("a" * 64, "E404"),
        (".".join(["a" * 63] * 3), None),
        (".".join(["a" * 64, "b"]), "E404"),
    ],
)
def test_bucket_name_rules(name: str, code: str | None) -> None:
    problem = bucket_name_problem(name)
    assert (problem[0] if problem else None) == code


@pytest.mark.parametrize(
    "name, limit, code",
    [("fraud", 63, None), ("a" * 46, 45, "E404"), ("Fraud", 63, "E304"), ("fraud-", 63, "E304")],
)
def test_dns_label_rules(name: str, limit: int, code: str | None) -> None:
    problem = dns_label_problem(name, limit)
    assert (problem[0] if problem else None) == code


POOLS = """\
apiVersion: mlopsctl.dev/v1alpha1
kind: MLOpsProject
project:
  name: vision
environments:
  prod:
    gcpProject: acme-vision-prod
    regions: [us-central1]
accelerators:
  l4:
    type: gpu
    accelerator: nvidia-l4
    count: 1
    machineType: g2-standard-8
  v5e:
    type: tpu
    version: v5e
    topology: 2x4
    machineType: ct5lp-hightpu-4t
    zones: [us-central1-a]
security:
  kms:
    main: {}
  defaultKmsKey: main
"""


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # A GPU machine type of another family: n1 cannot carry L4s.
        ("machineType: g2-standard-8", "machineType: n1-standard-8", "mlops.yaml:14:18: error E402"),
        ("count: 1", "count: 3", "mlops.yaml:13:12: error E402"),
        # A GPU pool in a zone that does not offer its GPU.
        (
            "machineType: g2-standard-8\n",
            "machineType: g2-standard-8\n    zones: [us-central1-f]\n",
            "mlops.yaml:15:13: error E401",
        ),
        ("topology: 2x4", "topology: 3x3", "mlops.yaml:18:15: error E403"),
        # A TPU pool in a zone that does not offer it.
        ("[us-central1-a]", "[us-central1-c]", "mlops.yaml:20:13: error E401"),
        # A zone listed twice.
        ("[us-central1-a]", "[us-central1-a, us-central1-a]", "mlops.yaml:20:28: error E205"),
        # The cluster name: vision-of-a-very-large-retail-chain-prod-usc1 is 45 characters.
        ("name: vision", "name: vision-of-a-very-large-retail-chain", "mlops.yaml:4:9: error E404"),
        ("main: {}", "main: {location: us-east1}", "mlops.yaml:24:18: error E405"),
        ("  l4:\n", "  system:\n", "mlops.yaml:11:5: error E310"),
    ],
)
def test_pool_mistakes_point_at_their_line_and_column(
    tmp_path: pathlib.Path, old: str, new: str, expected: str
) -> None:
    assert old in POOLS
    path = write(tmp_path, POOLS.replace(old, new))
    diagnostics = validate(ConfigSource(path, "mlops.yaml", None)).diagnostics
    errors = [d.to_text() for d in diagnostics if d.severity is Severity.ERROR]
    assert [e.split(":", 4)[:4] for e in errors] == [expected.split(":")], errors


def test_pools_for_the_positioned_mistakes_are_valid(tmp_path: pathlib.Path) -> None:
    diagnostics = validate(ConfigSource(write(tmp_path, POOLS), "mlops.yaml", None)).diagnostics
    assert [d.code for d in diagnostics] == ["W301", "W301"]  # the pools are not used
