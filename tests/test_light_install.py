"""The core install (no kfp, pulumi, kubernetes or Google clients) validates and prints the schema;
a command that needs an extra says which to install, without a traceback."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest
from conftest import ROOT
from helpers import OWNED_STAGED_DATA, WITH_DATA, write
from light_install import light


def test_validate_and_schema_need_no_extra(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, OWNED_STAGED_DATA)
    assert light("validate", config).returncode == 0
    assert light("validate", ROOT / "examples" / "projects" / "digits" / "mlops.yaml").returncode == 0
    schema = light("schema")
    assert schema.returncode == 0 and schema.stdout.startswith("{")


def test_a_command_that_needs_an_extra_names_it(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, WITH_DATA)
    done = light("apply", config, "--target", "kubernetes", "--env", "dev")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "pip install 'mlopsctl[kubernetes]'" in done.stderr


@pytest.mark.parametrize("example", ["digits", "fraud-tpu", "sensor-anomaly"])
def test_check_enforces_the_policies_without_kfp(example: str) -> None:
    """Policies read the graph's resources, not the specs kfp compiles: the findings are the same."""
    config = ROOT / "examples" / "projects" / example / "mlops.yaml"
    core = light("check", config, "-f", "json")
    full = subprocess.run(
        [sys.executable, "-m", "mlopsctl", "check", str(config), "-f", "json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert (core.returncode, core.stdout) == (full.returncode, full.stdout)
    assert "note: pipelines were checked as outlines of their steps: kfp is not installed" in core.stderr
    assert "note:" not in full.stderr


def test_plan_without_kfp_names_the_extra(tmp_path: pathlib.Path) -> None:
    done = light("plan", ROOT / "examples" / "projects" / "digits" / "mlops.yaml", "--env", "dev")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "pip install 'mlopsctl[kfp]'" in done.stderr
