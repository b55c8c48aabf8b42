"""Values the cloud would reject or that mislead: malformed CIDRs, BigQuery schemas BigQuery
refuses, requests no node can hold, runtimes that cannot use their pool, request logs that
cannot see gRPC. Each is a located error with its exact message."""

from __future__ import annotations

import json
import pathlib
from fractions import Fraction

import pytest
from helpers import write
from value_cases_bigquery import BIGQUERY_CASES, _tables
from value_cases_network import NETWORK_CASES
from value_cases_workloads import WORKLOAD_CASES

from mlopsctl.api import validate
from mlopsctl.config.checks.cidrs import cidr_problem
from mlopsctl.config.checks.resources import GIB, allocatable, quantity, shape
from mlopsctl.config.source import ConfigSource

BASE = """\
apiVersion: mlopsctl.dev/v1alpha1
kind: MLOpsProject
project:
  name: demo
  owner: ml-team@acme.example
  stageImage: registry.example/stages:1
environments:
  dev:
    gcpProject: acme-demo-dev
    regions: [us-central1]
data:
  datasets:
    logs: {}
accelerators:
  general:
    type: cpu
    machineType: n2-standard-4
    autoscaling: {minNodes: 1, maxNodes: 3}
  l4:
    type: gpu
    accelerator: nvidia-l4
  tpu:
    type: tpu
    version: v5e
    topology: 2x2
models:
  digits:
    framework: onnx
    versions:
      v1: {artifactUri: gs://demo-models/digits/v1}
  churn:
    framework: sklearn
    versions:
      v1: {artifactUri: gs://demo-models/churn/v1}
pipelines:
  train:
    steps:
      fit:
        image: registry.example/trainer:1
        command: [python, fit.py]
        resources: {nodePool: general, cpu: "3", memory: 12Gi}
endpoints:
  digits:
    protocols: [grpc]
    variants:
      main: {model: digits, version: v1, nodePool: l4, accelerators: 1}
  churn:
    variants:
      main: {model: churn, version: v1, nodePool: general}
    logging: {dataset: logs}
security:
  network:
    authorizedNetworks:
      - {name: office, cidr: 203.0.113.0/24}
"""

CASES: dict[str, tuple[list[tuple[str, str]], list[str]]] = {
    **NETWORK_CASES,
    **BIGQUERY_CASES,
    **WORKLOAD_CASES,
}


def _errors(folder: pathlib.Path, text: str) -> list[str]:
    result = validate(ConfigSource(write(folder, text), "mlops.yaml", None))
    return [d.to_text() for d in result.diagnostics if d.is_error]


@pytest.mark.parametrize("name", CASES)
def test_value_is_checked(tmp_path: pathlib.Path, name: str) -> None:
    text = BASE
    changes, expected = CASES[name]
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    assert _errors(tmp_path, text) == expected


def test_schema_file_columns_are_checked(tmp_path: pathlib.Path) -> None:
    schema = [
        {"name": "event_time", "type": "TIMESTAMP"},
        {"name": "Site", "type": "STRING"},
        {"name": "site", "type": "STRING"},
        {"name": "payload", "type": "RECORD", "fields": [{"name": "at", "type": "TIMESTAMP"}]},
        {"name": "extra", "type": "struct"},
    ]
    write(tmp_path, json.dumps(schema), "schemas/tx.json")
    body = "        tx:\n          schemaFile: schemas/tx.json\n          partitioning: {field: at}\n"
    old, new = _tables(body)
    assert _errors(tmp_path, BASE.replace(old, new, 1)) == [
        "mlops.yaml:17:23: error E205: table 'tx' of dataset 'features' declares STRUCT column 'extra' in "
        "schema file 'schemas/tx.json' without 'fields': BigQuery needs at least one nested column\n  hint: "
        "list its nested columns under 'fields'",
        "mlops.yaml:17:23: error E205: table 'tx' of dataset 'features' declares column 'site' twice in "
        "schema file 'schemas/tx.json' ('Site' and 'site' differ only in case): BigQuery compares column "
        "names without case\n  hint: rename or remove one of the two columns",
        "mlops.yaml:18:33: error E301: the partitioning field 'at' of table 'tx' of dataset 'features' "
        "is not a top-level column of its schema\n  hint: top-level columns: event_time, Site, site, "
        "payload, extra",
    ]


@pytest.mark.parametrize(
    ("cidr", "problem"),
    [
        ("10.0.0.0/8", None),
        ("0.0.0.0/0", None),
        (
            "10.1.0.0/8",
            (
                "'10.1.0.0/8' has host bits set: it is not the first address of its /8",
                "use the network address, 10.0.0.0/8",
            ),
        ),
        (
            "10.0.0.256/32",
            (
                "'10.0.0.256/32' is not an IPv4 address range (Octet 256 (> 255) not permitted in "
                "'10.0.0.256')",
                "give four octets of 0-255, e.g. 10.0.0.0/8",
            ),
        ),
        ("1.2.3.4/33", ("'1.2.3.4/33' has a prefix length over 32", "give a prefix length of 0-32")),
    ],
)
def test_cidr_problem(cidr: str, problem: tuple[str, str] | None) -> None:
    assert cidr_problem(cidr) == problem


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("500m", Fraction(1, 2)),
        ("2", Fraction(2)),
        ("1.5", Fraction(3, 2)),
        ("24Gi", 24 * GIB),
        ("1G", Fraction(10**9)),
        ("2x", None),
    ],
)
def test_quantity(text: str, amount: Fraction | None) -> None:
    assert quantity(text) == amount


@pytest.mark.parametrize(
    ("machine_type", "vcpus", "memory_gib", "cpu", "memory_mib"),
    [
        # GKE's tiers: CPU 6% of the first core, 1% of the second, 0.5% of cores 3-4, 0.25% above;
        # memory 25% of the first 4 GiB, 20% of the next 4, 10% of the next 8, 6% up to 128,
        # 2% above, and 100 MiB for eviction.
        ("e2-standard-4", 4, 16, Fraction(392, 100), 13621),
        ("n1-standard-1", 1, Fraction(15, 4), Fraction(94, 100), 2780),
        ("g2-standard-8", 8, 32, Fraction(791, 100), 29022),
        ("a2-highgpu-1g", 12, 85, Fraction(119, 10), 80038),
        ("ct5lp-hightpu-4t", 112, 192, Fraction(11165, 100), 185653),
        ("n2-standard-3", None, None, None, None),
        ("e2-medium", None, None, None, None),
    ],
)
def test_allocatable(
    machine_type: str,
    vcpus: int | None,
    memory_gib: Fraction | None,
    cpu: Fraction | None,
    memory_mib: int | None,
) -> None:
    machine = shape(machine_type)
    if vcpus is None:
        assert machine is None
        return
    assert machine is not None
    assert (machine.vcpus, machine.memory / GIB) == (vcpus, memory_gib)
    allocatable_cpu, allocatable_memory = allocatable(machine)
    assert (allocatable_cpu, int(allocatable_memory / 2**20)) == (cpu, memory_mib)
