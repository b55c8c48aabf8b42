"""``evaluate``: a model's metrics on the eval split, and whether every threshold holds.

The features are every column but the label, in the order of the train split (or the names the
model records). The task is classification when the model gives class probabilities, or when the
label is a boolean, a string, or an integer with at most ``MAX_CLASSES`` values that the model
predicts as whole numbers; regression otherwise (a count regressor's fractional predictions
included). Rows whose label is missing are left out. Besides the metrics its thresholds and
``--metric`` flags name, ``metrics.json`` holds the catalog's defaults for the task that apply.
With ``MLOPSCTL_EXPERIMENT`` set, the metrics are also logged as an experiment run
(:mod:`mlopsctl_stage.tracking`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlopsctl_stage import metrics, tracking
from mlopsctl_stage.artifacts import staged_dir, write_parameter
from mlopsctl_stage.errors import StageError
from mlopsctl_stage.metrics import CLASSIFICATION, REGRESSION, Predictions, UnavailableMetric
from mlopsctl_stage.models import Output, load_model
from mlopsctl_stage.tables import read_examples

MAX_CLASSES = 20
METRICS_FILE = "metrics.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="The model artifact (folder).")
    parser.add_argument(
        "--examples", required=True, help="The examples artifact (folder) with an eval split."
    )
    parser.add_argument("--metrics", help="Where to write the metrics artifact (metrics.json).")
    parser.add_argument("--blessed", help="Where to write whether every threshold holds (boolean).")
    parser.add_argument(
        "--metric",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "PATH"),
        help="Where to write the value of one metric (float); repeatable.",
    )
    parser.add_argument(
        "--run-id", help="The pipeline run's id: the experiment run the metrics are logged to."
    )


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    thresholds = _thresholds(config.get("thresholds") or {})
    for name, _ in args.metric:
        _known(name, f"--metric {name}")
    predictions = _predict(args.model, args.examples, config.get("label"))
    wanted = {
        **{name: f"thresholds.{name}" for name in thresholds},
        **{name: f"--metric {name}" for name, _ in args.metric},
    }
    values: dict[str, float] = {}
    for name in dict.fromkeys([*wanted, *metrics.DEFAULTS[predictions.task]]):
        try:
            values[name] = metrics.compute(name, predictions)
        except UnavailableMetric as error:
            if name in wanted:
                raise StageError(wanted[name], f"cannot be computed: {error}") from None
    blessed = all(_holds(bounds, values[name]) for name, bounds in thresholds.items())
    for name, value in values.items():
        bounds = thresholds.get(name)
        verdict = (
            ""
            if bounds is None
            else f" ({'meets' if _holds(bounds, value) else 'MISSES'} {json.dumps(bounds)})"
        )
        print(f"{name} = {value:.6g}{verdict}", file=sys.stderr)
    print(f"blessed: {str(blessed).lower()}", file=sys.stderr)
    if args.metrics:
        with staged_dir(args.metrics) as out:
            (out / METRICS_FILE).write_text(json.dumps(values, indent=2) + "\n")
    write_parameter(args.blessed, blessed)
    for name, path in args.metric:
        write_parameter(path, values[name])
    tracking.log_run(values, run_id=args.run_id, outputs=[args.metrics] if args.metrics else [])


def _predict(model: str, examples: str, label: Any) -> Predictions:
    """The model's predictions on the eval split, with the labels they are judged against."""
    splits, metadata = read_examples(examples)
    label = label or metadata.get("label")
    if not label or not isinstance(label, str):
        raise StageError(
            "label", "no label: set label on the evaluate step, or on the ingest that made the examples"
        )
    if "eval" not in splits:
        raise StageError("--examples", f"no eval split (found: {', '.join(splits)})")
    evaluation, train = splits["eval"], splits.get("train", splits["eval"])
    if label not in evaluation.column_names:
        raise StageError("label", f"{label!r} is not a column of the eval split")
    evaluation, train = _labelled(evaluation, label), _labelled(train, label)
    if not evaluation.num_rows:
        raise StageError("label", f"{label!r} is missing (null or NaN) in every row of the eval split")
    features = [name for name in train.column_names if name != label]
    absent = [name for name in features if name not in evaluation.column_names]
    if absent:
        raise StageError(
            "--examples", f"the eval split lacks the train split's {', '.join(map(repr, absent))}"
        )
    output = load_model(model).predict(evaluation.select(features))
    return _predictions(_label_values(train, label), _label_values(evaluation, label), output)


def _labelled(table: pa.Table, label: str) -> pa.Table:
    """The rows of ``table`` whose ``label`` is there: neither null nor NaN."""
    if label not in table.column_names:
        return table
    column = table.column(label)
    present = pc.is_valid(column)
    if pa.types.is_floating(column.type):
        present = pc.and_(present, pc.invert(pc.is_nan(column)))
    return table.filter(present)


def _holds(bounds: dict[str, float], value: float) -> bool:
    return bounds.get("min", -math.inf) <= value <= bounds.get("max", math.inf)


def _thresholds(config: Any) -> dict[str, dict[str, float]]:
    if not isinstance(config, dict):
        raise StageError("thresholds", "must be an object: {METRIC: {min: X, max: Y}}")
    found: dict[str, dict[str, float]] = {}
    for name, bounds in config.items():
        _known(name, f"thresholds.{name}")
        if not isinstance(bounds, dict) or not bounds or set(bounds) - {"min", "max"}:
            raise StageError(f"thresholds.{name}", "must be an object with min and/or max")
        for key, bound in bounds.items():
            if isinstance(bound, bool) or not isinstance(bound, int | float):
                raise StageError(f"thresholds.{name}.{key}", f"must be a number, not {json.dumps(bound)}")
        found[name] = {key: float(bound) for key, bound in bounds.items()}
    return found


def _known(name: str, subject: str) -> None:
    if name not in metrics.CATALOG:
        raise StageError(subject, f"unknown metric; one of {', '.join(metrics.CATALOG)}")


def _label_values(table: pa.Table, label: str) -> np.ndarray:
    """The labels (of rows ``_labelled`` kept): booleans as 0/1, strings as objects, numbers as they are."""
    column = table.column(label)
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_boolean(column.type):
        column = column.cast(pa.int64())
    return np.asarray(column.to_numpy(zero_copy_only=False))


def _predictions(train: np.ndarray, y_true: np.ndarray, output: Output) -> Predictions:
    numeric = y_true.dtype.kind in "iuf"
    distinct = np.unique(np.concatenate([train, y_true]))
    few = y_true.dtype.kind in "iub" and len(distinct) <= MAX_CLASSES
    if numeric and output.probabilities is None and (not few or not _whole(output.values)):
        return Predictions(REGRESSION, y_true.astype(np.float64), output.values.astype(np.float64))
    y_pred = _as_labels(output.values, distinct, numeric)
    if output.probabilities is None:
        return Predictions(
            CLASSIFICATION, y_true, y_pred, None, np.unique(np.concatenate([distinct, y_pred]))
        )
    width = output.probabilities.shape[1]
    if output.classes is not None:
        classes = _as_labels(output.classes, distinct, numeric)
    else:
        classes = distinct if len(distinct) == width else np.arange(width)
    if len(classes) != width:
        raise StageError("--model", f"gives {width} class probabilities for {len(classes)} classes")
    order = np.argsort(classes, kind="stable")
    return Predictions(CLASSIFICATION, y_true, y_pred, output.probabilities[:, order], classes[order])


def _whole(values: np.ndarray) -> bool:
    """Whether predictions are whole numbers, as a classifier's classes of an integer label are."""
    values = np.asarray(values)
    if values.dtype.kind != "f":
        return True
    finite = values[np.isfinite(values)]
    return bool(np.all(finite == np.round(finite)))


def _as_labels(values: np.ndarray, distinct: np.ndarray, numeric: bool) -> np.ndarray:
    """Predicted classes in the label's terms: booleans as 0/1; class indices as strings for string labels."""
    values = np.asarray(values)
    if values.dtype.kind == "b":
        values = values.astype(np.int64)
    if numeric:
        return (
            values.astype(np.int64)
            if values.dtype.kind == "f" and np.all(values == np.round(values))
            else values
        )
    if (
        values.dtype.kind in "iuf"
    ):  # a model trained on label-encoded strings: index i is the i-th sorted label
        indices = values.astype(np.int64)
        if indices.size and (indices.min() < 0 or indices.max() >= len(distinct)):
            raise StageError(
                "--model", f"predicts class {indices.max()}, and the label has {len(distinct)} values"
            )
        return distinct[indices]
    return values.astype(object)
