"""Waivers that hide more, or less, than they seem to: one matching every resource is a level of off
with a reason attached (W409, as W408 for levels), and an empty path waives nothing (W303, as ``.``)."""

from __future__ import annotations

import pathlib

import pytest
from helpers import run, write
from policy_helpers import PASSING, findings, where

from mlopsctl.api import validate
from mlopsctl.config.source import ConfigSource

NO_CMEK = PASSING.replace("  defaultKmsKey: data\n", "")
"""PASSING without its default key: MLP005 finds prod's bucket, dataset, repository and cluster."""


def waived(*waivers: str) -> str:
    return NO_CMEK + "policies:\n  waivers:\n" + "".join(f"    - {w}\n" for w in waivers)


@pytest.mark.parametrize(
    ("pattern", "scope"),
    [
        ("'*'", "dev/us-central1, prod/us-central1"),
        ("'*/*'", "dev/us-central1, prod/us-central1"),
        ("'prod/*'", "prod/us-central1"),
        ("'prod/us-central1/*'", "prod/us-central1"),
    ],
)
def test_a_waiver_of_every_resource_is_warned_of(tmp_path: pathlib.Path, pattern: str, scope: str) -> None:
    text = waived(f"{{policy: MLP005, resource: {pattern}, reason: keys come next quarter}}")
    found = findings(tmp_path, text)
    assert [d.code for d in found] == ["W409"]  # MLP005's findings are all waived
    [warning] = found
    assert (warning.severity.value, str(warning.position)) == ("warning", where(text, pattern))
    assert warning.message == (
        f"the waiver of MLP005 for resource {pattern} matches every resource of {scope}: it drops every "
        "finding of MLP005 there, as a level of off would"
    )
    assert warning.hint is not None and "policies.levels" in warning.hint


def test_a_scoped_check_names_only_the_targets_it_checked(tmp_path: pathlib.Path) -> None:
    """``check --env prod`` compiles prod alone: the waiver is said to match every resource of prod's
    targets, not of every environment."""
    text = waived("{policy: MLP005, resource: '*', reason: keys come next quarter}")
    code, out, err = run("check", write(tmp_path, text), "--env", "prod")
    assert code == 0, err
    assert "matches every resource of prod/us-central1: it drops" in out + err


@pytest.mark.parametrize(
    "waiver",
    [
        "{policy: MLP005, resource: 'prod/*/gcp:storage/bucket:Bucket/*', reason: r}",
        "{policy: MLP005, resource: '*', reason: r, expires: 2026-01-31}",
        "{policy: MLP005, path: security, reason: r}",
    ],
    ids=["some resources", "expired", "a path"],
)
def test_narrower_or_expired_waivers_are_not(tmp_path: pathlib.Path, waiver: str) -> None:
    assert "W409" not in [d.code for d in findings(tmp_path, waived(waiver))]


@pytest.mark.parametrize("path", ["''", "' '", "'.'"])
def test_an_empty_path_waives_nothing_and_says_so(tmp_path: pathlib.Path, path: str) -> None:
    text = waived(f"{{policy: MLP005, path: {path}, reason: r}}")
    validation = validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None))
    [warning] = [d for d in validation.diagnostics if d.code != "W301"]  # W301: the key left unused
    assert (warning.code, str(warning.position)) == ("W303", where(text, f"path: {path}", len("path: ")))
    assert warning.message.endswith("matches no place in the config: it waives nothing")
    assert [d.code for d in findings(tmp_path, text)].count("MLP005") == 4
