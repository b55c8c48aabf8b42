"""The core install (no kfp, pulumi, kubernetes or Google clients) validates and prints the schema;
a command that needs an extra says which to install, without a traceback."""

from __future__ import annotations

import pathlib
import subprocess
import sys

from conftest import ROOT
from helpers import OWNED_STAGED_DATA, WITH_DATA, write

# Runs the CLI with the extras' packages unimportable, as in a core-only virtualenv.
_LIGHT = """
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


def _light(*args: str | pathlib.Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _LIGHT, *map(str, args)], capture_output=True, text=True, cwd=ROOT
    )


def test_validate_and_schema_need_no_extra(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, OWNED_STAGED_DATA)
    assert _light("validate", config).returncode == 0
    assert _light("validate", ROOT / "examples" / "projects" / "digits" / "mlops.yaml").returncode == 0
    schema = _light("schema")
    assert schema.returncode == 0 and schema.stdout.startswith("{")


def test_a_command_that_needs_an_extra_names_it(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, WITH_DATA)
    done = _light("apply", config, "--target", "kubernetes", "--env", "dev")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "pip install 'mlopsctl[kubernetes]'" in done.stderr
