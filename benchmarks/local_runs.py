"""Time `mlopsctl run --local` of every bundled example: each pipeline, batch job and drift monitor.

Each run is a fresh `python -m mlopsctl run NAME FILE --env dev --local` in its own output
folder, monitors with `--act` (a breach retrains: drift -> retrain -> evaluate -> push). The
target is 60 s per run on 2 cores. Prints a Markdown table; exits 1 if a run failed or missed it.
"""

from __future__ import annotations

import argparse
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGET_SECONDS = 60.0
RUNS = [
    ("digits", "train", ()),
    ("digits", "digits-drift", ("--act",)),
    ("fraud-tpu", "train", ()),
    ("fraud-tpu", "scorer-drift", ("--act",)),
    ("sensor-anomaly", "anomaly", ()),
    ("sensor-anomaly", "daily-scores", ()),
    ("sensor-anomaly", "readings-drift", ("--act",)),
    ("sensor-anomaly", "readings-skew", ("--act",)),
]


def _time(example: str, name: str, extra: tuple[str, ...], out: pathlib.Path) -> tuple[float, int]:
    config = ROOT / "examples" / "projects" / example / "mlops.yaml"
    command = [sys.executable, "-m", "mlopsctl", "run", name, str(config), "--env", "dev", "--local"]
    start = time.perf_counter()
    done = subprocess.run([*command, "--out", str(out), *extra], capture_output=True, text=True, check=False)
    return time.perf_counter() - start, done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="Run only this example.")
    options = parser.parse_args()
    print("| example | run | time (s) | target | met |")
    print("| --- | --- | ---: | ---: | --- |")
    failed = False
    with tempfile.TemporaryDirectory() as folder:
        for i, (example, name, extra) in enumerate(RUNS):
            if options.only and example != options.only:
                continue
            seconds, code = _time(example, name, extra, pathlib.Path(folder) / str(i))
            met = code == 0 and seconds <= TARGET_SECONDS
            failed |= not met
            label = " ".join((name, *extra))
            status = "yes" if met else ("**failed**" if code else "**no**")
            print(f"| {example} | `{label}` | {seconds:.1f} | ≤ {TARGET_SECONDS:.0f} | {status} |")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
