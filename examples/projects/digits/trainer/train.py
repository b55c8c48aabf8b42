"""Train the digits classifier on an examples artifact and export it to ONNX for Triton.

Inputs and outputs arrive as ``--NAME VALUE`` flags named as in mlops.yaml:
``--examples DIR`` (``Split-train/data.parquet``, ``metadata.json`` naming the label),
``--epochs N``, ``--batch_size N`` and ``--model DIR``, where the model repository is
written in Triton's layout: ``digits/1/model.onnx`` and ``digits/config.pbtxt``.

The ONNX graph takes ``pixels`` (float32 [N, 64], intensities 0-16) and answers
``predicted_digit`` (int64 [N]), ``probabilities`` (float32 [N, 10]) and ``confidence``
(float32 [N], the largest probability), the outputs the drift monitor reads from the logs.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import onnx
import pyarrow.parquet as pq
from onnx import TensorProto, helper
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, Int64TensorType
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

MODEL_NAME = "digits"
OPSET = 17


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--model", type=Path, required=True)
    args = parser.parse_args()

    started = time.monotonic()
    features, labels = load(args.examples, "train")
    model = make_pipeline(
        StandardScaler(),
        MLPClassifier(
            hidden_layer_sizes=(64,),
            max_iter=args.epochs,
            batch_size=args.batch_size,
            learning_rate_init=args.learning_rate,
            random_state=0,
        ),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a fixed number of epochs is the point
        model.fit(features, labels)
    eval_features, eval_labels = load(args.examples, "eval")
    accuracy = float((model.predict(eval_features) == eval_labels).mean())
    export(model, features.shape[1], args.model)
    print(
        f"trained on {len(labels)} images in {time.monotonic() - started:.1f}s; eval accuracy {accuracy:.4f}"
    )


def load(examples: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The split's pixel columns (in table order) as float32 and its labels."""
    label = json.loads((examples / "metadata.json").read_text())["label"]
    if not label:
        raise SystemExit(f"{examples}/metadata.json names no label: set label on the ingest step")
    table = pq.read_table(examples / f"Split-{split}" / "data.parquet")
    columns = [c for c in table.column_names if c != label]
    features = np.column_stack([table[c].to_numpy(zero_copy_only=False) for c in columns])
    return features.astype(np.float32), table[label].to_numpy(zero_copy_only=False).astype(np.int64)


def export(model: Pipeline, width: int, out: Path) -> None:
    """Write the model as ONNX in Triton's model-repository layout."""
    classifier = model.steps[-1][1]
    onx = convert_sklearn(
        model,
        initial_types=[("pixels", FloatTensorType([None, width]))],
        final_types=[
            ("predicted_digit", Int64TensorType([None])),
            ("probabilities", FloatTensorType([None, len(classifier.classes_)])),
        ],
        options={id(classifier): {"zipmap": False}},
        target_opset={"": OPSET, "ai.onnx.ml": 3},
    )
    graph = onx.graph
    graph.node.append(helper.make_node("ReduceMax", ["probabilities"], ["confidence"], axes=[1], keepdims=0))
    graph.output.append(helper.make_tensor_value_info("confidence", TensorProto.FLOAT, [None]))
    onnx.checker.check_model(onx)
    version = out / MODEL_NAME / "1"
    version.mkdir(parents=True, exist_ok=True)
    (version / "model.onnx").write_bytes(onx.SerializeToString())
    (out / MODEL_NAME / "config.pbtxt").write_text(triton_config(width, len(classifier.classes_)))


def triton_config(width: int, classes: int) -> str:
    return f"""name: "{MODEL_NAME}"
platform: "onnxruntime_onnx"
max_batch_size: 0
input [
  {{ name: "pixels", data_type: TYPE_FP32, dims: [ -1, {width} ] }}
]
output [
  {{ name: "predicted_digit", data_type: TYPE_INT64, dims: [ -1 ] }},
  {{ name: "probabilities", data_type: TYPE_FP32, dims: [ -1, {classes} ] }},
  {{ name: "confidence", data_type: TYPE_FP32, dims: [ -1 ] }}
]
"""


if __name__ == "__main__":
    main()
