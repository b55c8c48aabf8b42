"""Recreate the fraud sample data (seeded, so every run writes the same files).

- ``datasets/features/training_transactions.parquet``: labelled card transactions in the
  table's schema (mlops.yaml), May 2025. Fraud is oversampled to about 8 % and follows a
  learnable pattern: large amounts, card not present, far from home, many transactions in
  the last 24 h, and risky merchant categories.
- ``datasets/serving/scorer_requests.jsonl``: the scorer endpoint's request log (KServe v1).
  It drifts on purpose: the logged day is a holiday sale, with larger online baskets.

Run it from anywhere: ``python examples/projects/fraud-tpu/sample-data/generate.py``.
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

HERE = Path(__file__).resolve().parent
SEED = 7710
ROWS = 3000
FRAUD_RATE = 0.08
REQUESTS = 500
MONTH = datetime(2025, 5, 1, tzinfo=UTC)
DAY = datetime(2025, 6, 2, tzinfo=UTC)
CATEGORIES = ["grocery", "restaurants", "fuel", "retail", "travel", "electronics", "online_gaming", "jewelry"]
LEGIT_MIX = [0.30, 0.20, 0.15, 0.17, 0.06, 0.07, 0.03, 0.02]
FRAUD_MIX = [0.04, 0.03, 0.03, 0.10, 0.15, 0.30, 0.20, 0.15]
SALE_MIX = [0.18, 0.12, 0.08, 0.22, 0.06, 0.24, 0.06, 0.04]
"""Merchant categories on the holiday sale day (the planted drift): retail and electronics."""


def transactions(
    rng: np.random.Generator, size: int, fraud: np.ndarray, sale: bool = False
) -> dict[str, Any]:
    """Feature columns for ``size`` transactions; ``fraud`` says which are fraudulent."""
    legit_mix = SALE_MIX if sale else LEGIT_MIX
    category = np.where(
        fraud, rng.choice(len(CATEGORIES), size, p=FRAUD_MIX), rng.choice(len(CATEGORIES), size, p=legit_mix)
    )
    basket = 3.0 if sale else 1.0  # bigger baskets, more of them, during the sale
    amount = np.where(
        fraud, rng.lognormal(np.log(180), 0.9, size), rng.lognormal(np.log(38 * basket), 0.8, size)
    )
    present = rng.random(size) < np.where(fraud, 0.15, 0.35 if sale else 0.7)
    distance = np.where(fraud, rng.lognormal(np.log(60), 1.3, size), rng.exponential(9, size))
    distance = np.where(present, np.minimum(distance, rng.exponential(15, size)), distance)
    count = np.where(fraud, rng.poisson(3, size) + 1, rng.poisson(3.0 if sale else 1.5, size))
    return {
        "amount_usd": np.round(amount, 2),
        "merchant_category": [CATEGORIES[c] for c in category],
        "card_present": present,
        "distance_from_home_km": np.round(distance, 1),
        "txn_count_24h": count.astype(np.int64),
    }


def write_training(rng: np.random.Generator) -> None:
    fraud = rng.random(ROWS) < FRAUD_RATE
    seconds = np.sort(rng.uniform(0, 31 * 86400, ROWS))
    features = transactions(rng, ROWS, fraud)
    table = pa.table(
        {
            "transaction_time": pa.array(
                [MONTH + timedelta(seconds=float(s)) for s in seconds], pa.timestamp("us", tz="UTC")
            ),
            "transaction_id": [f"txn_{rng.bytes(6).hex()}" for _ in range(ROWS)],
            "amount_usd": pa.array(features["amount_usd"], pa.float64()),
            "merchant_category": features["merchant_category"],
            "card_present": pa.array(features["card_present"]),
            "distance_from_home_km": pa.array(features["distance_from_home_km"]),
            "txn_count_24h": pa.array(features["txn_count_24h"]),
            "is_fraud": pa.array(fraud),
        }
    )
    path = HERE / "datasets" / "features" / "training_transactions.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")


def fraud_score(features: dict[str, Any], i: int) -> float:
    """A plausible score for the logged response (not the real model's)."""
    z = (
        1.1 * np.log(features["amount_usd"][i] / 60)
        + 0.8 * np.log1p(features["distance_from_home_km"][i] / 20)
        + 0.5 * features["txn_count_24h"][i]
        - 2.0 * features["card_present"][i]
        - 4.5
    )
    return round(float(1 / (1 + np.exp(-z))), 4)


def write_requests(rng: np.random.Generator) -> None:
    fraud = rng.random(REQUESTS) < 0.01
    features = transactions(rng, REQUESTS, fraud, sale=True)
    seconds = np.sort(rng.uniform(0, 12 * 3600, REQUESTS))
    rows = []
    for i in range(REQUESTS):
        challenger = rng.random() < 0.5  # the A/B test splits 50/50
        request_id = str(uuid.UUID(bytes=rng.bytes(16), version=4))
        instance = {
            "amount_usd": float(features["amount_usd"][i]),
            "merchant_category": features["merchant_category"][i],
            "card_present": bool(features["card_present"][i]),
            "distance_from_home_km": float(features["distance_from_home_km"][i]),
            "txn_count_24h": int(features["txn_count_24h"][i]),
        }
        rows.append(
            {
                "timestamp": iso(DAY + timedelta(seconds=float(seconds[i]))),
                "request_id": request_id,
                "endpoint": "scorer",
                "variant": "challenger" if challenger else "champion",
                "model": "fraud",
                "model_version": "2025-03" if challenger else "2024-11",
                "request": {"instances": [instance]},
                "response": {"predictions": [fraud_score(features, i)]},
                "latency_ms": round(float(rng.lognormal(np.log(11.0), 0.3)), 2),
                "status": 200,
            }
        )
    path = HERE / "datasets" / "serving" / "scorer_requests.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows))


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def main() -> None:
    rng = np.random.default_rng(SEED)
    write_training(rng)
    write_requests(rng)


if __name__ == "__main__":
    main()
