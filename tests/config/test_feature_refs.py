"""A pipeline's ingest and an endpoint's online reads name feature views that exist."""

from __future__ import annotations

import pathlib

import pytest
from helpers import CLF_API, OWNED_STAGED_DATA, diagnostics, edited

FEATURES = """\
features:
  groups:
    customers:
      source: {dataset: features, table: customers}
      entityIdColumns: [customer_id]
      features: [age, country]
  onlineStores:
    online: {type: optimized}
  views:
    customer-profile: {store: online, group: customers}
"""
READS = """\
pipelines:
  churn:
    steps:
      ingest:
        kind: ingest
        source: {featureView: customer-profile}
        outputs: {examples: dataset}
"""
SERVES = CLF_API + "    features: [customer-profile]\n"
CONFIG = OWNED_STAGED_DATA + FEATURES + READS + SERVES


def _at(text: str, needle: str) -> str:
    """``LINE:COLUMN:`` (1-based) of the first ``needle`` in ``text``."""
    before = text[: text.index(needle)]
    return f"{before.count(chr(10)) + 1}:{len(before) - before.rfind(chr(10))}:"


def test_views_that_exist_are_accepted(tmp_path: pathlib.Path) -> None:
    assert [d for d in diagnostics(tmp_path, CONFIG) if " E" in d[0]] == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("source: {featureView: customer-profile}", "source: {featureView: customer-profiles}"),
        ("features: [customer-profile]", "features: [customer-profiles]"),
    ],
)
def test_an_unknown_view_is_located_with_the_closest_name(tmp_path: pathlib.Path, old: str, new: str) -> None:
    text = edited(CONFIG, [(old, new)])
    [(first, hint)] = [d for d in diagnostics(tmp_path, text) if "E301" in d[0]]
    assert first.startswith(_at(text, "customer-profiles"))
    assert "feature view 'customer-profiles' is not declared under features.views" in first
    assert hint == "did you mean 'customer-profile'?"


def test_without_any_view_the_hint_says_where_to_declare_it(tmp_path: pathlib.Path) -> None:
    text = OWNED_STAGED_DATA + READS
    [(first, hint)] = [d for d in diagnostics(tmp_path, text) if "E301" in d[0]]
    assert "feature view 'customer-profile'" in first
    assert hint == "declare 'customer-profile' under features.views"


ONE_SOURCE = "give exactly one of 'bigquery', 'gcs', 'external' or 'featureView'"


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("{featureView: customer-profile, bigquery: {dataset: features, table: customers}}", ONE_SOURCE),
        ("{featureView: customer-profile, gcs: raw/x/}", ONE_SOURCE),
        ("{featureView: customer-profile, format: csv}", "'format' applies to 'gcs' sources only"),
    ],
)
def test_a_view_is_the_one_source_of_its_ingest(tmp_path: pathlib.Path, source: str, why: str) -> None:
    text = edited(CONFIG, [("source: {featureView: customer-profile}", f"source: {source}")])
    [(first, _)] = [d for d in diagnostics(tmp_path, text) if " E" in d[0]]
    line = _at(text, "source: {featureView").split(":")[0]
    assert first.startswith(f"{line}:") and first.endswith(
        f"invalid pipelines.churn.steps.ingest.source: {why}"
    )
