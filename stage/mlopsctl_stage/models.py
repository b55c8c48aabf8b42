"""Load a model folder by what it holds, and predict on a feature matrix.

| file | library |
| --- | --- |
| ``model.onnx`` (also Triton's ``NAME/VERSION/model.onnx``) | onnxruntime |
| ``model.json``, ``model.bst`` | xgboost (a ``Booster``) |
| ``model.joblib`` | scikit-learn (any estimator or pipeline) |
| ``model.pt`` | PyTorch (a TorchScript module) |

Each library is imported only when a model needs it. Models that name their features
(scikit-learn's ``feature_names_in_``, XGBoost's feature names, an ONNX graph with one input per
feature) get those columns of a table; the others get every column, in order.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlopsctl_stage.errors import StageError

MODELS_EXTRA = "mlopsctl-stage[models]"


@dataclass(frozen=True)
class Output:
    """What a model predicted for ``n`` rows."""

    values: np.ndarray
    """Shape ``(n,)``: the predicted class (a classifier) or value (a regressor)."""
    probabilities: np.ndarray | None = None
    """Shape ``(n, k)``: class probabilities, when the model gives them."""
    classes: np.ndarray | None = None
    """The classes the columns of ``probabilities`` stand for, when the model says."""


@dataclass(frozen=True)
class Model:
    """A loaded model file, ready to predict."""

    file: Path
    kind: str
    """``onnx``, ``xgboost``, ``sklearn`` or ``torch``."""
    feature_names: list[str] | None
    """The features the model was trained on, in order, when it records them."""
    dtype: np.dtype[Any]
    """The element type of the matrix the model takes."""
    _predict: Callable[[np.ndarray], Output]

    def predict(self, features: pa.Table | np.ndarray) -> Output:
        """Predict on a table (see the module notes for its columns) or on a 2-D matrix."""
        matrix = self.matrix(features) if isinstance(features, pa.Table) else np.asarray(features, self.dtype)
        if matrix.ndim != 2:
            raise StageError("features", f"need a 2-D matrix (rows x features), got shape {matrix.shape}")
        try:
            return self._predict(matrix)
        except StageError:
            raise
        except Exception as error:  # each library raises its own error types
            raise StageError(self.file.name, f"prediction failed: {error}".splitlines()[0]) from None

    def matrix(self, table: pa.Table) -> np.ndarray:
        """The numeric feature matrix of ``table``: booleans as 0/1, missing values as NaN."""
        names = self.feature_names or table.column_names
        absent = [name for name in names if name not in table.column_names]
        if absent:
            raise StageError("features", f"the model needs {', '.join(map(repr, absent))}, not in the data")
        columns = [_numeric_column(name, table.column(name)) for name in names]
        if not columns:
            return np.empty((table.num_rows, 0), dtype=self.dtype)
        return np.column_stack(columns).astype(self.dtype, copy=False)


def load_model(path: str | Path, subject: str = "--model") -> Model:
    """The model in folder ``path`` (or the model file ``path``)."""
    file = find_model_file(Path(path), subject)
    loader = _LOADERS[file.name]
    try:
        return loader(file)
    except StageError:
        raise
    except Exception as error:  # each library raises its own error types
        raise StageError(subject, f"{file.name} cannot be loaded: {error}".splitlines()[0]) from None


def find_model_file(path: Path, subject: str = "--model") -> Path:
    """The model file of a folder: the shallowest, then the highest Triton version, then by library."""
    if path.is_file() and path.name in _LOADERS:
        return path
    if not path.is_dir():
        raise StageError(subject, f"{path} is not a model folder")
    order = list(_LOADERS)
    found = [file for file in path.rglob("model.*") if file.name in _LOADERS and file.is_file()]
    if not found:
        raise StageError(subject, f"no model file in {path} (looked for {', '.join(order)})")

    def rank(file: Path) -> tuple[int, int, int]:
        version = int(file.parent.name) if file.parent.name.isdigit() else 0
        return len(file.relative_to(path).parts), -version, order.index(file.name)

    return min(found, key=rank)


def _numeric_column(name: str, column: pa.ChunkedArray) -> np.ndarray:
    kind = column.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if not (pa.types.is_boolean(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        if pa.types.is_temporal(kind):
            how = "drop it (transform type drop), or derive numbers from it in a step of your own"
        else:
            how = "transform it first (vocabulary or onehot for categories, or drop)"
        raise StageError("features", f"{name!r} is {kind}, and models take numbers: {how}")
    numbers = pc.fill_null(column.cast(pa.float64()), float("nan"))
    return np.asarray(numbers.to_numpy(), dtype=np.float64)


def _missing_library(file: Path, library: str) -> StageError:
    return StageError(file.name, f"needs {library}, which is not installed: install {MODELS_EXTRA}")


def _onnx(file: Path) -> Model:
    try:
        import onnxruntime
    except ImportError:
        raise _missing_library(file, "onnxruntime") from None
    session = onnxruntime.InferenceSession(str(file), providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()
    dtype = np.dtype(_ONNX_TYPES.get(inputs[0].type, "float32"))
    per_feature = len(inputs) > 1

    def predict(matrix: np.ndarray) -> Output:
        if per_feature:
            feed = {
                i.name: matrix[:, [n]].astype(_ONNX_TYPES.get(i.type, "float32"))
                for n, i in enumerate(inputs)
            }
        else:
            feed = {inputs[0].name: matrix}
        results = session.run(None, feed)
        if len(results) >= 2 and np.ndim(results[0]) == 1:
            probabilities, classes = _probabilities(results[1])
            return Output(np.asarray(results[0]), probabilities, classes)
        return _from_tensor(np.asarray(results[0]))

    names = [i.name for i in inputs] if per_feature else None
    return Model(file, "onnx", names, dtype, predict)


_ONNX_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
}


def _probabilities(output: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """The probabilities of an ONNX classifier: a tensor, or one ``{class: p}`` map per row (ZipMap)."""
    if isinstance(output, list) and output and isinstance(output[0], dict):
        classes = list(output[0])
        return np.array([[row[c] for c in classes] for row in output], dtype=np.float64), np.array(classes)
    return np.asarray(output, dtype=np.float64), None


def _from_tensor(result: np.ndarray) -> Output:
    """A single output: one column of values, or one column of scores per class."""
    if result.ndim == 2 and result.shape[1] > 1:
        scores = result.astype(np.float64)
        if scores.min() < 0 or not np.allclose(scores.sum(axis=1), 1.0, atol=1e-3):
            shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
            scores = shifted / shifted.sum(axis=1, keepdims=True)
        return Output(scores.argmax(axis=1), scores)
    return Output(result.reshape(len(result)))


def _xgboost(file: Path) -> Model:
    try:
        import xgboost
    except ImportError:
        raise _missing_library(file, "xgboost") from None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Unknown file format")  # .bst: XGBoost finds the format
        booster = xgboost.Booster(model_file=str(file))
    objective = str(json.loads(booster.save_config())["learner"]["objective"]["name"])

    def predict(matrix: np.ndarray) -> Output:
        raw = np.asarray(booster.inplace_predict(matrix), dtype=np.float64)
        if objective in ("binary:logistic", "binary:logitraw"):
            positive = raw if objective == "binary:logistic" else 1.0 / (1.0 + np.exp(-raw))
            probabilities = np.column_stack([1.0 - positive, positive])
            return Output((positive >= 0.5).astype(np.int64), probabilities, np.array([0, 1]))
        if objective == "multi:softprob":
            return Output(raw.argmax(axis=1), raw, np.arange(raw.shape[1]))
        if objective in ("multi:softmax", "binary:hinge"):
            return Output(raw.astype(np.int64))
        return Output(raw)

    names = list(booster.feature_names) if booster.feature_names else None
    return Model(file, "xgboost", names, np.dtype("float32"), predict)


def _sklearn(file: Path) -> Model:
    try:
        import joblib  # type: ignore[import-untyped, unused-ignore]
        from sklearn.base import is_classifier
    except ImportError:
        raise _missing_library(file, "scikit-learn") from None
    estimator = joblib.load(file)  # type: ignore[no-untyped-call, unused-ignore]
    classifier = is_classifier(estimator)

    def predict(matrix: np.ndarray) -> Output:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            values = np.asarray(estimator.predict(matrix))
            if not classifier:
                return Output(
                    values.reshape(len(values)) if values.ndim == 2 and values.shape[1] == 1 else values
                )
            try:
                probabilities = np.asarray(estimator.predict_proba(matrix), dtype=np.float64)
            except AttributeError:  # a classifier without probabilities, such as SVC(probability=False)
                return Output(values)
        return Output(values, probabilities, np.asarray(estimator.classes_))

    names = getattr(estimator, "feature_names_in_", None)
    return Model(
        file, "sklearn", None if names is None else [str(n) for n in names], np.dtype("float64"), predict
    )


def _torch(file: Path) -> Model:
    try:
        import torch
    except ImportError:
        raise StageError(
            file.name, "needs PyTorch, which mlopsctl-stage[models] leaves out: install torch"
        ) from None
    with warnings.catch_warnings():  # TorchScript is deprecated, and still what a .pt model holds
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(str(file), map_location="cpu")  # type: ignore[no-untyped-call, unused-ignore]
    module.eval()

    def predict(matrix: np.ndarray) -> Output:
        with torch.inference_mode():
            result = module(torch.from_numpy(np.ascontiguousarray(matrix)))
        if isinstance(result, tuple | list):
            result = result[0]
        return _from_tensor(result.detach().cpu().numpy())

    return Model(file, "torch", None, np.dtype("float32"), predict)


_LOADERS: dict[str, Callable[[Path], Model]] = {
    "model.onnx": _onnx,
    "model.json": _xgboost,
    "model.bst": _xgboost,
    "model.joblib": _sklearn,
    "model.pt": _torch,
}
"""Model file name → its loader, in the order preferred when a folder holds several."""
