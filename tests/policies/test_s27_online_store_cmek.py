"""MLP005 holds feature online stores to a customer-managed key in production: a Bigtable store takes
the default key; an optimized one cannot, and its finding says to make it a Bigtable store."""

from __future__ import annotations

import pathlib

import pytest
from policy_helpers import PASSING, findings, where

STORE = "features:\n  onlineStores:\n    lookup: {type: TYPE}\n"


@pytest.mark.parametrize("kind", ["bigtable", "optimized"])
def test_an_online_store_in_production_is_encrypted_or_found(tmp_path: pathlib.Path, kind: str) -> None:
    text = PASSING + STORE.replace("TYPE", kind)
    found = [d for d in findings(tmp_path, text) if d.code == "MLP005"]
    if kind == "bigtable":
        assert found == []
        return
    [finding] = found
    assert (
        finding.message
        == "aifeatureonlinestore 'lookup' is not encrypted with a customer-managed key in prod"
    )
    assert finding.hint == "only Bigtable online serving takes a customer-managed key: set its type: bigtable"
    assert finding.address == "prod/us-central1/gcp:vertex/aiFeatureOnlineStore:AiFeatureOnlineStore/lookup"
    assert str(finding.position) == where(text, "lookup:")
