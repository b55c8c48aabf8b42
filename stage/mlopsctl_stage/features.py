"""Feature values out of a request log: the KServe bodies of each request and its response.

A feature is looked up by name among the request's inputs, then the response's outputs:

- KServe v1: ``{"instances": [{FEATURE: VALUE, ...}, ...]}`` (or positional lists, named by the
  ``positional`` names given) and ``{"predictions": [{OUTPUT: VALUE}, ...]}`` (a list of
  scalars is the output ``prediction``);
- KServe v2 (Open Inference Protocol): ``{"inputs": [{"name", "shape", "data"}]}`` and
  ``{"outputs": [{"name", "shape", "data"}]}``; ``data`` may be nested, it is read flat;
- Vertex AI's request-response log, whose ``request_payload`` holds one JSON instance per element:
  read as a v1 body of those instances (:func:`vertex_requests`).

Bodies are parsed with Arrow's JSON reader, a slice of a few megabytes of the column at a time,
the slices side by side on every core. Where that reader refuses a slice (a field that is a number
in one request and a string in another), its bodies are read one by one with :mod:`json` instead.
Either way each feature's values come out typed, floats for numeric features and strings for
categorical ones: as one flat column (:func:`logged_features`), or summarised slice by slice
(:func:`summarised_features`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeAlias, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlopsctl_stage.errors import StageError

PREDICTION = "prediction"
"""The name of a v1 response's output when ``predictions`` is a list of scalars."""
_SAMPLING_SPACE = 2**64
SLICE = 4 << 20
"""Bytes of bodies per call of Arrow's JSON reader, about: small enough that every core gets its share
however the column is chunked, large enough that the calls' own cost is negligible."""
_TYPES = {"numeric": pa.float64(), "categorical": pa.string()}
Column: TypeAlias = "pa.Array | pa.ChunkedArray"
"""A column of values: one array, or chunks of one."""
T = TypeVar("T")


def sampled(key: str, rate: float) -> bool:
    """Whether the request ``key`` is in the sample of ``rate``: the same answer every time, and a
    sample of a lower rate is a subset of one of a higher rate."""
    if rate >= 1:
        return True
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") < rate * _SAMPLING_SPACE


def sample(table: pa.Table, rate: float, key: str = "request_id") -> pa.Table:
    """The rows of ``table`` whose ``key`` column is :func:`sampled` at ``rate``."""
    if rate >= 1:
        return table
    keys = table[key].to_pylist()
    return table.filter(pa.array([k is not None and sampled(str(k), rate) for k in keys]))


def is_request_log(table: pa.Table) -> bool:
    return "request" in table.column_names


VERTEX_TIME = "logging_time"
VERTEX_PAYLOAD = "request_payload"
VERTEX_DEPLOYED = "deployed_model_id"
VERTEX_COLUMNS = (VERTEX_TIME, VERTEX_PAYLOAD)
"""The columns of Vertex AI's request-response log that a comparison reads (and ``VERTEX_DEPLOYED`` when
only some deployed models' requests count)."""
VERTEX_LOG = (
    "Vertex AI's request-response log, whose columns logging_time (TIMESTAMP), deployed_model_id (STRING) "
    "and request_payload (REPEATED STRING) hold when, of which deployed model and what was asked: each "
    "element one instance as JSON text, an object keyed by feature or an array in the order of the features"
)


def vertex_log_error(source: str, error: StageError) -> StageError:
    """``error`` reading a table as Vertex AI's log, saying what that log holds if a column is missing."""
    if "has no column" not in error.why:
        return error
    return StageError(source, f"{error.why}: it is not {VERTEX_LOG}")


def vertex_requests(rows: pa.Table, source: str) -> pa.Table:
    """Rows of Vertex AI's request-response log with each ``request_payload`` (one JSON instance per
    element) as a ``request`` body of KServe v1's form, ``{"instances": [...]}``, which the functions
    above read (an array instance is positional, as in a v1 body)."""
    payload = rows[VERTEX_PAYLOAD]
    kind = payload.type
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)):
        raise StageError(source, f"{VERTEX_PAYLOAD} holds {kind}, not lists of JSON texts as {VERTEX_LOG}")
    if pa.types.is_null(kind.value_type):  # only empty lists (or nulls) in a JSON-lines table
        payload = pc.cast(payload, pa.list_(pa.string()))
    elif not pa.types.is_string(kind.value_type) and not pa.types.is_large_string(kind.value_type):
        why = f"{VERTEX_PAYLOAD} holds lists of {kind.value_type}, not of JSON texts as {VERTEX_LOG}"
        raise StageError(source, why)
    bodies = pc.binary_join_element_wise('{"instances":[', pc.binary_join(payload, ","), "]}", "")
    return rows.drop_columns([VERTEX_PAYLOAD]).append_column("request", bodies)


def logged_features(
    table: pa.Table,
    kinds: Mapping[str, str],
    source: str,
    positional: Sequence[str] = (),
    *,
    everywhere: bool = True,
) -> dict[str, pa.ChunkedArray]:
    """Each feature of ``kinds`` (name → ``numeric``/``categorical``) from the bodies in ``table``
    (``everywhere``: as :func:`summarised_features`; a feature found nowhere is then an empty column)."""
    found = summarised_features(table, kinds, source, _kept, positional, everywhere=everywhere)
    return {name: pa.chunked_array(found.get(name, []), _TYPES[kind]) for name, kind in kinds.items()}


def summarised_features(
    table: pa.Table,
    kinds: Mapping[str, str],
    source: str,
    summarise: Callable[[str, Column], T],
    positional: Sequence[str] = (),
    *,
    everywhere: bool = True,
) -> dict[str, list[T]]:
    """``summarise(name, values)`` of the values of each feature of ``kinds`` in each slice of the
    bodies in ``table``, in order. Each is computed by the thread that parsed the slice, and the values
    are then dropped: no column of all of them is built. A feature found nowhere has no entry; with
    ``everywhere`` (the default) that fails when ``table`` has rows, as the feature is not in the data."""
    found: dict[str, list[T]] = {}
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        for column in ("request", "response"):
            wanted = {name: kind for name, kind in kinds.items() if name not in found}
            if column not in table.column_names or not wanted:
                continue
            parse = functools.partial(
                _summaries, kinds=wanted, positional=positional, source=source, summarise=summarise
            )
            for piece in pool.map(parse, _slices(table[column].chunks)):
                for name, summary in piece.items():
                    found.setdefault(name, []).append(summary)
    if everywhere and table.num_rows:
        _check_present(kinds, found, source)
    return found


def table_features(table: pa.Table, kinds: Mapping[str, str], source: str) -> dict[str, pa.ChunkedArray]:
    """Each feature of ``kinds`` from the column of that name."""
    _check_present(kinds, table.column_names, source)
    return {name: _typed(table[name], kind, f"{source}: feature {name!r}") for name, kind in kinds.items()}


def _check_present(kinds: Mapping[str, str], found: Mapping[str, Any] | Sequence[str], source: str) -> None:
    missing = [name for name in kinds if name not in found]
    if missing:
        raise StageError(source, f"no feature {', '.join(map(repr, missing))} in the data")


def _slices(chunks: list[pa.Array]) -> Iterator[pa.Array]:
    """The chunks in slices of about ``SLICE`` bytes (at least half that, but the last): a large
    chunk cut (without copying), runs of small ones (record batches of a read stream) combined."""
    run: list[pa.Array] = []
    size = 0
    for chunk in chunks:
        rows = max(1, len(chunk) * SLICE // max(chunk.nbytes, 1))
        for start in range(0, len(chunk), rows):
            run.append(chunk.slice(start, rows))
            size += run[-1].nbytes
            if size >= SLICE // 2:
                yield run[0] if len(run) == 1 else pa.concat_arrays(run)
                run, size = [], 0
    if run:
        yield run[0] if len(run) == 1 else pa.concat_arrays(run)


def _summaries(
    bodies: pa.Array,
    kinds: Mapping[str, str],
    positional: Sequence[str],
    source: str,
    summarise: Callable[[str, Column], T],
) -> dict[str, T]:
    """The summaries of the features of ``kinds`` found in a slice of bodies, each typed as its kind."""
    found = _values(bodies, set(kinds), positional, source)
    return {
        name: summarise(name, _typed(values, kinds[name], f"{source}: feature {name!r}"))
        for name, values in found.items()
    }


def _kept(name: str, values: Column) -> Column:
    return values


def _values(bodies: pa.Array, names: set[str], positional: Sequence[str], source: str) -> dict[str, pa.Array]:
    """The wanted features in a slice of bodies: JSON text parsed by Arrow, or one by one where it
    cannot; objects that a local JSON-lines table holds already parsed are read as they are."""
    if pa.types.is_null(bodies.type):
        return {}
    if pa.types.is_struct(bodies.type):
        return _parsed_values(pa.Table.from_struct_array(bodies), names, positional)
    if not pa.types.is_string(bodies.type) and not pa.types.is_large_string(bodies.type):
        bodies = pc.cast(bodies, pa.string())
    strings = pc.fill_null(bodies, "{}") if bodies.null_count else bodies
    try:
        return _arrow_values(strings, names, positional)
    except pa.ArrowInvalid:
        return _python_values(strings, names, positional, source)


# Arrow: the bodies of a slice parsed at once.


def _arrow_values(strings: pa.Array, names: set[str], positional: Sequence[str]) -> dict[str, pa.Array]:
    import pyarrow.json as pajson

    if not len(strings):
        return {}
    # The bodies back to back, as they are in memory: Arrow's reader splits concatenated objects.
    block = max(SLICE, pc.max(pc.binary_length(strings)).as_py() + 1)
    parsed = pajson.read_json(
        pa.BufferReader(_data(strings)),
        read_options=pajson.ReadOptions(block_size=block, use_threads=False),
        parse_options=pajson.ParseOptions(newlines_in_values=True),
    )
    if parsed.num_rows != len(strings):
        raise pa.ArrowInvalid("a body is not one JSON object")
    return _parsed_values(parsed, names, positional)


def _parsed_values(parsed: pa.Table, names: set[str], positional: Sequence[str]) -> dict[str, pa.Array]:
    found: dict[str, list[pa.Array]] = {}
    for name, values in _arrow_named(parsed, names, positional):
        found.setdefault(name, []).append(values)
    return {
        name: chunks[0] if len(chunks) == 1 else pa.concat_arrays(chunks) for name, chunks in found.items()
    }


def _data(strings: pa.Array) -> pa.Buffer:
    """The bytes of all ``strings`` back to back: their values buffer, sliced to the array."""
    width = np.int64 if pa.types.is_large_string(strings.type) else np.int32
    offsets = np.frombuffer(strings.buffers()[1], dtype=width)
    start, end = int(offsets[strings.offset]), int(offsets[strings.offset + len(strings)])
    values = strings.buffers()[2]
    assert values is not None
    return values.slice(start, end - start)


def _arrow_named(
    parsed: pa.Table, names: set[str], positional: Sequence[str]
) -> Iterator[tuple[str, pa.Array]]:
    """(name, values) of the wanted features found in one column of parsed bodies."""
    for key in ("instances", "predictions"):
        if key not in parsed.column_names or not pa.types.is_list(parsed.schema.field(key).type):
            continue
        items = pc.list_flatten(parsed[key].combine_chunks())
        if pa.types.is_struct(items.type):
            yield from ((f.name, items.field(f.name)) for f in items.type if f.name in names)
        elif pa.types.is_list(items.type) and key == "instances":
            yield from _positional(items, names, positional)
        elif key == "predictions" and PREDICTION in names:
            yield PREDICTION, items
    for key in ("inputs", "outputs"):
        if key in parsed.column_names and pa.types.is_list(parsed.schema.field(key).type):
            tensors = pc.list_flatten(parsed[key].combine_chunks())
            if pa.types.is_struct(tensors.type) and {"name", "data"} <= {f.name for f in tensors.type}:
                for name in set(pc.unique(tensors.field("name")).to_pylist()) & names:
                    yield name, _flat(pc.filter(tensors.field("data"), pc.equal(tensors.field("name"), name)))


def _positional(
    items: pa.Array, names: set[str], positional: Sequence[str]
) -> Iterator[tuple[str, pa.Array]]:
    lengths = pc.list_value_length(items)
    for index, name in enumerate(positional):
        if name in names:
            long_enough = pc.filter(items, pc.greater(lengths, index))
            if len(long_enough):
                yield name, pc.list_element(long_enough, index)


def _flat(values: pa.Array) -> pa.Array:
    while pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
        values = pc.list_flatten(values)
    return values


# Python: one body at a time, when Arrow cannot type a slice.


def _python_values(
    strings: pa.Array, names: set[str], positional: Sequence[str], source: str
) -> dict[str, pa.Array]:
    found: dict[str, list[Any]] = {}
    for text in strings.to_pylist():
        try:
            body = json.loads(text)
        except json.JSONDecodeError as error:
            raise StageError(source, f"a body is not JSON ({error.msg}): {text[:80]}") from None
        if not isinstance(body, dict):
            raise StageError(source, f"a body is not a JSON object: {text[:80]}")
        for name, values in _python_named(body, names, positional):
            found.setdefault(name, []).extend(values)
    return {name: _python_array(values) for name, values in found.items()}


def _python_named(
    body: dict[str, Any], names: set[str], positional: Sequence[str]
) -> Iterator[tuple[str, list[Any]]]:
    for key in ("instances", "predictions"):
        for item in _list(body.get(key)):
            if isinstance(item, dict):
                yield from ((k, [v]) for k, v in item.items() if k in names)
            elif isinstance(item, list) and key == "instances":
                yield from ((n, [v]) for n, v in zip(positional, item, strict=False) if n in names)
            elif key == "predictions" and PREDICTION in names:
                yield PREDICTION, [item]
    for key in ("inputs", "outputs"):
        for tensor in _list(body.get(key)):
            if isinstance(tensor, dict) and tensor.get("name") in names:
                yield tensor["name"], list(_python_flat(tensor.get("data")))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _python_flat(data: Any) -> Iterator[Any]:
    if isinstance(data, list):
        for item in data:
            yield from _python_flat(item)
    else:
        yield data


def _python_array(values: list[Any]) -> pa.Array:
    """Mixed JSON values as one Arrow column: as they are when Arrow can type them, else as strings."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([_category(v) for v in values], pa.string())


def _category(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value)


# Both: one flat column per feature, of its kind.


def _typed(values: Column, kind: str, subject: str) -> Column:
    """``values`` as floats (numeric) or strings (categorical); NaN is missing."""
    if pa.types.is_nested(values.type):
        raise StageError(subject, f"holds {values.type} values, not scalars")
    if pa.types.is_floating(values.type) and pc.any(pc.is_nan(values)).as_py():
        values = pc.if_else(pc.is_nan(values), pa.scalar(None, values.type), values)
    if kind == "categorical":
        return values if pa.types.is_string(values.type) else pc.cast(values, pa.string())
    if pa.types.is_boolean(values.type):
        values = pc.cast(values, pa.int8())
    try:
        return pc.cast(values, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise StageError(subject, f"numeric, but holds values that are not numbers ({values.type})") from None
