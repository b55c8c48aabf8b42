"""Train the sensor-anomaly detector with the tuner's best hyperparameters.

Inputs and outputs arrive as ``--NAME VALUE`` flags named as in mlops.yaml: ``--examples DIR``
(transformed examples: ``Split-{train,eval}/data.parquet``, ``metadata.json`` naming the label),
``--transform_graph DIR`` (recorded beside the model), ``--hyperparameters DIR``
(``hyperparameters.json``) and ``--model DIR``, where ``model.json`` is written.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from detector import auc_pr, fit, hyperparameters, load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=Path, required=True)
    parser.add_argument("--transform_graph", type=Path)
    parser.add_argument("--hyperparameters", type=Path)
    parser.add_argument("--model", type=Path, required=True)
    args = parser.parse_args()

    started = time.monotonic()
    found = args.hyperparameters / "hyperparameters.json" if args.hyperparameters else None
    params = hyperparameters(json.loads(found.read_text()) if found and found.exists() else {})
    booster = fit(load(args.examples, "train"), params)
    args.model.mkdir(parents=True, exist_ok=True)
    booster.save_model(args.model / "model.json")
    if args.transform_graph and (args.transform_graph / "transform.json").exists():
        # Serving needs the same transform: keep the one the model was trained behind.
        shutil.copy(args.transform_graph / "transform.json", args.model / "transform.json")
    score = auc_pr(booster, load(args.examples, "eval"))
    print(f"trained with {params} in {time.monotonic() - started:.1f}s; eval auc_pr {score:.4f}")


if __name__ == "__main__":
    main()
