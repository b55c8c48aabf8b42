from __future__ import annotations

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = sorted(ROOT.glob("examples/projects/*/mlops.yaml"))

pytest_plugins = [
    "upstream_schemas",
    "gitrepos",
    "fake_git",
    "releases",
    "stage_local",
    "vertex_providers",
    "kube_cluster",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="Rewrite tests/golden (renders) and the plans in tests/golden_pairs from the current output.",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))
