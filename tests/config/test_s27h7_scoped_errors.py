"""A command given --env/--region reports each error once, as validate does: an error its selected
targets share with the targets it leaves out is not repeated "(in <env>/<region>)" for those."""

from __future__ import annotations

import pathlib

import pytest

from mlopsctl.api import validate
from mlopsctl.config.source import ConfigSource
from tests.helpers import MINIMAL, selected, write

SHARED = (
    MINIMAL + 'models:\n  clf:\n    framework: sklearn\n    versions:\n      v1: {artifactUri: "gs://Bad"}\n'
)
ONLY_PROD = MINIMAL + (
    "    overrides:\n      models:\n        clf:\n          framework: sklearn\n"
    '          versions:\n            v1: {artifactUri: "gs://Bad"}\n'
)


def _errors(folder: pathlib.Path, text: str, envs: tuple[str, ...]) -> list[str]:
    validation = validate(ConfigSource(write(folder, text), "mlops.yaml", None), selected(envs))
    return [d.to_text().split("\n")[0] for d in validation.diagnostics if d.is_error]


@pytest.mark.parametrize("envs", [(), ("dev",), ("prod",), ("dev", "prod")])
def test_an_error_every_target_shares_is_one_error_whatever_the_selection(
    tmp_path: pathlib.Path, envs: tuple[str, ...]
) -> None:
    assert _errors(tmp_path, SHARED, envs) == [
        "mlops.yaml:16:25: error E205: invalid models.clf.versions.v1.artifactUri: 'gs://Bad' is not "
        "a gs://bucket/path URI"
    ]


def test_an_error_of_a_target_left_out_still_names_it(tmp_path: pathlib.Path) -> None:
    (found,) = _errors(tmp_path, ONLY_PROD, ("dev",))
    assert found.endswith("(in prod/us-central1, prod/europe-west4)")
