"""What training and tuning share: reading the examples and fitting the XGBoost detector."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xgboost as xgb

ROUNDS = 80
DEFAULTS: dict[str, Any] = {"max_depth": 4, "learning_rate": 0.1, "subsample": 0.9, "booster": "gbtree"}
"""Hyperparameters when the tuner found none (the search space's types: int, double, double, categorical)."""


def load(examples: Path, split: str) -> xgb.DMatrix:
    """The split as a DMatrix: every column but the label, in table order, named."""
    label = json.loads((examples / "metadata.json").read_text())["label"]
    if not label:
        raise SystemExit(f"{examples}/metadata.json names no label: set label on the ingest step")
    table = pq.read_table(examples / f"Split-{split}" / "data.parquet")
    names, columns = [], []
    for name in table.column_names:
        column = table[name]
        if name == label:
            continue
        if not (
            pa.types.is_integer(column.type)
            or pa.types.is_floating(column.type)
            or pa.types.is_boolean(column.type)
        ):
            raise SystemExit(
                f"column {name} is {column.type}: transform it to numbers or drop it (mlops.yaml: transforms)"
            )
        names.append(name)
        columns.append(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
    labels = table[label].cast(pa.float64()).to_numpy(zero_copy_only=False)
    return xgb.DMatrix(np.column_stack(columns), label=labels, feature_names=names)


def hyperparameters(values: dict[str, Any]) -> dict[str, Any]:
    """Typed hyperparameters: the tuner hands every value over as a string."""
    merged = {**DEFAULTS, **values}
    return {
        "max_depth": int(float(merged["max_depth"])),
        "learning_rate": float(merged["learning_rate"]),
        "subsample": float(merged["subsample"]),
        "booster": str(merged["booster"]),
    }


def fit(train: xgb.DMatrix, params: dict[str, Any], rounds: int = ROUNDS) -> xgb.Booster:
    settings = {
        **params,
        "objective": "binary:logistic",
        "tree_method": "hist",
        "seed": 0,
        "nthread": 1,  # a few thousand rows: threads would wait on each other more than they work
    }
    return xgb.train(settings, train, num_boost_round=rounds)


def auc_pr(booster: xgb.Booster, data: xgb.DMatrix) -> float:
    """Area under the precision-recall curve (average precision) of the booster on ``data``."""
    scores = booster.predict(data)
    labels = data.get_label()
    order = np.argsort(-scores, kind="stable")
    hits = labels[order] == 1
    if not hits.any():
        return 0.0
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].mean())
