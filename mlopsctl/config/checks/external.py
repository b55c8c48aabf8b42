"""External sources as ingest reads them: a ``bq://`` URI is a BigQuery table, read through the Storage
Read API, so it must name PROJECT.DATASET.TABLE, and ``format: BIGQUERY`` goes with it alone. A file
format on a ``bq://`` URI would be ignored (the table is read as a table) and a BIGQUERY format on a
file URI would fail at run time, so both are refused here (E205)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.diagnostics import Diagnostic

_DATASET = re.compile(r"^[A-Za-z0-9_]{1,1024}$")
_FORM = "bq://PROJECT.DATASET.TABLE, e.g. bq://partner-data.shared.transactions"


def table_problem(uri: str) -> str | None:
    """Why a ``bq://`` URI does not name one table; None when it does. A domain-scoped project
    (``example.com:project``) holds dots of its own, so the dataset and table are the last two parts."""
    parts = uri.removeprefix("bq://").rsplit(".", 2)
    if len(parts) != 3 or not all(parts):
        return "it does not name a table"
    if not _DATASET.match(parts[1]):
        return f"'{parts[1]}' is not a dataset id (letters, digits and underscores)"
    return None


@check
def external_sources(ctx: CheckContext) -> Iterator[Diagnostic]:
    for name, source in ctx.config.data.external.items():
        base = ("data", "external", name)
        table = source.uri.startswith("bq://")
        why = table_problem(source.uri) if table else None
        if why is not None:
            yield Diagnostic(
                "E205",
                f"data.external.{name}.uri '{source.uri}': {why}",
                path=(*base, "uri"),
                hint=f"write {_FORM}",
            )
        if table and "format" in source.model_fields_set and source.format != "BIGQUERY":
            yield Diagnostic(
                "E205",
                f"data.external.{name}: a bq:// uri is a BigQuery table, not {source.format} files",
                path=(*base, "format"),
                hint="set format: BIGQUERY, or leave format out",
            )
        if not table and source.format == "BIGQUERY":
            yield Diagnostic(
                "E205",
                f"data.external.{name}: format BIGQUERY reads a BigQuery table; '{source.uri}' is not one",
                path=(*base, "format"),
                hint=f"give the table as {_FORM}, or the format of the files at the uri",
            )
