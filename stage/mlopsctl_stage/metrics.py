"""The metrics ``evaluate`` knows, computed with scikit-learn.

Classification metrics on two classes are about the positive class (the larger label: ``1``,
``True``, or the last in sort order); on more classes, precision, recall, F1, AUCs and the
false positive rate are macro averages over the classes. ``recall_at_1pct_fpr`` is the highest
recall at a false positive rate of at most 1%, on two classes only.

A metric that divides by zero is undefined, never 0: precision when the model predicts no example
of the class, recall when the examples hold none, F1 when both hold. On two classes that makes the
metric unavailable (a threshold on it fails the step, saying why); in a macro average the classes
where it is undefined are left out, and it is unavailable only when it is undefined for all of them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

CLASSIFICATION = "classification"
REGRESSION = "regression"


class UnavailableMetric(ValueError):
    """A metric that cannot be computed on these predictions; the message says why."""


@dataclass(frozen=True)
class Predictions:
    task: str
    """``classification`` or ``regression``."""
    y_true: np.ndarray
    y_pred: np.ndarray
    """The predicted class, or value."""
    scores: np.ndarray | None = None
    """Class probabilities, shape ``(n, len(classes))``."""
    classes: np.ndarray | None = None
    """The classes, sorted; the columns of ``scores`` in this order."""

    @property
    def binary(self) -> bool:
        return self.classes is not None and len(self.classes) == 2

    @property
    def positive(self) -> np.ndarray:
        """Whether each true label is the positive class (two classes only)."""
        assert self.classes is not None
        return np.asarray(self.y_true == self.classes[-1])


@dataclass(frozen=True)
class Metric:
    task: str
    compute: Callable[[Predictions], float]
    needs_scores: bool = False
    binary_only: bool = False


def compute(name: str, predictions: Predictions) -> float:
    """The value of metric ``name``; ``UnavailableMetric`` when it has none here."""
    metric = CATALOG[name]
    if metric.task != predictions.task:
        raise UnavailableMetric(f"a {metric.task} metric, and this is a {predictions.task} task")
    if metric.needs_scores and predictions.scores is None:
        raise UnavailableMetric("needs class probabilities, and the model gives none")
    if metric.binary_only and not predictions.binary:
        raise UnavailableMetric("defined for two classes only")
    if len(predictions.y_true) == 0:
        raise UnavailableMetric("no examples to evaluate")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sklearn warns, then returns NaN, for an undefined metric
            value = float(metric.compute(predictions))
    except ValueError as error:
        raise UnavailableMetric(str(error).splitlines()[0]) from None
    if not np.isfinite(value):
        raise UnavailableMetric("undefined on these examples")
    return value


def _accuracy(p: Predictions) -> float:
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(p.y_true, p.y_pred))


_UNDEFINED_WHEN = {
    "precision_score": "the model predicts no positive example",
    "recall_score": "no positive examples",
    "f1_score": "no positive examples, and none predicted",
}
"""Why each averaged metric is undefined on two classes (it divides by zero)."""


def _averaged(function_name: str) -> Callable[[Predictions], float]:
    def score(p: Predictions) -> float:
        import sklearn.metrics

        function = getattr(sklearn.metrics, function_name)
        if p.binary:
            assert p.classes is not None
            value = function(
                p.y_true, p.y_pred, pos_label=p.classes[-1], average="binary", zero_division=np.nan
            )
            if np.isnan(value):
                raise ValueError(_UNDEFINED_WHEN[function_name])
            return float(value)
        return float(function(p.y_true, p.y_pred, labels=p.classes, average="macro", zero_division=np.nan))

    return score


def _auc_roc(p: Predictions) -> float:
    from sklearn.metrics import roc_auc_score

    assert p.scores is not None
    if p.binary:
        return float(roc_auc_score(p.positive, p.scores[:, -1]))
    return float(roc_auc_score(p.y_true, p.scores, multi_class="ovr", labels=p.classes))


def _auc_pr(p: Predictions) -> float:
    from sklearn.metrics import average_precision_score

    assert p.scores is not None and p.classes is not None
    if p.binary:
        if not p.positive.any():  # sklearn answers 0 (a precision of no positives), with a warning
            raise ValueError("no positive examples")
        return float(average_precision_score(p.positive, p.scores[:, -1]))
    if len(p.classes) < 2:  # one class: nothing to rank it against
        raise ValueError("defined for two classes or more, and there is one")
    # One-vs-rest, a column per class; sklearn counts a class without examples as 0, undefined here.
    truth = np.asarray(p.y_true)[:, None] == p.classes[None, :]
    return float(
        np.mean(
            [
                average_precision_score(truth[:, column], p.scores[:, column])
                for column in np.flatnonzero(truth.any(axis=0))
            ]
        )
    )


def _log_loss(p: Predictions) -> float:
    from sklearn.metrics import log_loss

    return float(log_loss(p.y_true, p.scores, labels=p.classes))


def _false_positive_rate(p: Predictions) -> float:
    from sklearn.metrics import multilabel_confusion_matrix

    matrices = multilabel_confusion_matrix(p.y_true, p.y_pred, labels=p.classes)
    if p.binary:
        matrices = matrices[-1:]
    negatives = matrices[:, 0, 0] + matrices[:, 0, 1]
    if not negatives.all():
        raise ValueError("no negative examples")
    return float(np.mean(matrices[:, 0, 1] / negatives))


def _recall_at_1pct_fpr(p: Predictions) -> float:
    from sklearn.metrics import roc_curve

    assert p.scores is not None
    fpr, tpr, _ = roc_curve(p.positive, p.scores[:, -1])
    return float(tpr[fpr <= 0.01].max())


def _regression(function_name: str) -> Callable[[Predictions], float]:
    def score(p: Predictions) -> float:
        import sklearn.metrics

        return float(getattr(sklearn.metrics, function_name)(p.y_true, p.y_pred))

    return score


CATALOG: dict[str, Metric] = {
    "accuracy": Metric(CLASSIFICATION, _accuracy),
    "precision": Metric(CLASSIFICATION, _averaged("precision_score")),
    "recall": Metric(CLASSIFICATION, _averaged("recall_score")),
    "f1": Metric(CLASSIFICATION, _averaged("f1_score")),
    "auc_roc": Metric(CLASSIFICATION, _auc_roc, needs_scores=True),
    "auc_pr": Metric(CLASSIFICATION, _auc_pr, needs_scores=True),
    "log_loss": Metric(CLASSIFICATION, _log_loss, needs_scores=True),
    "false_positive_rate": Metric(CLASSIFICATION, _false_positive_rate),
    "recall_at_1pct_fpr": Metric(CLASSIFICATION, _recall_at_1pct_fpr, needs_scores=True, binary_only=True),
    "rmse": Metric(REGRESSION, _regression("root_mean_squared_error")),
    "mae": Metric(REGRESSION, _regression("mean_absolute_error")),
    "r2": Metric(REGRESSION, _regression("r2_score")),
}
"""Metric name → how to compute it (the names a config's thresholds may use)."""

DEFAULTS: dict[str, tuple[str, ...]] = {
    CLASSIFICATION: ("accuracy", "precision", "recall", "f1", "auc_roc", "auc_pr", "log_loss"),
    REGRESSION: ("rmse", "mae", "r2"),
}
"""What ``evaluate`` reports for a task besides its thresholds (each one it can compute)."""
