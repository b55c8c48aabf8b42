"""Runs the CLI as in a core-only virtualenv: the extras' packages cannot be imported."""

from __future__ import annotations

import pathlib
import subprocess
import sys

from conftest import ROOT

_CORE_ONLY = """
import sys
class _Absent:
    def find_spec(self, name, path=None, target=None):
        extras = {"kfp", "kfp_server_api", "pulumi", "pulumi_gcp", "pulumi_kubernetes"}
        extras |= {"kubernetes", "google"}
        if name.split(".")[0] in extras:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _Absent())
sys.argv = ["mlopsctl", *sys.argv[1:]]
from mlopsctl.cli import main
main()
"""


def light(*args: str | pathlib.Path) -> subprocess.CompletedProcess[str]:
    """``mlopsctl ARGS`` in a subprocess that cannot import kfp, pulumi, kubernetes or google."""
    return subprocess.run(
        [sys.executable, "-c", _CORE_ONLY, *map(str, args)], capture_output=True, text=True, cwd=ROOT
    )
