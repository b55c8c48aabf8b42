"""Recreate the digits sample data (seeded, so every run writes the same files).

- ``buckets/images/labelled/digits.parquet``: scikit-learn's 8x8 digits, one row per image:
  ``pixel_00`` .. ``pixel_63`` (intensities 0-16, row by row) and ``label``.
- ``datasets/serving/reference_week.jsonl``: the drift baseline, what the model answered in a
  normal week (``predicted_digit``, ``confidence``).
- ``datasets/serving/digits_requests.jsonl``: the endpoint's request log (KServe v2, as Triton
  speaks it). It drifts on purpose: most of the day's images come from a new customer's cheque
  scanner, with a grey, grainy background (the model is less sure) and many zeros (amounts).

Run it from anywhere: ``python examples/projects/digits/sample-data/generate.py``.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).resolve().parent
SEED = 20250602
PIXELS = [f"pixel_{i:02d}" for i in range(64)]
REQUESTS = 250
NEW_CUSTOMER_SHARE = 0.7
"""Share of the logged day's images that come from the new customer (the planted drift)."""
ZERO_SHARE = 0.4
"""Share of zeros among the new customer's digits (cheque amounts), against 10 % before."""
DAY = datetime(2025, 6, 2, tzinfo=UTC)
REFERENCE_WEEK = datetime(2025, 5, 19, tzinfo=UTC)


def main() -> None:
    rng = np.random.default_rng(SEED)
    digits = load_digits()
    images = digits.data.astype(np.int64)
    labels = digits.target.astype(np.int64)
    write_images(images, labels)
    # A stand-in for the served model, only to give the logged responses realistic values.
    served = LogisticRegression(max_iter=2000).fit(images / 16.0, labels)
    write_reference_week(served, images, rng)
    write_requests(served, images, labels, rng)


def write_images(images: np.ndarray, labels: np.ndarray) -> None:
    columns = {name: pa.array(images[:, i]) for i, name in enumerate(PIXELS)}
    table = pa.table({**columns, "label": pa.array(labels)})
    path = HERE / "buckets" / "images" / "labelled" / "digits.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")


def answer(served: LogisticRegression, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The predicted digit and its probability for each image."""
    probabilities = served.predict_proba(batch / 16.0)
    return probabilities.argmax(axis=1), probabilities.max(axis=1)


def write_reference_week(served: LogisticRegression, images: np.ndarray, rng: np.random.Generator) -> None:
    picked = images[rng.choice(len(images), size=500)]
    predicted, confidence = answer(served, picked)
    seconds = np.sort(rng.uniform(0, 7 * 86400, size=len(picked)))
    rows = [
        {
            "timestamp": iso(REFERENCE_WEEK + timedelta(seconds=float(s))),
            "predicted_digit": int(p),
            "confidence": round(float(c), 4),
        }
        for s, p, c in zip(seconds, predicted, confidence, strict=True)
    ]
    write_jsonl(HERE / "datasets" / "serving" / "reference_week.jsonl", rows)


def new_customer(images: np.ndarray, labels: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Images from the new customer's scanner: many zeros, a grey background and grain."""
    zeros = np.flatnonzero(labels == 0)
    picked = np.where(
        rng.random(size) < ZERO_SHARE, rng.choice(zeros, size=size), rng.choice(len(images), size=size)
    )
    noisy = images[picked] + 6 + rng.normal(0, 3, size=(size, images.shape[1]))
    return np.clip(np.rint(noisy), 0, 16).astype(np.int64)


def write_requests(
    served: LogisticRegression, images: np.ndarray, labels: np.ndarray, rng: np.random.Generator
) -> None:
    picked = images[rng.choice(len(images), size=REQUESTS)]
    new = rng.random(REQUESTS) < NEW_CUSTOMER_SHARE
    picked[new] = new_customer(images, labels, int(new.sum()), rng)
    predicted, confidence = answer(served, picked)
    seconds = np.sort(rng.uniform(0, 12 * 3600, size=REQUESTS))
    failed = set(rng.choice(REQUESTS, size=3, replace=False).tolist())
    rows = []
    for i in range(REQUESTS):
        candidate = rng.random() < 0.05  # the canary's first step sends 5 % to v2
        request_id = str(uuid.UUID(bytes=rng.bytes(16), version=4))
        row: dict[str, Any] = {
            "timestamp": iso(DAY + timedelta(seconds=float(seconds[i]))),
            "request_id": request_id,
            "endpoint": "digits",
            "variant": "candidate" if candidate else "baseline",
            "model": "digits",
            "model_version": "v2" if candidate else "v1",
            "request": {
                "inputs": [
                    {"name": "pixels", "shape": [1, 64], "datatype": "FP32", "data": picked[i].tolist()}
                ],
                "outputs": [{"name": "predicted_digit"}, {"name": "confidence"}],
            },
            "response": {
                "model_name": "digits",
                "model_version": "1",
                "outputs": [
                    {
                        "name": "predicted_digit",
                        "shape": [1],
                        "datatype": "INT64",
                        "data": [int(predicted[i])],
                    },
                    {
                        "name": "confidence",
                        "shape": [1],
                        "datatype": "FP32",
                        "data": [round(float(confidence[i]), 4)],
                    },
                ],
            },
            "latency_ms": round(float(rng.lognormal(np.log(4.0), 0.35)), 2),
            "status": 200,
        }
        if i in failed:
            row["request"]["inputs"][0]["shape"] = [1, 60]
            row["request"]["inputs"][0]["data"] = row["request"]["inputs"][0]["data"][:60]
            row["response"] = {"error": "unexpected shape for input 'pixels', expected [-1,64], got [1,60]"}
            row["status"] = 400
        rows.append(row)
    write_jsonl(HERE / "datasets" / "serving" / "digits_requests.jsonl", rows)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows))


if __name__ == "__main__":
    main()
