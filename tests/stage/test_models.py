"""Model loading by folder contents, and predictions, for each library, on real model files."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import joblib  # type: ignore[import-untyped]
import numpy as np
import pyarrow as pa
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from mlopsctl_stage.errors import StageError
from mlopsctl_stage.models import find_model_file, load_model

RNG = np.random.default_rng(0)
X = RNG.normal(size=(200, 3))
Y_BINARY = (X[:, 0] + X[:, 1] > 0).astype(int)
Y_MULTI = np.digitize(X[:, 0], [-0.5, 0.5])
Y_VALUE = 2 * X[:, 0] - X[:, 2] + 1
TABLE = pa.table({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2]})


def _joblib(folder: Path, estimator: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(estimator, folder / "model.joblib")
    return folder


def _onnx(folder: Path, estimator: object, file: str = "model.onnx", zipmap: bool = True) -> Path:
    from skl2onnx import to_onnx

    options = (
        None if zipmap or isinstance(estimator, LinearRegression) else {id(estimator): {"zipmap": False}}
    )
    (folder / file).parent.mkdir(parents=True, exist_ok=True)
    (folder / file).write_bytes(
        to_onnx(estimator, X[:1].astype(np.float32), options=options).SerializeToString()
    )
    return folder


def test_sklearn_classifier_gives_classes_and_probabilities(tmp_path: Path) -> None:
    estimator = LogisticRegression().fit(X, Y_BINARY)
    model = load_model(_joblib(tmp_path, estimator))
    output = model.predict(TABLE)
    assert model.kind == "sklearn" and model.feature_names is None
    assert output.values.tolist() == estimator.predict(X).tolist()
    assert output.probabilities is not None and np.allclose(output.probabilities, estimator.predict_proba(X))
    assert output.classes is not None and output.classes.tolist() == [0, 1]


def test_sklearn_model_takes_the_columns_it_names(tmp_path: Path) -> None:
    estimator = LinearRegression().fit(X[:, [2, 0]], Y_VALUE)
    estimator.feature_names_in_ = np.array(["c", "a"], dtype=object)  # as if fitted on a data frame
    model = load_model(_joblib(tmp_path, estimator))
    assert model.feature_names == ["c", "a"]
    assert np.allclose(model.predict(TABLE).values, Y_VALUE)
    with pytest.raises(StageError, match="the model needs 'c', not in the data"):
        model.predict(TABLE.drop_columns(["c"]))


@pytest.mark.parametrize("zipmap", [True, False])
def test_onnx_classifier(tmp_path: Path, zipmap: bool) -> None:
    estimator = LogisticRegression().fit(X, Y_MULTI)
    output = load_model(_onnx(tmp_path, estimator, zipmap=zipmap)).predict(TABLE)
    assert (output.values == estimator.predict(X)).mean() > 0.98
    assert output.probabilities is not None
    assert np.allclose(output.probabilities, estimator.predict_proba(X), atol=1e-4)
    assert (output.classes is not None) == zipmap


def test_onnx_regressor_in_triton_layout_takes_the_highest_version(tmp_path: Path) -> None:
    old = LinearRegression().fit(X, -Y_VALUE)
    new = LinearRegression().fit(X, Y_VALUE)
    _onnx(tmp_path, old, "fraud/1/model.onnx")
    _onnx(tmp_path, new, "fraud/2/model.onnx")
    (tmp_path / "fraud" / "config.pbtxt").write_text('name: "fraud"')
    model = load_model(tmp_path)
    assert model.file == tmp_path / "fraud" / "2" / "model.onnx"
    output = model.predict(X)
    assert output.probabilities is None and np.allclose(output.values, Y_VALUE, atol=1e-4)


@pytest.mark.parametrize(
    ("objective", "labels", "file", "classes"),
    [
        ("binary:logistic", Y_BINARY, "model.json", [0, 1]),
        ("multi:softprob", Y_MULTI, "model.bst", [0, 1, 2]),
        ("reg:squarederror", Y_VALUE, "model.json", None),
    ],
)
def test_xgboost_booster(
    tmp_path: Path, objective: str, labels: np.ndarray, file: str, classes: list[int] | None
) -> None:
    import xgboost

    params = {"objective": objective, "max_depth": 3} | (
        {"num_class": 3} if objective.startswith("multi") else {}
    )
    data = xgboost.DMatrix(X, label=labels, feature_names=["a", "b", "c"])
    booster = xgboost.train(params, data, num_boost_round=20)
    booster.save_model(tmp_path / "model.ubj" if file == "model.bst" else tmp_path / file)
    if file == "model.bst":  # XGBoost's binary format under its old name
        (tmp_path / "model.ubj").rename(tmp_path / file)
    model = load_model(tmp_path)
    assert model.kind == "xgboost" and model.feature_names == ["a", "b", "c"]
    output = model.predict(TABLE.select(["c", "b", "a"]))  # picked by name
    if classes is None:
        assert output.probabilities is None and np.corrcoef(output.values, Y_VALUE)[0, 1] > 0.9
        return
    assert output.classes is not None and output.classes.tolist() == classes
    assert output.probabilities is not None and np.allclose(output.probabilities.sum(axis=1), 1.0)
    assert (output.values == labels).mean() > 0.9


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_torchscript_module(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    classifier = torch.nn.Linear(3, 4)
    torch.jit.script(classifier).save(str(tmp_path / "model.pt"))
    output = load_model(tmp_path).predict(TABLE)
    logits = classifier(torch.from_numpy(X.astype(np.float32))).detach().numpy()
    assert output.values.tolist() == logits.argmax(axis=1).tolist()
    assert output.probabilities is not None and np.allclose(output.probabilities.sum(axis=1), 1.0)

    regressor = tmp_path / "regressor"
    regressor.mkdir()
    torch.jit.script(torch.nn.Linear(3, 1)).save(str(regressor / "model.pt"))
    assert load_model(regressor).predict(X).values.shape == (200,)


@pytest.mark.parametrize(
    ("module", "file", "message"),
    [
        (
            "onnxruntime",
            "model.onnx",
            "model.onnx: needs onnxruntime, which is not installed: install mlopsctl-stage[models]",
        ),
        (
            "xgboost",
            "model.json",
            "model.json: needs xgboost, which is not installed: install mlopsctl-stage[models]",
        ),
        (
            "joblib",
            "model.joblib",
            "model.joblib: needs scikit-learn, which is not installed: install mlopsctl-stage[models]",
        ),
        (
            "torch",
            "model.pt",
            "model.pt: needs PyTorch, which mlopsctl-stage[models] leaves out: install torch",
        ),
    ],
)
def test_missing_library_names_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, file: str, message: str
) -> None:
    (tmp_path / file).write_bytes(b"whatever")
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(StageError) as error:
        load_model(tmp_path)
    assert str(error.value) == message


def test_folder_preferences(tmp_path: Path) -> None:
    for file in ("model.joblib", "model.onnx", "sub/model.json"):
        (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / file).write_bytes(b"")
    assert find_model_file(tmp_path) == tmp_path / "model.onnx"  # shallowest, then onnx first
    assert find_model_file(tmp_path / "sub") == tmp_path / "sub" / "model.json"
    assert find_model_file(tmp_path / "model.joblib") == tmp_path / "model.joblib"


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        (lambda folder: folder / "absent", "is not a model folder"),
        (lambda folder: folder, "no model file in"),
        (
            lambda folder: (folder / "model.onnx").write_bytes(b"not onnx") and folder,
            "model.onnx cannot be loaded",
        ),
    ],
)
def test_bad_model_folders(tmp_path: Path, prepare: object, message: str) -> None:
    with pytest.raises(StageError, match=message) as error:
        load_model(prepare(tmp_path), "--model-uri")  # type: ignore[operator]
    assert error.value.subject == "--model-uri"


def test_bad_features(tmp_path: Path) -> None:
    model = load_model(_joblib(tmp_path, LinearRegression().fit(X, Y_VALUE)))
    with pytest.raises(StageError, match="'city' is string, and models take numbers: transform it first"):
        model.predict(TABLE.append_column("city", pa.array(["x"] * 200)))
    dates = pa.array([datetime.date(2026, 1, 1)] * 200)
    with pytest.raises(StageError, match=r"'day' is date32\[day\], and models take numbers: drop it \("):
        model.predict(TABLE.append_column("day", dates))
    with pytest.raises(StageError, match=r"model\.joblib: prediction failed: X has 2 features"):
        model.predict(TABLE.drop_columns(["c"]))
    with pytest.raises(StageError, match="need a 2-D matrix"):
        model.predict(X[0])
    with_nulls = pa.table({"a": [1.0, None], "b": [True, False], "c": pa.array([1, 2], pa.int8())})
    assert np.isnan(model.matrix(with_nulls)[1, 0]) and model.matrix(with_nulls)[0, 1] == 1.0
