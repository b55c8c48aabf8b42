"""Benchmark mlopsctl: start-up time, and validate / plan / render at several project sizes.

    python benchmarks/run.py [--sizes 10 50 200] [--repeat 3] [--regions 3]

Every command runs as a subprocess of the same interpreter (``python -m mlopsctl``). Wall
time is the best of ``--repeat`` runs; peak memory is the child's maximum resident set size.
Prints Markdown tables; exits 1 if any command failed.
"""

from __future__ import annotations

import argparse
import itertools
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

import generate

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "projects" / "digits" / "mlops.yaml"
HELP_TARGET = 6.0
"""`mlopsctl --help` may take at most this many times `python -c pass`."""
VALIDATE_TARGET = 10.0
"""`mlopsctl validate` of the digits example may take at most this many times `python -c pass`."""
LINEAR_TOLERANCE = 2.0
"""Growth is linear when the cost per added endpoint rises by at most this factor across sizes."""
COMMANDS = ("validate", "plan", "render")


@dataclass(frozen=True)
class Measurement:
    seconds: float
    """Best wall time over the repeats."""
    peak_mib: float
    """Largest peak resident set size over the repeats."""
    failure: str | None = None
    """Exit code and last line of stderr of the first failed run."""


def _run_once(args: Sequence[str]) -> tuple[float, float, str | None]:
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)  # rusage of this child alone
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    last_line = stderr.strip().splitlines()[-1:] or [""]
    failure = f"exit {proc.returncode}: {last_line[0][:120]}".replace("|", "/") if proc.returncode else None
    return elapsed, usage.ru_maxrss / 1024, failure  # ru_maxrss is in KiB on Linux


def measure(args: Sequence[str], repeat: int) -> Measurement:
    runs = [_run_once(args) for _ in range(repeat)]
    failure = next((f for _, _, f in runs if f), None)
    return Measurement(min(s for s, _, _ in runs), max(m for _, m, _ in runs), failure)


def mlopsctl(*args: str) -> list[str]:
    return [sys.executable, "-m", "mlopsctl", *args]


def command_args(command: str, config: pathlib.Path) -> list[str]:
    extra = ["--out", str(config.parent / "out")] if command == "render" else []
    return mlopsctl(command, str(config), *extra)


def pipelines_for(endpoints: int) -> int:
    return max(1, endpoints // 5)


def measure_sizes(sizes: Sequence[int], regions: int, repeat: int) -> dict[tuple[int, str], Measurement]:
    """(endpoints, command) → measurement, each size generated into a fresh folder."""
    results: dict[tuple[int, str], Measurement] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix=f"mlopsctl-bench-{size}-") as tmp:
            config = generate.write(pathlib.Path(tmp), size, pipelines_for(size), regions)
            for command in COMMANDS:
                results[size, command] = measure(command_args(command, config), repeat)
    return results


def _verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _failed(m: Measurement) -> str | None:
    return f"failed ({m.failure})" if m.failure else None


def startup_table(repeat: int) -> tuple[list[str], bool]:
    baseline = measure([sys.executable, "-c", "pass"], repeat)
    rows = [
        ("`mlopsctl --help`", measure(mlopsctl("--help"), repeat), HELP_TARGET),
        (
            "`mlopsctl validate` (digits)",
            measure(mlopsctl("validate", str(EXAMPLE)), repeat),
            VALIDATE_TARGET,
        ),
    ]
    lines = [
        "| command | time (ms) | ratio to `python -c pass` | target | met |",
        "| --- | ---: | ---: | ---: | --- |",
        f"| `python -c pass` | {baseline.seconds * 1000:.0f} | 1.0 | | |",
    ]
    all_ok = True
    for label, m, target in rows:
        ratio = m.seconds / baseline.seconds
        ok = m.failure is None and ratio <= target
        all_ok &= m.failure is None
        met = _failed(m) or _verdict(ok)
        lines.append(f"| {label} | {m.seconds * 1000:.0f} | {ratio:.1f} | ≤ {target:g}x | {met} |")
    return lines, all_ok


def size_table(results: dict[tuple[int, str], Measurement], regions: int) -> list[str]:
    lines = [
        "| endpoints | pipelines | prod regions | command | time (s) | peak RSS (MiB) | ms per endpoint |",
        "| ---: | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for (size, command), m in results.items():
        per_endpoint = _failed(m) or f"{m.seconds * 1000 / size:.1f}"
        lines.append(
            f"| {size} | {pipelines_for(size)} | {regions} | `{command}` | {m.seconds:.2f} "
            f"| {m.peak_mib:.0f} | {per_endpoint} |"
        )
    return lines


def marginal_costs(sizes: Sequence[int], seconds: Sequence[float]) -> list[float]:
    """Milliseconds per added endpoint between consecutive sizes (start-up cost cancels out)."""
    points = zip(sizes, seconds, strict=True)
    return [(t2 - t1) * 1000 / (n2 - n1) for (n1, t1), (n2, t2) in itertools.pairwise(points)]


def scaling_table(results: dict[tuple[int, str], Measurement], sizes: Sequence[int]) -> list[str]:
    steps = [f"{a}→{b}" for a, b in itertools.pairwise(sizes)]
    lines = [
        f"| command | {' | '.join(f'ms per added endpoint {s}' for s in steps)} | growth | linear |",
        f"| --- | {' | '.join('---:' for _ in steps)} | ---: | --- |",
    ]
    for command in COMMANDS:
        runs = [results[size, command] for size in sizes]
        if any(m.failure for m in runs):
            lines.append(f"| `{command}` | {' | '.join('-' for _ in steps)} | - | failed |")
            continue
        costs = marginal_costs(sizes, [m.seconds for m in runs])
        if len(costs) < 2:
            growth_text, linear = "-", "needs three sizes"
        elif costs[0] <= 0:
            growth_text, linear = "-", "too fast to tell"
        else:
            growth = costs[-1] / costs[0]
            growth_text, linear = f"{growth:.2f}", _verdict(growth <= LINEAR_TOLERANCE)
        lines.append(f"| `{command}` | {' | '.join(f'{c:.2f}' for c in costs)} | {growth_text} | {linear} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark mlopsctl start-up, validate, plan and render.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 200], help="endpoint counts")
    parser.add_argument("--regions", type=int, default=3, help="prod regions of the generated projects")
    parser.add_argument("--repeat", type=int, default=3, help="runs per command; the best time counts")
    args = parser.parse_args(argv)
    sizes = sorted(set(args.sizes))
    if len(sizes) < 2 or args.repeat < 1:
        parser.error("give at least two distinct sizes and --repeat >= 1")

    startup, startup_ok = startup_table(args.repeat)
    results = measure_sizes(sizes, args.regions, args.repeat)
    print(f"Python {sys.version.split()[0]} on {sys.platform}, best of {args.repeat} runs\n")
    print(
        "\n".join(
            [
                "## Start-up",
                "",
                *startup,
                "",
                "## Size",
                "",
                *size_table(results, args.regions),
                "",
                "## Scaling",
                "",
                *scaling_table(results, sizes),
            ]
        )
    )
    return 0 if startup_ok and not any(m.failure for m in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
