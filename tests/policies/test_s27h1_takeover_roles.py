"""MLP013: project-wide roles that let one workload take over the project, beyond IAM, Resource Manager,
KMS and Cloud Storage admins: admins of the services that run code as another account or read every
secret, and the roles that run builds, deployments or pods as other accounts."""

from __future__ import annotations

import pathlib

import pytest
from policy_helpers import PASSING, edited, findings, summary, where

ACCOUNT = "sa-ops-prod-usc1@acme-demo-prod.iam.gserviceaccount.com"


def with_role(role: str) -> str:
    declared = f"security:\n  serviceAccounts:\n    ops: {{roles: [{role}]}}\n"
    return edited(PASSING, [("security:\n", declared)])


@pytest.mark.parametrize(
    ("role", "why"),
    [
        ("roles/container.admin", "a project-wide container admin role"),
        ("roles/secretmanager.admin", "a project-wide secretmanager admin role"),
        ("roles/compute.admin", "a project-wide compute admin role"),
        ("roles/compute.instanceAdmin.v1", "a project-wide compute admin role"),
        ("roles/run.admin", "a project-wide run admin role"),
        ("roles/cloudfunctions.admin", "a project-wide cloudfunctions admin role"),
        ("roles/bigquery.admin", "a project-wide bigquery admin role"),
        ("roles/aiplatform.admin", "a project-wide aiplatform admin role"),
        ("roles/dataflow.admin", "a project-wide dataflow admin role"),
        ("roles/cloudbuild.builds.editor", "a project-wide role to run code as other service accounts"),
        ("roles/deploymentmanager.editor", "a project-wide role to run code as other service accounts"),
        ("roles/container.developer", "a project-wide role to run code as other service accounts"),
    ],
)
def test_roles_that_take_over_the_project(tmp_path: pathlib.Path, role: str, why: str) -> None:
    text = with_role(role)
    found = [d for d in findings(tmp_path, text) if d.code == "MLP013"]
    at = where(text, role)
    assert summary(found) == [("MLP013", "warning", at), ("MLP013", "error", at)]
    assert [d.message for d in found] == [
        f"{ACCOUNT.replace('prod', 'dev')} holds {role}, {why}, in dev",
        f"{ACCOUNT} holds {role}, {why}, in prod",
    ]


@pytest.mark.parametrize(
    "role",
    ["roles/aiplatform.user", "roles/run.invoker", "roles/container.viewer", "roles/secretmanager.viewer"],
)
def test_narrower_roles_pass(tmp_path: pathlib.Path, role: str) -> None:
    assert [d for d in findings(tmp_path, with_role(role)) if d.code == "MLP013"] == []
