"""The hardening policies: errors in production, warnings elsewhere, each at the line that asks for it."""

from __future__ import annotations

import pathlib

import pytest
from helpers import write
from policy_helpers import PASSING, TODAY, edited, findings, summary, where

from mlopsctl.api import compile_graphs, validate
from mlopsctl.compiler.iam import DATASET_IAM_MEMBER, SECRET_IAM_MEMBER
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target
from mlopsctl.graph import Resource
from mlopsctl.policies import PolicyContext, builtin_policies
from mlopsctl.policies.run import evaluate

SECURITY = "security:\n"


def security(lines: str) -> tuple[str, str]:
    return SECURITY, SECURITY + lines


# (name, [(old, new) replacements of PASSING], marker, message in prod); each gives a dev warning and a
# prod error at the marker, with the same message but for the environment.
CASES = [
    (
        "public control plane",
        [security("  network: {privateCluster: false}\n")],
        "privateCluster",
        "MLP011",
        "cluster 'demo-prod-usc1' has public nodes and control plane in prod",
    ),
    (
        "control plane open to everyone",
        [security("  network:\n    authorizedNetworks: [{name: all, cidr: 0.0.0.0/0}]\n")],
        "cidr: 0.0.0.0/0",
        "MLP011",
        "authorized network 'all' (0.0.0.0/0) of cluster 'demo-prod-usc1' opens the control plane to "
        "4,294,967,296 addresses, wider than /16",
    ),
    (
        "permissive mTLS",
        [security("  mtls: PERMISSIVE\n")],
        "mtls: PERMISSIVE",
        "MLP012",
        "the mesh accepts plain-text traffic in namespace 'demo' (mTLS PERMISSIVE) in prod",
    ),
    (
        "a primitive role",
        [security("  serviceAccounts:\n    ops: {roles: [roles/bigquery.jobUser, roles/editor]}\n")],
        "roles/editor",
        "MLP013",
        "sa-ops-prod-usc1@acme-demo-prod.iam.gserviceaccount.com holds roles/editor, a primitive role, "
        "in prod",
    ),
    (
        "a project-wide KMS admin",
        [security("  serviceAccounts:\n    ops: {roles: [roles/cloudkms.admin]}\n")],
        "roles/cloudkms.admin",
        "MLP013",
        "sa-ops-prod-usc1@acme-demo-prod.iam.gserviceaccount.com holds roles/cloudkms.admin, "
        "a project-wide cloudkms admin role, in prod",
    ),
    (
        "a project-wide role to mint any account's tokens",
        [security("  serviceAccounts:\n    ops: {roles: [roles/iam.workloadIdentityUser]}\n")],
        "roles/iam.workloadIdentityUser",
        "MLP013",
        "sa-ops-prod-usc1@acme-demo-prod.iam.gserviceaccount.com holds roles/iam.workloadIdentityUser, "
        "a project-wide role to act as any service account, in prod",
    ),
    (
        "an endpoint writing a whole dataset as a declared account",
        [
            security("  serviceAccounts:\n    ops: {roles: [roles/bigquery.dataEditor]}\n"),
            ("  score:\n", "  score:\n    serviceAccount: ops\n"),
        ],
        "roles/bigquery.dataEditor",
        "MLP015",
        "endpoint 'score' (as account 'ops') holds roles/bigquery.dataEditor on a whole project in prod, "
        "beyond the tables it writes",
    ),
]


@pytest.mark.parametrize(
    ("changes", "marker", "code", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_security_policies(
    tmp_path: pathlib.Path, changes: list[tuple[str, str]], marker: str, code: str, message: str
) -> None:
    text = edited(PASSING, changes)
    found = findings(tmp_path, text)
    at = where(text, marker)
    assert summary(found) == [(code, "warning", at), (code, "error", at)]
    assert [d.message for d in found] == [
        message.replace("prod", "dev"),
        message,
    ]


def test_narrow_ranges_and_levels_pass(tmp_path: pathlib.Path) -> None:
    text = edited(
        PASSING,
        [
            security(
                "  network:\n    authorizedNetworks: [{name: ci, cidr: 10.0.0.0/16}]\n"
                "  serviceAccounts:\n    ops: {roles: [roles/owner]}\n"
            ),
            ("monitors:", "policies: {levels: {MLP013: 'off'}}\nmonitors:"),
        ],
    )
    assert findings(tmp_path, text) == []


def test_the_widest_authorized_range_is_a_setting(tmp_path: pathlib.Path) -> None:
    wide = security("  network:\n    authorizedNetworks: [{name: ci, cidr: 10.0.0.0/12}]\n")
    assert findings(tmp_path, edited(PASSING, [wide]))
    relaxed = ("monitors:", "policies: {authorizedNetworkMinPrefix: 12}\nmonitors:")
    assert findings(tmp_path, edited(PASSING, [wide, relaxed])) == []


@pytest.mark.parametrize(
    ("type_", "inputs", "code", "message"),
    [
        (
            SECRET_IAM_MEMBER,
            {
                "secretId": "token",
                "role": "roles/secretmanager.secretAccessor",
                "member": "user:eve@example.com",
            },
            "MLP014",
            "SecretIamMember 'shared' lets user:eve@example.com, not an identity of the project, "
            "read 'token' in prod",
        ),
        (
            DATASET_IAM_MEMBER,
            {
                "datasetId": "serving_prod",
                "role": "roles/bigquery.dataEditor",
                "member": "serviceAccount:ep-score-prod-usc1@acme-demo-prod.iam.gserviceaccount.com",
            },
            "MLP015",
            "endpoint 'score' holds roles/bigquery.dataEditor on a whole dataset in prod, beyond the tables "
            "it writes",
        ),
    ],
)
def test_grants_in_the_graph(
    tmp_path: pathlib.Path, type_: str, inputs: dict[str, object], code: str, message: str
) -> None:
    """What no mlops.yaml compiles to (the graph is altered as a template or a later compiler could)."""
    validation = validate(ConfigSource(write(tmp_path, PASSING), "mlops.yaml", None))
    target = Target("prod", "us-central1")
    graph = compile_graphs(validation)[target]
    address = graph.add(
        Resource(target, type_, "shared", inputs, source=("data", "datasets", "serving"))
    ).address
    ctx = PolicyContext(target, graph, validation.targets[target].config)
    [found] = evaluate(ctx, builtin_policies(), validation.targets[target].sources, TODAY)
    assert (found.code, found.severity.value, found.message, found.address) == (
        code,
        "error",
        message,
        address,
    )
    assert str(found.position) == where(PASSING, "serving: {}")
