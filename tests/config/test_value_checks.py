"""Values the cloud would reject or that mislead: malformed CIDRs, BigQuery schemas BigQuery
refuses, requests no node can hold, runtimes that cannot use their pool, request logs that
cannot see gRPC. Each is a located error with its exact message."""

from __future__ import annotations

import json
import pathlib
from fractions import Fraction

import pytest
from helpers import write

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

NETWORK = "    authorizedNetworks:\n"
"""Where the network cases add settings to security.network."""
SHARED_VPC = """\
    network: projects/host/global/networks/vpc
    subnetwork: projects/host/regions/{region}/subnetworks/ml
    podsRange: pods
    servicesRange: services
"""
TABLES = "    logs: {}\n"
"""Where the BigQuery cases add a dataset with tables."""


def _tables(body: str) -> tuple[str, str]:
    return TABLES, TABLES + "    features:\n      tables:\n" + body


TX_SCHEMA = """\
        tx:
          schema:
            - {name: event_time, type: TIMESTAMP}
            - {name: event_date, type: DATE}
            - {name: amount, type: FLOAT64}
            - {name: site, type: STRING}
            - {name: tags, type: STRING, mode: REPEATED}
            - name: payload
              type: RECORD
              fields:
                - {name: id, type: STRING}
"""

CASES: dict[str, tuple[list[tuple[str, str]], list[str]]] = {
    "the base project is clean": ([], []),
    "authorized network with host bits": (
        [("cidr: 203.0.113.0/24", "cidr: 203.0.113.7/24")],
        [
            "mlops.yaml:54:30: error E205: authorized network 'office': '203.0.113.7/24' has host bits "
            "set: it is not the first address of its /24\n  hint: use the network address, "
            "203.0.113.0/24",
        ],
    ),
    "authorized network with an octet over 255": (
        [("cidr: 203.0.113.0/24", "cidr: 203.0.313.0/24")],
        [
            "mlops.yaml:54:30: error E205: authorized network 'office': '203.0.313.0/24' is not an "
            "IPv4 address range (Octet 313 (> 255) not permitted in '203.0.313.0')\n  hint: give four "
            "octets of 0-255, e.g. 10.0.0.0/8",
        ],
    ),
    "authorized network with a prefix over 32": (
        [("cidr: 203.0.113.0/24", "cidr: 203.0.113.0/40")],
        [
            "mlops.yaml:54:30: error E205: authorized network 'office': '203.0.113.0/40' has a prefix "
            "length over 32\n  hint: give a prefix length of 0-32",
        ],
    ),
    "masterCidr with host bits": (
        [("    authorizedNetworks:\n", "    masterCidr: 172.16.0.8/28\n    authorizedNetworks:\n")],
        [
            "mlops.yaml:53:17: error E205: masterCidr: '172.16.0.8/28' has host bits set: it is not "
            "the first address of its /28\n  hint: use the network address, 172.16.0.0/28",
        ],
    ),
    "masterCidr that is not a /28": (
        [("    authorizedNetworks:\n", "    masterCidr: 172.16.0.0/24\n    authorizedNetworks:\n")],
        [
            "mlops.yaml:53:17: error E205: masterCidr '172.16.0.0/24' is a /24, but GKE takes a /28 "
            "for the control plane\n  hint: use a /28, e.g. 172.16.0.0/28",
        ],
    ),
    "subnetwork in another region than the cluster": (
        [(NETWORK, SHARED_VPC.format(region="europe-west1") + NETWORK)],
        [
            "mlops.yaml:54:17: error E405: subnetwork 'projects/host/regions/europe-west1/subnetworks/ml' "
            "is in europe-west1, but the cluster is in us-central1\n  hint: write ${region} in the path, "
            "or set the subnetwork per region (regionOverrides)",
        ],
    ),
    "subnetwork in the cluster's region": ([(NETWORK, SHARED_VPC.format(region="${region}") + NETWORK)], []),
    "Shared VPC network without secondary ranges": (
        [(NETWORK, "    network: projects/host/global/networks/vpc\n" + NETWORK)],
        [
            "mlops.yaml:53:14: error E205: invalid security.network: a Shared VPC network needs "
            "'podsRange' and 'servicesRange': GKE cannot create secondary ranges in the host project's "
            "subnetwork",
        ],
    ),
    "one secondary range without the other": (
        [(NETWORK, "    podsRange: pods\n" + NETWORK)],
        [
            "mlops.yaml:53:16: error E205: invalid security.network: give both 'podsRange' and "
            "'servicesRange' (secondary ranges), or neither",
        ],
    ),
    "subnetwork by path in a network by name": (
        [
            (
                NETWORK,
                "    network: ml-vpc\n    subnetwork: projects/host/regions/us-central1/subnetworks/ml\n"
                + NETWORK,
            )
        ],
        [
            "mlops.yaml:54:17: error E205: invalid security.network: a subnetwork given as "
            "projects/HOST/regions/REGION/subnetworks/NAME needs the network as "
            "projects/HOST/global/networks/NAME",
        ],
    ),
    "subnetwork in another project than its network": (
        [
            (
                NETWORK,
                SHARED_VPC.format(region="us-central1").replace(
                    "projects/host/regions", "projects/other/regions"
                )
                + NETWORK,
            )
        ],
        [
            "mlops.yaml:54:17: error E205: invalid security.network: subnetwork is in project other, but "
            "the network is in host: a subnetwork belongs to its network's project",
        ],
    ),
    "generated tables kept less than a day": (
        [("    logs: {}\n", "    logs: {generatedTables: {retention: 12h}}\n")],
        [
            "mlops.yaml:13:41: error E205: invalid data.datasets.logs.generatedTables: retention 12h is "
            "shorter than 1d, a day's partition",
        ],
    ),
    "duplicate columns differing in case": (
        [
            _tables(
                "        tx:\n          schema:\n            - {name: amount, type: FLOAT64}\n"
                "            - {name: Amount, type: NUMERIC}\n"
            )
        ],
        [
            "mlops.yaml:19:22: error E205: table 'tx' of dataset 'features' declares column 'Amount' "
            "twice ('amount' and 'Amount' differ only in case): BigQuery compares column names without "
            "case\n  hint: rename or remove one of the two columns",
        ],
    ),
    "duplicate nested columns": (
        [_tables(TX_SCHEMA + "                - {name: ID, type: INT64}\n")],
        [
            "mlops.yaml:27:26: error E205: table 'tx' of dataset 'features' declares column "
            "'payload.ID' twice ('id' and 'ID' differ only in case): BigQuery compares column names "
            "without case\n  hint: rename or remove one of the two columns",
        ],
    ),
    "partitioned on a missing column": (
        [_tables(TX_SCHEMA + "          partitioning: {field: event_tme}\n")],
        [
            "mlops.yaml:27:33: error E301: the partitioning field 'event_tme' of table 'tx' of dataset "
            "'features' is not a top-level column of its schema\n  hint: did you mean 'event_time'?",
        ],
    ),
    "partitioned on a STRING column": (
        [_tables(TX_SCHEMA + "          partitioning: {field: site}\n")],
        [
            "mlops.yaml:27:33: error E204: table 'tx' of dataset 'features' is partitioned on 'site', "
            "a STRING column; BigQuery partitions on a TIMESTAMP, DATE or DATETIME column\n  hint: "
            "partition on one of: event_time, event_date",
        ],
    ),
    "partitioned by hour on a DATE column": (
        [_tables(TX_SCHEMA + "          partitioning: {type: HOUR, field: event_date}\n")],
        [
            "mlops.yaml:27:32: error E204: table 'tx' of dataset 'features' is partitioned by HOUR on "
            "'event_date', a DATE column, which has no hours\n  hint: partition by DAY, MONTH or YEAR, "
            "or on a TIMESTAMP or DATETIME column",
        ],
    ),
    "partitioned on a DATE column by month": (
        [_tables(TX_SCHEMA + "          partitioning: {type: MONTH, field: event_date}\n")],
        [],
    ),
    "clustered on a nested, a FLOAT64 and a repeated column": (
        [_tables(TX_SCHEMA + "          clustering: [id, amount, tags, site]\n")],
        [
            "mlops.yaml:27:24: error E301: the clustering column 'id' of table 'tx' of dataset "
            "'features' is not a top-level column of its schema\n  hint: top-level columns: "
            "event_time, event_date, amount, site, tags, payload",
            "mlops.yaml:27:28: error E204: table 'tx' of dataset 'features' is clustered on 'amount', "
            "a FLOAT64 column, which BigQuery cannot cluster on\n  hint: cluster on one of: "
            "event_time, event_date, site",
            "mlops.yaml:27:36: error E204: table 'tx' of dataset 'features' is clustered on 'tags', a "
            "REPEATED STRING column, which BigQuery cannot cluster on\n  hint: cluster on one of: "
            "event_time, event_date, site",
        ],
    ),
    "clustered on a column twice": (
        [_tables(TX_SCHEMA + "          clustering: [site, SITE]\n")],
        [
            "mlops.yaml:27:30: error E205: table 'tx' of dataset 'features' lists clustering column "
            "'SITE' twice\n  hint: list each clustering column once",
        ],
    ),
    "clustered on more than four columns": (
        [_tables(TX_SCHEMA + "          clustering: [site, event_time, event_date, site, site]\n")],
        [
            "mlops.yaml:27:23: error E205: invalid data.datasets.features.tables.tx.clustering: list "
            "should have at most 4 items after validation, not 5",
        ],
    ),
    "step asks for more CPUs than its pool's node has": (
        [('cpu: "3", memory: 12Gi', 'cpu: "4", memory: 12Gi')],
        [
            "mlops.yaml:41:45: error E205: step 'fit' of pipeline 'train' requests 4 CPUs, but nodes "
            "of pool 'general' (n2-standard-4) can allocate at most 3.92 CPUs\n  hint: request at most "
            "3920m, or run it on a pool of larger machines",
        ],
    ),
    "step asks for more memory than its pool's node has": (
        [('cpu: "3", memory: 12Gi', 'cpu: "3", memory: 14Gi')],
        [
            "mlops.yaml:41:58: error E205: step 'fit' of pipeline 'train' requests 14Gi of memory, but "
            "nodes of pool 'general' (n2-standard-4) can allocate at most 13.3Gi of memory\n  hint: "
            "request at most 13621Mi, or run it on a pool of larger machines",
        ],
    ),
    "step without a pool asks for more than any untainted node has": (
        [('{nodePool: general, cpu: "3", memory: 12Gi}', '{cpu: "3", memory: 14Gi}')],
        [
            "mlops.yaml:41:39: error E205: step 'fit' of pipeline 'train' requests 14Gi of memory, but "
            "it names no node pool, and the nodes it can run on (general: n2-standard-4) can allocate "
            "at most 13.3Gi of memory\n  hint: request at most 13621Mi, or run it on a pool of larger "
            "machines",
        ],
    ),
    "variant on the default GPU machine asks for more CPUs than it has": (
        [("nodePool: l4, accelerators: 1}", "nodePool: l4, accelerators: 1, cpu: '4'}")],
        [
            "mlops.yaml:46:78: error E205: variant 'main' of endpoint 'digits' requests 4 CPUs, but "
            "nodes of pool 'l4' (g2-standard-4) can allocate at most 3.92 CPUs\n  hint: request at "
            "most 3920m, or run it on a pool of larger machines",
        ],
    ),
    "a machine type of unknown shape is not checked": (
        [("machineType: n2-standard-4", "machineType: n4-standard-4"), ("memory: 12Gi", "memory: 900Gi")],
        [],
    ),
    "triton on a TPU pool": (
        [("nodePool: l4, accelerators: 1", "nodePool: tpu")],
        [
            "mlops.yaml:46:52: error E204: variant 'main' of endpoint 'digits' runs on node pool "
            "'tpu', but its runtime 'triton' (kserve-tritonserver) cannot use TPU chips\n  hint: serve "
            "it from a GPU or CPU pool: no KServe runtime mlopsctl deploys uses TPU chips",
        ],
    ),
    "sklearn asking for GPUs": (
        [("version: v1, nodePool: general}", "version: v1, nodePool: l4, accelerators: 1}")],
        [
            "mlops.yaml:49:51: error E204: variant 'main' of endpoint 'churn' runs on node pool 'l4', "
            "but its runtime 'sklearn' (kserve-sklearnserver) cannot use GPUs\n  hint: serve it from a "
            "CPU pool without GPUs; runtimes that use GPUs: huggingface, onnx, pytorch, tensorflow, "
            "triton, xgboost",
        ],
    ),
    "request logging of a gRPC-only endpoint": (
        [
            (
                "  churn:\n    variants:",
                "  churn:\n    protocols: [grpc]\n    protocolVersion: v2\n    variants:",
            )
        ],
        [
            "mlops.yaml:52:14: error E204: endpoint 'churn' logs requests but serves gRPC only, and "
            "KServe's request logger does not see gRPC traffic: the log would stay empty\n  hint: add "
            "http to 'protocols' and send the requests to log over HTTP, or remove 'logging'",
        ],
    ),
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
    ]
    write(tmp_path, json.dumps(schema), "schemas/tx.json")
    body = "        tx:\n          schemaFile: schemas/tx.json\n          partitioning: {field: at}\n"
    old, new = _tables(body)
    assert _errors(tmp_path, BASE.replace(old, new, 1)) == [
        "mlops.yaml:17:23: error E205: table 'tx' of dataset 'features' declares column 'site' twice in "
        "schema file 'schemas/tx.json' ('Site' and 'site' differ only in case): BigQuery compares column "
        "names without case\n  hint: rename or remove one of the two columns",
        "mlops.yaml:18:33: error E301: the partitioning field 'at' of table 'tx' of dataset 'features' "
        "is not a top-level column of its schema\n  hint: top-level columns: event_time, Site, site, payload",
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
