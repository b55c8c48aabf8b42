"""External sources are checked as ingest reads them (E205): a bq:// uri names one table and reads as
BIGQUERY; a BIGQUERY format needs a bq:// uri."""

from __future__ import annotations

import pathlib

import pytest
from helpers import MINIMAL, diagnostics


def _external(entry: str) -> str:
    return MINIMAL + f"data:\n  external:\n    partner: {entry}\n"


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            "{uri: 'bq://shared.transactions'}",
            (
                "14:20: error E205: data.external.partner.uri 'bq://shared.transactions': it does not name "
                "a table",
                "write bq://PROJECT.DATASET.TABLE, e.g. bq://partner-data.shared.transactions",
            ),
        ),
        (
            "{uri: 'bq://p.my-data.t'}",
            (
                "14:20: error E205: data.external.partner.uri 'bq://p.my-data.t': 'my-data' is not a "
                "dataset id (letters, digits and underscores)",
                "write bq://PROJECT.DATASET.TABLE, e.g. bq://partner-data.shared.transactions",
            ),
        ),
        (
            "{uri: 'bq://p.d.t', format: CSV}",
            (
                "14:42: error E205: data.external.partner: a bq:// uri is a BigQuery table, not CSV files",
                "set format: BIGQUERY, or leave format out",
            ),
        ),
        (
            "{uri: 'gs://drop/tx/', format: BIGQUERY}",
            (
                "14:45: error E205: data.external.partner: format BIGQUERY reads a BigQuery table; "
                "'gs://drop/tx/' is not one",
                "give the table as bq://PROJECT.DATASET.TABLE, e.g. bq://partner-data.shared.transactions, "
                "or the format of the files at the uri",
            ),
        ),
    ],
)
def test_an_external_source_ingest_could_not_read_is_refused(
    tmp_path: pathlib.Path, entry: str, expected: tuple[str, str]
) -> None:
    assert diagnostics(tmp_path, _external(entry)) == [expected]


@pytest.mark.parametrize(
    "entry",
    [
        "{uri: 'bq://partner-data.shared.transactions'}",
        "{uri: 'bq://example.com:partner.shared.tx', format: BIGQUERY}",
        "{uri: 'gs://drop/tx/', format: CSV}",
        "{uri: 'https://example.com/data.parquet'}",
    ],
)
def test_external_sources_ingest_can_read_pass(tmp_path: pathlib.Path, entry: str) -> None:
    assert diagnostics(tmp_path, _external(entry)) == []
