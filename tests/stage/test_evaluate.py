"""The ``evaluate`` stage: metrics of a real model on the eval split, thresholds and outputs."""

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
from sklearn.linear_model import LinearRegression, LogisticRegression, PoissonRegressor
from sklearn.svm import LinearSVC

from mlopsctl_stage.tables import write_examples

RNG = np.random.default_rng(3)
X = RNG.normal(size=(400, 3))
NOISY = X[:, 0] + X[:, 1] + RNG.normal(scale=0.8, size=400)


def _setup(
    root: Path, y: np.ndarray, estimator: Any, label: str | None = "y"
) -> tuple[Any, np.ndarray, np.ndarray]:
    """Examples (first 300 rows train, the rest eval) and ``estimator`` fitted on train as model.joblib."""
    table = pa.table({"f0": X[:, 0], "f1": X[:, 1], "f2": X[:, 2], "y": y})
    write_examples(
        root / "examples", {"train": table.slice(0, 300), "eval": table.slice(300)}, {"label": label}
    )
    estimator.fit(X[:300], y[:300])
    (root / "model").mkdir()
    joblib.dump(estimator, root / "model" / "model.joblib")
    return estimator, X[300:], y[300:]


def _evaluate(root: Path, config: dict[str, Any], *extra: str) -> dict[str, float]:
    run_evaluate(root, config, *extra)
    values: dict[str, float] = json.loads((root / "metrics" / "metrics.json").read_text())
    return values


def test_binary_classification_metrics_and_thresholds(local_root: Path) -> None:
    estimator, x, y = _setup(local_root, (NOISY > 0).astype(np.int64), LogisticRegression())
    thresholds = {
        "accuracy": {"min": 0.6},
        "false_positive_rate": {"max": 0.5},
        "recall_at_1pct_fpr": {"min": 0.0},
    }
    values = _evaluate(local_root, {"thresholds": thresholds}, "--metric", "auc_roc", str(local_root / "auc"))
    predicted, scores = estimator.predict(x), estimator.predict_proba(x)[:, 1]
    fpr, tpr, _ = sk.roc_curve(y, scores)
    tn, fp, _, _ = sk.confusion_matrix(y, predicted).ravel()
    expected = {
        "accuracy": sk.accuracy_score(y, predicted),
        "false_positive_rate": fp / (fp + tn),
        "recall_at_1pct_fpr": tpr[fpr <= 0.01].max(),
        "precision": sk.precision_score(y, predicted),
        "recall": sk.recall_score(y, predicted),
        "f1": sk.f1_score(y, predicted),
        "auc_roc": sk.roc_auc_score(y, scores),
        "auc_pr": sk.average_precision_score(y, scores),
        "log_loss": sk.log_loss(y, estimator.predict_proba(x)),
    }
    assert values == pytest.approx(expected)
    assert list(values)[:3] == list(thresholds)
    assert (local_root / "blessed").read_text() == "true"
    assert float((local_root / "auc").read_text()) == pytest.approx(expected["auc_roc"])


def test_a_missed_threshold_is_not_blessed(local_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _setup(local_root, (NOISY > 0).astype(np.int64), LogisticRegression())
    values = _evaluate(
        local_root, {"thresholds": {"accuracy": {"min": 0.99}, "f1": {"min": 0.1, "max": 0.2}}}
    )
    assert values["accuracy"] < 0.99
    assert (local_root / "blessed").read_text() == "false"
    err = capsys.readouterr().err
    assert 'MISSES {"min": 0.99}' in err and "blessed: false" in err


COUNTS = np.clip(np.round(np.exp(0.5 * NOISY)), 0, 15).astype(np.int64)
"""A label of few whole numbers: a regression target when the model predicts fractions."""


@pytest.mark.parametrize(
    ("y", "estimator"),
    [(NOISY, LinearRegression()), (COUNTS, PoissonRegressor())],
    ids=["continuous label", "count label"],
)
def test_regression_metrics(local_root: Path, y: np.ndarray, estimator: Any) -> None:
    estimator, x, y = _setup(local_root, y, estimator)
    values = _evaluate(
        local_root, {"thresholds": {"rmse": {"max": 3.0}}}, "--metric", "r2", str(local_root / "r2")
    )
    predicted = estimator.predict(x)
    assert values == pytest.approx(
        {
            "rmse": sk.root_mean_squared_error(y, predicted),
            "mae": sk.mean_absolute_error(y, predicted),
            "r2": sk.r2_score(y, predicted),
        }
    )
    assert (local_root / "blessed").read_text() == "true"
    assert json.loads((local_root / "r2").read_text()) == pytest.approx(values["r2"])


def test_a_classifier_without_probabilities_of_an_integer_label(local_root: Path) -> None:
    """Whole-number predictions of a few-valued integer label stay classification."""
    estimator, x, y = _setup(local_root, (NOISY > 0).astype(np.int64) * 3, LinearSVC())
    values = _evaluate(local_root, {"thresholds": {"accuracy": {"min": 0.5}}})
    assert values["accuracy"] == pytest.approx(sk.accuracy_score(y, estimator.predict(x)))


def test_string_labels_with_a_label_encoded_xgboost_model(local_root: Path) -> None:
    import xgboost

    names = np.array(["high", "low", "mid"])  # sorted: the label encoding a trainer uses
    codes = np.digitize(NOISY, [-0.7, 0.7])  # 0 low, 1 mid, 2 high
    labels = np.array(["low", "mid", "high"])[codes]
    table = pa.table({"f0": X[:, 0], "f1": X[:, 1], "f2": X[:, 2], "y": labels})
    write_examples(
        local_root / "examples", {"train": table.slice(0, 300), "eval": table.slice(300)}, {"label": "y"}
    )
    encoded = np.searchsorted(names, labels)
    params = {"objective": "multi:softprob", "num_class": 3, "max_depth": 2}
    booster = xgboost.train(params, xgboost.DMatrix(X[:300], label=encoded[:300]), num_boost_round=10)
    (local_root / "model").mkdir()
    booster.save_model(local_root / "model" / "model.json")
    values = _evaluate(local_root, {"thresholds": {"accuracy": {"min": 0.5}, "auc_roc": {"min": 0.5}}})
    probabilities = booster.inplace_predict(X[300:])
    assert values["accuracy"] == pytest.approx(
        sk.accuracy_score(labels[300:], names[probabilities.argmax(axis=1)])
    )
    assert values["log_loss"] == pytest.approx(sk.log_loss(labels[300:], probabilities, labels=names))


def test_boolean_label_and_label_from_config(local_root: Path) -> None:
    estimator, x, y = _setup(local_root, NOISY > 0, LogisticRegression(), label=None)
    values = _evaluate(local_root, {"label": "y", "thresholds": {"recall": {"min": 0.5}}})
    assert values["recall"] == pytest.approx(sk.recall_score(y, estimator.predict(x)))


def _fail(root: Path, capsys: pytest.CaptureFixture[str], config: dict[str, Any], *extra: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        _evaluate(root, config, *extra)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("mlopsctl-stage evaluate: ") and err.count("\n") == 1
    assert not (root / "metrics").exists() and not (root / "blessed").exists()
    return err


@pytest.mark.parametrize(
    ("estimator", "config", "extra", "message"),
    [
        (
            LogisticRegression(),
            {"thresholds": {"acuracy": {"min": 1}}},
            [],
            "thresholds.acuracy: unknown metric",
        ),
        (
            LogisticRegression(),
            {"thresholds": {"accuracy": 0.9}},
            [],
            "must be an object with min and/or max",
        ),
        (
            LogisticRegression(),
            {"thresholds": {"f1": {"min": "high"}}},
            [],
            'thresholds.f1.min: must be a number, not "high"',
        ),
        (
            LogisticRegression(),
            {"thresholds": {"rmse": {"max": 1}}},
            [],
            "thresholds.rmse: cannot be computed: a regression metric",
        ),
        (
            LinearSVC(),
            {"thresholds": {"auc_roc": {"min": 0.5}}},
            [],
            "cannot be computed: needs class probabilities",
        ),
        (LogisticRegression(), {}, ["--metric", "mape", "x"], "--metric mape: unknown metric"),
        (LogisticRegression(), {"label": "nope"}, [], "label: 'nope' is not a column of the eval split"),
    ],
)
def test_bad_settings_fail_with_one_line(
    local_root: Path,
    capsys: pytest.CaptureFixture[str],
    estimator: Any,
    config: dict[str, Any],
    extra: list[str],
    message: str,
) -> None:
    _setup(local_root, (NOISY > 0).astype(np.int64), estimator)
    assert message in _fail(local_root, capsys, config, *extra)


def test_multiclass_has_no_recall_at_1pct_fpr(local_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _setup(local_root, np.digitize(NOISY, [-0.7, 0.7]), LogisticRegression())
    message = _fail(local_root, capsys, {"thresholds": {"recall_at_1pct_fpr": {"min": 0.1}}})
    assert "thresholds.recall_at_1pct_fpr: cannot be computed: defined for two classes only" in message


def test_no_label_anywhere(local_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _setup(local_root, (NOISY > 0).astype(np.int64), LogisticRegression(), label=None)
    assert "label: no label: set label on the evaluate step" in _fail(local_root, capsys, {})


def test_string_features_need_a_transform(local_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _setup(local_root, (NOISY > 0).astype(np.int64), LogisticRegression())
    table = pa.table(
        {"f0": ["a"] * 100, "f1": X[300:, 1], "f2": X[300:, 2], "y": (NOISY[300:] > 0).astype(np.int64)}
    )
    write_examples(local_root / "examples", {"train": table, "eval": table}, {"label": "y"})
    assert "features: 'f0' is string, and models take numbers: transform it first" in _fail(
        local_root, capsys, {}
    )
