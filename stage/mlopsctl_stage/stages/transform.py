"""``transform``: feature transforms fitted on the train split and applied to every split.

| type | output | fitted on train |
| --- | --- | --- |
| ``standardize`` | ``(x - mean) / std`` (float) | mean, std (1 when 0) |
| ``minmax`` | ``(x - min) / (max - min)`` (float) | min, max |
| ``log`` | ``ln(1 + x)`` (float); values must be > -1 | — |
| ``vocabulary`` | index in the train values by count, then value; -1 if unseen or missing | vocabulary |
| ``onehot`` | one 0/1 column ``FEATURE_VALUE`` per train value (no other column's name) | vocabulary |
| ``bucketize`` | bucket index: how many ``boundaries`` are <= x | — |
| ``fill`` | missing values (and NaN) replaced by ``value`` | — |
| ``drop`` / ``passthrough`` | no column / the column as is | — |

Every feature the config does not name gets the default: ``standardize`` for numbers,
``vocabulary`` for strings (and for integers a ``--schema`` marks categorical), booleans to 0/1
(``boolean``), ``passthrough`` for anything else; so a config names only the features it changes.
Missing values stay missing unless said otherwise above. The label is never transformed.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlopsctl_stage import numbers as arithmetic
from mlopsctl_stage import tfmd
from mlopsctl_stage.artifacts import staged_dir
from mlopsctl_stage.errors import StageError
from mlopsctl_stage.tables import read_examples, write_examples
from mlopsctl_stage.tfmd import SchemaType

TYPES = ("standardize", "minmax", "log", "vocabulary", "onehot", "bucketize", "fill", "drop", "passthrough")
NUMERIC_TYPES = ("standardize", "minmax", "log", "bucketize")
SETTINGS = {"bucketize": ("boundaries",), "fill": ("value",)}
"""The settings a transform type takes besides ``type``."""
MAX_ONEHOT = 1000
"""More distinct train values than this and ``onehot`` refuses (``vocabulary`` is the encoding to use)."""
GRAPH_FILE = "transform.json"


@dataclass(frozen=True)
class Fitted:
    """One input feature's transform with what it learned from the train split (JSON-ready)."""

    feature: str
    type: str
    params: dict[str, Any]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--examples", required=True, help="The examples artifact (folder) to transform.")
    parser.add_argument("--schema", help="A schema artifact: which integer features are categorical.")
    parser.add_argument("--transformed", required=True, help="Where to write the transformed examples.")
    parser.add_argument("--transform-graph", help="Where to write transform.json (the fitted transforms).")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    splits, metadata = read_examples(args.examples)
    if "train" not in splits:
        raise StageError("--examples", f"no train split to fit on (found: {', '.join(splits)})")
    train = splits["train"]
    label = config.get("label") or metadata.get("label")
    declared = config.get("transforms") or {}
    if not isinstance(declared, dict):
        raise StageError("transforms", "must be an object: {FEATURE: {type: T, ...}}")
    for name in declared:
        if name not in train.column_names:
            raise StageError(f"transforms.{name}", "not a column of the train split")
        if name == label:
            raise StageError(f"transforms.{name}", "is the label, and the label is never transformed")
    categorical = _categorical_ints(tfmd.read_schema(args.schema)) if args.schema else set()
    fitted = []
    for name in train.column_names:
        if name != label:
            column = train.column(name)
            fitted.append(_fit(name, _spec(name, declared.get(name), column, name in categorical), column))
    _check_names(fitted, label)
    transformed = {
        split: _apply_all(train.column_names, fitted, table, label) for split, table in splits.items()
    }
    graph = {
        "label": label,
        "features": _outputs(fitted),
        "dropped": [f.feature for f in fitted if f.type == "drop"],
    }
    write_examples(
        args.transformed,
        transformed,
        {**metadata, "label": label, "transform": {f.feature: f.type for f in fitted}},
    )
    if args.transform_graph:
        with staged_dir(args.transform_graph) as out:
            (out / GRAPH_FILE).write_text(json.dumps(graph, indent=2, sort_keys=True) + "\n")


def _categorical_ints(schema: Any) -> set[str]:
    return {
        path[0]
        for path, feature in tfmd.schema_features(schema)
        if len(path) == 1 and feature.type == SchemaType.INT and feature.int_domain.is_categorical
    }


def _kind(column: pa.ChunkedArray) -> str:
    kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "numeric"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind):
        return "string"
    return "other"


def _spec(name: str, declared: Any, column: pa.ChunkedArray, categorical: bool) -> dict[str, Any]:
    """The transform of one feature: as declared (checked against the column), or the default."""
    kind = _kind(column)
    if declared is None:
        if kind == "numeric":
            return {
                "type": "vocabulary" if categorical and pa.types.is_integer(column.type) else "standardize"
            }
        return {"type": {"string": "vocabulary", "boolean": "boolean"}.get(kind, "passthrough")}
    subject = f"transforms.{name}"
    if not isinstance(declared, dict) or declared.get("type") not in TYPES:
        raise StageError(f"{subject}.type", f"must be one of {', '.join(TYPES)}")
    kind_of = declared["type"]
    extra = sorted(set(declared) - {"type", *SETTINGS.get(kind_of, ())})
    if extra:
        raise StageError(f"{subject}.{extra[0]}", f"not a setting of {kind_of}")
    if kind_of in NUMERIC_TYPES and kind not in ("numeric", "boolean"):
        raise StageError(subject, f"{kind_of} needs a numeric feature, and {name!r} is {column.type}")
    if kind_of in ("vocabulary", "onehot") and kind == "other":
        raise StageError(subject, f"{kind_of} needs a scalar feature, and {name!r} is {column.type}")
    if kind_of == "bucketize":
        bounds = declared.get("boundaries")
        if not isinstance(bounds, list) or not bounds or not all(_is_number(b) for b in bounds):
            raise StageError(f"{subject}.boundaries", "bucketize needs a list of numbers")
        if bounds != sorted(bounds):
            raise StageError(f"{subject}.boundaries", "must be in increasing order")
    if kind_of == "fill" and "value" not in declared:
        raise StageError(f"{subject}.value", "fill needs the value to put in place of missing ones")
    return dict(declared)


def _fit(name: str, spec: dict[str, Any], column: pa.ChunkedArray) -> Fitted:
    kind = spec["type"]
    params: dict[str, Any] = {key: value for key, value in spec.items() if key != "type"}
    if kind in ("standardize", "minmax"):
        numbers = _finite(column)
        if not numbers.size:
            raise StageError(f"transforms.{name}", f"{kind}: the train split has no values to fit on")
        if kind == "standardize":
            unit = arithmetic.scale(numbers)  # the squares of values past 1e154 overflow unscaled
            scaled = numbers / unit
            params.update(mean=float(scaled.mean()) * unit, std=float(scaled.std()) * unit or 1.0)
        else:
            params.update(min=float(numbers.min()), max=float(numbers.max()))
    elif kind in ("vocabulary", "onehot"):
        params["vocabulary"] = _vocabulary(column)
        if kind == "onehot" and len(params["vocabulary"]) > MAX_ONEHOT:
            raise StageError(
                f"transforms.{name}",
                f"onehot of {len(params['vocabulary'])} values (at most {MAX_ONEHOT}): use vocabulary",
            )
    elif kind == "fill":
        try:
            pa.scalar(params["value"]).cast(_decoded(column).type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            raise StageError(
                f"transforms.{name}.value", f"{params['value']!r} is not of type {column.type}"
            ) from None
    return Fitted(name, kind, params)


def _apply_all(order: list[str], fitted: list[Fitted], table: pa.Table, label: str | None) -> pa.Table:
    """``table`` transformed, its columns in the train split's ``order`` (the label where it was)."""
    by_feature = {transform.feature: transform for transform in fitted}
    columns: dict[str, pa.ChunkedArray] = {}
    for name in order:
        if name == label:
            if label in table.column_names:
                columns[label] = table.column(label)
            continue
        if name not in table.column_names:
            raise StageError("--examples", f"a split lacks the train split's column {name!r}")
        columns.update(_apply(by_feature[name], table.column(name)))
    return pa.table(columns)


def _apply(fitted: Fitted, column: pa.ChunkedArray) -> dict[str, pa.ChunkedArray]:
    name, kind, params = fitted.feature, fitted.type, fitted.params
    if kind == "drop":
        return {}
    if kind == "passthrough":
        return {name: column}
    if kind == "boolean":
        return {name: column.cast(pa.int64())}
    if kind == "fill":
        value = pa.scalar(params["value"]).cast(_decoded(column).type)
        filled = pc.fill_null(_decoded(column), value)
        if pa.types.is_floating(filled.type):
            filled = pc.if_else(pc.is_nan(filled), value, filled)
        return {name: filled}
    if kind in ("vocabulary", "onehot"):
        values = _decoded(column)
        index = pc.index_in(values, value_set=pa.array(params["vocabulary"], type=values.type))
        if kind == "vocabulary":
            return {name: pc.fill_null(index, -1).cast(pa.int64())}
        return {
            f"{name}_{value}": pc.fill_null(pc.equal(index, i), False).cast(pa.int8())
            for i, value in enumerate(params["vocabulary"])
        }
    numbers = _floats(column)
    if kind == "standardize":
        return {name: _shifted(numbers, params["mean"], params["std"], params["std"])}
    if kind == "minmax":
        low, high = params["min"], params["max"]
        return {name: _shifted(numbers, low, high, 1.0 if high == low else None)}
    if kind == "log":
        low = pc.min(numbers).as_py()
        if low is not None and low <= -1:
            raise StageError(f"transforms.{name}", f"log takes values > -1 (it is ln(1 + x)), not {low}")
        return {name: pc.log1p(numbers)}
    data = np.asarray(pc.fill_null(numbers, float("nan")).to_numpy(), dtype=np.float64)
    buckets = np.searchsorted(np.asarray(params["boundaries"], dtype=np.float64), data, side="right")
    return {name: pa.chunked_array([pa.array(buckets, type=pa.int64(), mask=np.isnan(data))])}


def _shifted(numbers: pa.ChunkedArray, low: float, high: float, width: float | None) -> pa.ChunkedArray:
    """``(numbers - low) / width`` (``width`` ``high - low`` when None), with no difference of values
    near the largest float overflowing: all are divided first by a power of two (exactly)."""
    unit = max(arithmetic.scale([low, high]), 1.0)
    spread = high / unit - low / unit if width is None else width / unit
    return pc.divide(pc.subtract(pc.divide(numbers, unit), low / unit), spread)


def _check_names(fitted: list[Fitted], label: str | None) -> None:
    """Fail when a onehot output column would take the name of another column (or the label)."""
    taken = {f.feature: f"the column {f.feature!r}" for f in fitted if f.type not in ("onehot", "drop")}
    if label:
        taken[label] = f"the label {label!r}"
    for f in fitted:
        if f.type != "onehot":
            continue
        for value in f.params["vocabulary"]:
            output = f"{f.feature}_{value}"
            if output in taken:
                raise StageError(
                    f"transforms.{f.feature}",
                    f"onehot of {f.feature!r} makes the column {output!r} (value {value!r}), and "
                    f"{taken[output]} has that name: rename one of them, or use vocabulary",
                )
            taken[output] = f"the onehot column {output!r} of {f.feature!r}"


def _outputs(fitted: list[Fitted]) -> dict[str, dict[str, Any]]:
    """transform.json's features: each output column with its source, transform and parameters."""
    outputs: dict[str, dict[str, Any]] = {}
    for f in fitted:
        if f.type == "onehot":
            for value in f.params["vocabulary"]:
                outputs[f"{f.feature}_{value}"] = {"source": f.feature, "type": "onehot", "value": value}
        elif f.type != "drop":
            outputs[f.feature] = {"source": f.feature, "type": f.type, **f.params}
    return outputs


def _vocabulary(column: pa.ChunkedArray) -> list[Any]:
    counts = pa.Table.from_struct_array(pc.value_counts(_decoded(column).drop_null()))
    order = pc.sort_indices(counts, sort_keys=[("counts", "descending"), ("values", "ascending")])
    return list(counts.column("values").take(order).to_pylist())


def _finite(column: pa.ChunkedArray) -> np.ndarray:
    numbers = np.asarray(_floats(column.drop_null()).to_numpy(), dtype=np.float64)
    return numbers[np.isfinite(numbers)]


def _floats(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """``column`` as float64, integers past 2**53 rounded to the nearest float (as statistics reads them)."""
    return column.cast(pa.float64(), safe=False)


def _decoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
