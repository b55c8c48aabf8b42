"""``evaluate``: rows whose label is NaN are left out, as rows whose label is null; auc_pr is
unavailable, never 0, where it is undefined."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import joblib  # type: ignore[import-untyped]
import numpy as np
import pyarrow as pa
import pytest
from evaluate_run import run_evaluate
from sklearn import metrics as sk
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression

from mlopsctl_stage.tables import write_examples

RNG = np.random.default_rng(11)
X = RNG.normal(size=(200, 2))
Y = X[:, 0] - X[:, 1] + RNG.normal(scale=0.5, size=200)


def _setup(root: Path, y: np.ndarray, eval_y: np.ndarray, estimator: Any) -> Any:
    """Train on the first 150 rows (labels ``y``), evaluate on the other 50 (labels ``eval_y``)."""
    train = pa.table({"a": X[:150, 0], "b": X[:150, 1], "y": y})
    evaluation = pa.table({"a": X[150:, 0], "b": X[150:, 1], "y": eval_y})
    write_examples(root / "examples", {"train": train, "eval": evaluation}, {"label": "y"})
    estimator.fit(X[:150][~np.isnan(y)], y[~np.isnan(y)])
    (root / "model").mkdir()
    joblib.dump(estimator, root / "model" / "model.joblib")
    return estimator


@pytest.mark.parametrize("config", [{"thresholds": {"rmse": {"max": 10.0}}}, {}])
def test_nan_labels_are_left_out_of_a_regression(local_root: Path, config: dict[str, Any]) -> None:
    eval_y = Y[150:].copy()
    eval_y[::5] = np.nan
    estimator = _setup(local_root, Y[:150], eval_y, LinearRegression())
    run_evaluate(local_root, config)
    kept = ~np.isnan(eval_y)
    predicted = estimator.predict(X[150:][kept])
    values = json.loads((local_root / "metrics" / "metrics.json").read_text())
    assert values == pytest.approx(
        {
            "rmse": sk.root_mean_squared_error(eval_y[kept], predicted),
            "mae": sk.mean_absolute_error(eval_y[kept], predicted),
            "r2": sk.r2_score(eval_y[kept], predicted),
        }
    )
    assert (local_root / "blessed").read_text() == "true"


def test_nan_labels_are_not_a_class(local_root: Path) -> None:
    """Float 0/1 labels with NaN in both splits: the classes are 0 and 1, NaN rows are left out."""
    y = (Y > 0).astype(np.float64)
    y[::7] = np.nan
    estimator = _setup(local_root, y[:150], y[150:], LogisticRegression())
    run_evaluate(local_root, {"thresholds": {"auc_roc": {"min": 0.5}}})
    kept = ~np.isnan(y[150:])
    scores = estimator.predict_proba(X[150:][kept])[:, 1]
    values = json.loads((local_root / "metrics" / "metrics.json").read_text())
    assert values["auc_roc"] == pytest.approx(sk.roc_auc_score(y[150:][kept], scores))


@pytest.mark.parametrize("config", [{"thresholds": {"rmse": {"max": 10.0}}}, {}])
def test_no_label_left_fails_naming_the_label(
    local_root: Path, capsys: pytest.CaptureFixture[str], config: dict[str, Any]
) -> None:
    _setup(local_root, Y[:150], np.full(50, np.nan), LinearRegression())
    with pytest.raises(SystemExit) as exit_info:
        run_evaluate(local_root, config)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("mlopsctl-stage evaluate: label: 'y' is missing (null or NaN) in every row")
    assert err.count("\n") == 1
    assert not (local_root / "metrics").exists() and not (local_root / "blessed").exists()


def _fail(root: Path, capsys: pytest.CaptureFixture[str], config: dict[str, Any]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        run_evaluate(root, config)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert not (root / "metrics").exists() and not (root / "blessed").exists()
    return err


def test_auc_pr_of_a_single_class_is_unavailable(
    local_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ones = np.ones(200, dtype=np.int64)
    _setup(local_root, ones[:150], ones[150:], DummyClassifier(strategy="prior"))
    run_evaluate(local_root, {})
    values = json.loads((local_root / "metrics" / "metrics.json").read_text())
    assert "auc_pr" not in values and values["accuracy"] == 1.0
    capsys.readouterr()
    (local_root / "metrics").rename(local_root / "metrics-0")
    (local_root / "blessed").unlink()
    err = _fail(local_root, capsys, {"thresholds": {"auc_pr": {"min": 0.5}}})
    assert err.startswith(
        "mlopsctl-stage evaluate: thresholds.auc_pr: cannot be computed: defined for two classes or more"
    )


def test_auc_pr_leaves_out_classes_without_examples(local_root: Path) -> None:
    """Three classes, the eval split holds two: the macro average is over those two, not a 0 for the third."""
    y = np.digitize(X[:, 0], [-0.5, 0.5]).astype(np.int64)
    eval_y = np.where(y[150:] == 2, 1, y[150:])
    estimator = _setup(local_root, y[:150], eval_y, LogisticRegression())
    run_evaluate(local_root, {})
    scores = estimator.predict_proba(X[150:])
    expected = np.mean([sk.average_precision_score(eval_y == k, scores[:, k]) for k in (0, 1)])
    values = json.loads((local_root / "metrics" / "metrics.json").read_text())
    assert values["auc_pr"] == pytest.approx(expected)
