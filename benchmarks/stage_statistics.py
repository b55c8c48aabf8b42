"""Benchmark the ``statistics`` stage: 1,000,000 rows x 50 features within 10 seconds on 2 cores.

    python benchmarks/stage_statistics.py [--rows 1000000] [--features 50] [--repeat 1]

Writes an examples artifact (train split only) of random features to a temporary folder — 70%
float, 20% integer, 10% string with 1,000 distinct values, 1% of values missing — then runs
``mlopsctl-stage statistics`` on it in this process and prints the wall time of the stage alone.
Exits 1 when the best time misses the target.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from mlopsctl_stage.cli import main
from mlopsctl_stage.tables import write_examples

TARGET_SECONDS = 10.0


def examples_table(rows: int, features: int, seed: int = 0) -> pa.Table:
    """``features`` random columns: floats, then integers, then strings; 1% of each missing."""
    rng = np.random.default_rng(seed)
    floats, ints = int(features * 0.7), int(features * 0.2)
    vocabulary = np.array([f"value-{i}" for i in range(1000)], dtype=object)
    columns: dict[str, pa.Array] = {}
    for i in range(features):
        missing = rng.random(rows) < 0.01
        if i < floats:
            columns[f"f{i}"] = pa.array(rng.normal(i, 1 + i, rows), mask=missing)
        elif i < floats + ints:
            columns[f"i{i}"] = pa.array(rng.integers(0, 100 * (i + 1), rows), mask=missing)
        else:
            columns[f"s{i}"] = pa.array(vocabulary[rng.integers(0, len(vocabulary), rows)], mask=missing)
    return pa.table(columns)


def main_benchmark() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=1)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        examples, statistics = Path(temp, "examples"), Path(temp, "statistics")
        write_examples(examples, {"train": examples_table(options.rows, options.features)}, {"label": None})
        best = float("inf")
        for _ in range(options.repeat):
            start = time.perf_counter()
            main(["statistics", "--examples", str(examples), "--statistics", str(statistics)])
            best = min(best, time.perf_counter() - start)
    met = best <= TARGET_SECONDS
    print(
        f"statistics: {options.rows:,} rows x {options.features} features: {best:.2f} s "
        f"(target <= {TARGET_SECONDS:.0f} s: {'met' if met else 'MISSED'})"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main_benchmark())
