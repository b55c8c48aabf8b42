"""Every object of a deploy folder tells Argo CD how to sync it, so that the Application that syncs the
folder needs no options of its own: a first sync whose workloads use CRDs that the same sync installs
does not fail its dry run, and large objects apply server-side."""

from __future__ import annotations

import pathlib

import pytest
import yaml
from conftest import EXAMPLES
from typer.testing import CliRunner

from mlopsctl.cli import app

SYNC = "argocd.argoproj.io/sync-options"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_every_manifest_skips_the_dry_run_of_missing_kinds_and_applies_server_side(
    tmp_path: pathlib.Path, example: pathlib.Path
) -> None:
    result = CliRunner().invoke(app, ["render", str(example), "--out", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    manifests = sorted(tmp_path.glob("*/*/manifests/*.yaml"))
    custom = 0
    for path in manifests:
        metadata = yaml.safe_load(path.read_text(encoding="utf-8"))["metadata"]
        options = [option.strip() for option in metadata["annotations"][SYNC].split(",")]
        assert options == ["SkipDryRunOnMissingResource=true", "ServerSideApply=true"], path
        custom += "." in yaml.safe_load(path.read_text(encoding="utf-8"))["apiVersion"].split("/")[0]
    assert manifests and custom  # the examples hold objects of add-on kinds
