"""The policy gate of a promotion runs the same policies as 'mlopsctl check'."""

from __future__ import annotations

import pathlib

from helpers import write
from releases import CHAIN

from mlopsctl.api import validate
from mlopsctl.config.source import ConfigSource
from mlopsctl.promote.assess import _policy_errors


def test_the_gate_reports_the_error_findings_of_check(tmp_path: pathlib.Path) -> None:
    """CHAIN's production endpoint has one replica, no drift monitor and no CMEK."""
    path = write(tmp_path, CHAIN)
    found = _policy_errors(validate(ConfigSource(path, "mlops.yaml", None)))
    assert {d.code for d in found} == {"MLP001", "MLP005", "MLP009"}
    assert all(d.is_error and d.position for d in found)
