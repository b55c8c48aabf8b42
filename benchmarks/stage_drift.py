"""Benchmark the ``drift`` stage: 1,000,000 logged requests x 50 features within 10 seconds on 2 cores.

    python benchmarks/stage_drift.py [--rows 1000000] [--features 50] [--repeat 1]

Writes, under a temporary local root, a request log (Parquet, as the request logger's rows:
one KServe v1 instance per request, its JSON body as text) and a baseline table of as many
rows, with 80% numeric and 20% categorical features, half of them drifted; then runs
``mlopsctl-stage drift`` on them in this process (local mode) and prints the wall time of the
stage alone. Exits 1 when the best time misses the target.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mlopsctl_stage.cli import main

TARGET_SECONDS = 10.0
SERVING = "bench.logs.requests"
BASELINE = "bench.training.baseline"
END = datetime(2025, 1, 1, tzinfo=UTC)


def features_table(rows: int, features: int, shift: float, seed: int) -> pa.Table:
    """Random features: the first 80% numeric (shifted by ``shift`` for every other one), the rest
    categorical over 20 values."""
    rng = np.random.default_rng(seed)
    numeric = int(features * 0.8)
    vocabulary = np.array([f"v{i}" for i in range(20)], dtype=object)
    columns: dict[str, pa.Array] = {}
    for i in range(features):
        if i < numeric:
            columns[f"n{i}"] = pa.array(rng.normal(shift * (i % 2), 1, rows).round(5))
        else:
            columns[f"c{i}"] = pa.array(vocabulary[rng.integers(0, len(vocabulary), rows)])
    return pa.table(columns)


def request_log(features: pa.Table) -> pa.Table:
    """The features as request-log rows, each body built with Arrow's string kernels."""
    parts: list[Any] = []
    for index, name in enumerate(features.column_names):
        values = pc.cast(features[name], pa.string())
        quoted = pc.binary_join_element_wise('"', values, '"', "") if name.startswith("c") else values
        parts += [("{" if index == 0 else ",") + f'"{name}":', quoted]
    request = pc.binary_join_element_wise('{"instances":[', *parts, "}]}", "")
    rows = features.num_rows
    seconds = np.arange(rows, dtype=np.int64) * 60 // max(rows // 1440, 1)
    return pa.table(
        {
            "timestamp": pa.array(int(END.timestamp()) - seconds, pa.timestamp("s", tz="UTC")),
            "request_id": pc.cast(pa.array(np.arange(rows)), pa.string()),
            "request": request,
            "response": pa.array(['{"predictions":[0.5]}'] * rows),
            "status": pa.array(np.full(rows, 200)),
        }
    )


def config(features: pa.Table) -> dict[str, Any]:
    return {
        "monitor": "bench",
        "type": "drift",
        "serving": {"table": SERVING, "samplingRate": 1.0},
        "baseline": {"table": BASELINE},
        "windowSeconds": int(timedelta(days=2).total_seconds()),
        "features": {
            name: {"kind": "categorical" if name.startswith("c") else "numeric", "threshold": 0.1}
            for name in features.column_names
        },
        "output": {"statistics": "bench.training.stats", "alerts": "bench.training.alerts"},
        "notify": [],
        "retrain": [],
    }


def main_benchmark() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=1)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp, "data")
        (root / "bigquery").mkdir(parents=True)
        baseline = features_table(options.rows, options.features, 0.0, seed=1)
        pq.write_table(baseline, root / "bigquery" / f"{BASELINE}.parquet")
        serving = request_log(features_table(options.rows, options.features, 1.0, seed=2))
        pq.write_table(serving, root / "bigquery" / f"{SERVING}.parquet")
        settings = Path(temp, "local.json")
        settings.write_text(json.dumps({"root": str(root), "now": END.isoformat()}))
        os.environ["MLOPSCTL_STAGE_LOCAL"] = str(settings)
        summary = Path(temp, "summary.json")
        best, cpu = float("inf"), 0.0
        for _ in range(options.repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            with contextlib.redirect_stdout(io.StringIO()):
                main(["drift", "--config", json.dumps(config(baseline)), "--summary", str(summary)])
            if time.perf_counter() - start < best:
                best, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        report = json.loads(summary.read_text())
    drifted = sum(f["breach"] for f in report["features"].values())
    counts = {f["servingCount"] for f in report["features"].values()}
    met = best <= TARGET_SECONDS and counts == {options.rows}
    print(
        f"drift: {options.rows:,} requests x {options.features} features against {options.rows:,} baseline "
        f"rows: {best:.2f} s ({cpu:.2f} s of CPU), {drifted} features drifted "
        f"(target <= {TARGET_SECONDS:.0f} s: {'met' if met else 'MISSED'})"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main_benchmark())
