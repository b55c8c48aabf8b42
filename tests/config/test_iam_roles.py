"""Roles granted under security.serviceAccounts are predefined IAM roles: a typo of one is refused at its
line with the role meant (E409), and a role unknown to the catalog is warned about (W405)."""

from __future__ import annotations

import pathlib
import re

import pytest
from conftest import ROOT
from helpers import MINIMAL, diagnostics

from mlopsctl.config.checks.roles import meant, predefined_roles

ACCOUNTS = """\
security:
  serviceAccounts:
    notebooks:
      roles:
        - {first}
        - roles/bigquery.jobUser
"""


def _found(tmp_path: pathlib.Path, role: str) -> list[tuple[str, str | None]]:
    text = MINIMAL + ACCOUNTS.format(first=role)
    return [(m, h) for m, h in diagnostics(tmp_path, text) if re.search(r" (E409|W405): ", m)]


@pytest.mark.parametrize(
    ("role", "typo_of"),
    [
        ("roles/aiplatform.usr", "roles/aiplatform.user"),
        ("roles/aiplatfrom.user", "roles/aiplatform.user"),
        ("roles/storage.objectViwer", "roles/storage.objectViewer"),
    ],
)
def test_a_role_close_to_a_predefined_one_is_warned_about_with_the_role_meant(
    tmp_path: pathlib.Path, role: str, typo_of: str
) -> None:
    """A warning, not an error: a role newer than the catalog can be as close to a known one."""
    date, _ = predefined_roles()
    lines = (MINIMAL + ACCOUNTS.format(first=role)).splitlines()
    line = lines.index(f"        - {role}") + 1
    assert _found(tmp_path, role) == [
        (
            f"{line}:11: warning W405: '{role}' is not among the predefined IAM roles of {date}: unless it "
            "is newer, IAM will refuse the grant at apply",
            f"did you mean '{typo_of}'? (else check its id at https://cloud.google.com/iam/docs/roles-permissions)",
        )
    ]


def test_a_predefined_role_in_the_wrong_case_is_refused(tmp_path: pathlib.Path) -> None:
    [(message, hint)] = _found(tmp_path, "roles/bigquery.dataviewer")
    assert (
        " error E409: 'roles/bigquery.dataviewer' is not a predefined IAM role: role ids are case-sensitive"
        in message
    )
    assert hint == "write it 'roles/bigquery.dataViewer'"


def test_a_role_far_from_every_predefined_one_is_only_warned_about(tmp_path: pathlib.Path) -> None:
    date, _ = predefined_roles()
    [(message, hint)] = _found(tmp_path, "roles/quantumledger.operator")
    assert (
        f"warning W405: 'roles/quantumledger.operator' is not among the predefined IAM roles of {date}"
        in message
    )
    assert hint == "check its id at https://cloud.google.com/iam/docs/roles-permissions"


@pytest.mark.parametrize("role", ["roles/aiplatform.user", "roles/storage.objectUser", "roles/viewer"])
def test_predefined_roles_pass(tmp_path: pathlib.Path, role: str) -> None:
    assert _found(tmp_path, role) == []


def test_every_role_mlopsctl_grants_itself_is_in_the_catalog() -> None:
    _, known = predefined_roles()
    source = "".join(p.read_text() for p in (ROOT / "mlopsctl").rglob("*.py"))
    granted = set(re.findall(r'"(roles/[A-Za-z0-9_.]+)"', source))
    assert len(granted) > 20
    assert granted <= known, sorted(granted - known)
    assert meant("roles/aiplatform.user", known) == "roles/aiplatform.user"
