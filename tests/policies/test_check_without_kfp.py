"""check enforces the policies on the core install, without kfp (pipelines are outlined)."""

from __future__ import annotations

import pathlib

from helpers import write
from light_install import light
from policy_helpers import PASSING


def test_check_without_kfp_reports_a_policy_finding(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, PASSING.replace("minReplicas: 2}", "minReplicas: 1}"))
    done = light("check", config)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "error MLP001: endpoint 'score' (main) keeps 1 replica" in done.stderr
    assert done.stdout.endswith("mlops.yaml: 1 error, 0 warnings.\n")
