"""The tables of a source's files as one table, from their schemas: a column some files lack is null
in their rows (a warning on stderr, as nullable columns added over time are ordinary schema
evolution); a column whose types cannot be unified (permissively, as Arrow does: integers widen to
floats, nulls take any type) fails in one line naming it."""

from __future__ import annotations

import posixpath
import sys
from typing import TYPE_CHECKING

from mlopsctl_stage.errors import StageError

if TYPE_CHECKING:
    import pyarrow as pa


def concat(files: list[tuple[str, pa.Table]], subject: str) -> pa.Table:
    """``files`` (URI, table) as one table, in order."""
    import pyarrow as pa

    schemas = [(uri, table.schema) for uri, table in files]
    _warn_of_missing_columns(schemas, subject)
    try:
        return pa.concat_tables([table for _, table in files], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        why = _conflict(schemas) or str(error).splitlines()[0]
        raise StageError(subject, f"the files' columns do not agree: {why}") from None


def _warn_of_missing_columns(schemas: list[tuple[str, pa.Schema]], subject: str) -> None:
    names = list(dict.fromkeys(name for _, schema in schemas for name in schema.names))
    lacking = {name: sum(name not in schema.names for _, schema in schemas) for name in names}
    listed = ", ".join(
        f"'{name}' (missing from {count} of {len(schemas)} files)" for name, count in lacking.items() if count
    )
    if listed:
        print(
            f"mlopsctl-stage: warning: {subject}: some files lack columns, read as null there: {listed}",
            file=sys.stderr,
            flush=True,
        )


def _conflict(schemas: list[tuple[str, pa.Schema]]) -> str | None:
    """The first column whose type in a file cannot be unified with its type in the first file holding
    it, as ``column 'x' is int64 in a.csv but string in b.csv``; None if there is none."""
    import pyarrow as pa

    first: dict[str, tuple[str, pa.Field]] = {}
    for uri, schema in schemas:
        for field in schema:
            if field.name not in first:
                first[field.name] = uri, field
                continue
            earlier_uri, earlier = first[field.name]
            try:
                pa.unify_schemas([pa.schema([earlier]), pa.schema([field])], promote_options="permissive")
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                return (
                    f"column '{field.name}' is {earlier.type} in {posixpath.basename(earlier_uri)} "
                    f"but {field.type} in {posixpath.basename(uri)}"
                )
    return None
