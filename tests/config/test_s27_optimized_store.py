"""W407: an online store of optimized online serving, which Vertex AI has deprecated, is a warning at
its ``type`` (or at the store, when optimized is the default it takes), saying to use Bigtable."""

from __future__ import annotations

import pathlib

import pytest
from helpers import DEV_ONLY, write

from mlopsctl.api import validate
from mlopsctl.config.source import ConfigSource

FEATURES = """\
data:
  datasets:
    features: {}
features:
  onlineStores:
    STORE
"""


@pytest.mark.parametrize(
    ("store", "at", "default"),
    [
        ("lookup: {type: optimized}", "optimized}", False),
        ("lookup: {labels: {team: risk}}", "{labels", True),
        ("lookup: {type: bigtable}", None, False),
    ],
    ids=["optimized", "default", "bigtable"],
)
def test_optimized_online_serving_is_deprecated(
    tmp_path: pathlib.Path, store: str, at: str | None, default: bool
) -> None:
    text = DEV_ONLY + FEATURES.replace("STORE", store)
    validation = validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None))
    assert validation.ok
    found = [d for d in validation.diagnostics if d.code == "W407"]
    if at is None:
        assert found == []
        return
    [warning] = found
    assert not warning.is_error
    before = text[: text.index(at)]
    assert (
        str(warning.position)
        == f"mlops.yaml:{before.count(chr(10)) + 1}:{len(before) - before.rfind(chr(10))}"
    )
    assert warning.message.startswith("online store 'lookup' uses optimized online serving")
    assert ("(the default of type)" in warning.message) is default
    assert "deprecated" in warning.message and "customer-managed key" in warning.message
    assert warning.hint is not None and warning.hint.startswith("set type: bigtable")
