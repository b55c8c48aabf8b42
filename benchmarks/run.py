"""Benchmark mlopsctl: start-up, validate / plan / render at several project sizes, and render
against ``kubectl kustomize`` building what render wrote, all in the same run.

    python benchmarks/run.py [--sizes 10 50 200] [--large] [--repeat 3] [--regions 3]

Every command runs as a subprocess (``python -m mlopsctl`` of the same interpreter, and
``kubectl kustomize`` of each ``<env>/<region>`` folder that render wrote). Wall time is the
best of ``--repeat`` runs; peak memory is the child's maximum resident set size. Prints
Markdown tables and which targets are met; exits 1 if any command failed (a missed target
is reported, not a failure).
"""

from __future__ import annotations

import argparse
import itertools
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

import generate

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "projects" / "digits" / "mlops.yaml"
HELP_TARGET = 4.0
"""`mlopsctl --help` may take at most this many times `python -c pass`."""
VALIDATE_TARGET = 8.0
"""`mlopsctl validate` of the digits example may take at most this many times `python -c pass`."""
KUSTOMIZE_TARGET = 0.25
"""`render --out` may take at most this fraction of `kubectl kustomize` of every folder it wrote."""
PLAN_SECONDS = 5.0
PLAN_MIB = 300.0
"""`plan` of the benchmark config may take at most this long and this much memory."""
TARGET_SIZE = 200
"""The benchmark config: 200 endpoints (40 pipelines); the render and plan targets are judged there."""
LARGE_SIZE = 1000
"""The size up to which growth must stay linear (``--large``; render and kustomize take minutes)."""
LINEAR_TOLERANCE = 2.0
"""Growth is linear when the cost per added endpoint rises by at most this factor across sizes."""
COMMANDS = ("validate", "plan", "render")
KUSTOMIZE = "kustomize"
"""The results key of `kubectl kustomize` of the render output."""


@dataclass(frozen=True)
class Measurement:
    seconds: float
    """Best wall time over the repeats."""
    peak_mib: float
    """Largest peak resident set size over the repeats."""
    cpu_seconds: float = 0.0
    """Least processor time (user and system) over the repeats: what load on the machine inflates less."""
    failure: str | None = None
    """Exit code and last line of stderr of the first failed run."""


Results = dict[tuple[int, str], Measurement]


def _run_once(args: Sequence[str]) -> Measurement:
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
    cpu = usage.ru_utime + usage.ru_stime
    return Measurement(elapsed, usage.ru_maxrss / 1024, cpu, failure)  # ru_maxrss is in KiB on Linux


def best(runs: Sequence[Measurement]) -> Measurement:
    """The best time, the largest memory and the first failure of ``runs``."""
    failure = next((m.failure for m in runs if m.failure), None)
    seconds, cpu = min(m.seconds for m in runs), min(m.cpu_seconds for m in runs)
    return Measurement(seconds, max(m.peak_mib for m in runs), cpu, failure)


def measure(args: Sequence[str], repeat: int) -> Measurement:
    return best([_run_once(args) for _ in range(repeat)])


def measure_kustomize(kubectl: str, out: pathlib.Path, repeat: int) -> Measurement:
    """`kubectl kustomize` of every ``<env>/<region>`` folder under ``out``: the best total time."""
    folders = sorted(k.parent for k in out.glob("*/*/kustomization.yaml"))
    if not folders:
        return Measurement(0.0, 0.0, failure=f"no kustomization under {out}")
    totals = []
    for _ in range(repeat):
        runs = [_run_once([kubectl, "kustomize", str(folder)]) for folder in folders]
        failure = next((m.failure for m in runs if m.failure), None)
        seconds, cpu = sum(m.seconds for m in runs), sum(m.cpu_seconds for m in runs)
        totals.append(Measurement(seconds, max(m.peak_mib for m in runs), cpu, failure))
    return best(totals)


def mlopsctl(*args: str) -> list[str]:
    return [sys.executable, "-m", "mlopsctl", *args]


def command_args(command: str, config: pathlib.Path) -> list[str]:
    extra = ["--out", str(config.parent / "out")] if command == "render" else []
    return mlopsctl(command, str(config), *extra)


def pipelines_for(endpoints: int) -> int:
    return max(1, endpoints // 5)


def measure_sizes(sizes: Sequence[int], regions: int, repeat: int, kubectl: str | None) -> Results:
    """(endpoints, command) → measurement, each size generated into a fresh folder; with ``kubectl``
    also (endpoints, KUSTOMIZE): building what render wrote, up to TARGET_SIZE (its time grows
    faster than the square of the size: over two minutes at 200 endpoints)."""
    results: Results = {}
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix=f"mlopsctl-bench-{size}-") as tmp:
            config = generate.write(pathlib.Path(tmp), size, pipelines_for(size), regions)
            for command in COMMANDS:
                results[size, command] = measure(command_args(command, config), repeat)
            if kubectl and size <= TARGET_SIZE and results[size, "render"].failure is None:
                results[size, KUSTOMIZE] = measure_kustomize(kubectl, config.parent / "out", repeat)
    return results


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else "yes" if ok else "**no**"


def _failed(m: Measurement) -> str | None:
    return f"failed ({m.failure})" if m.failure else None


def warm_up() -> None:
    """Run validate, plan and render of the example once, unmeasured: the first run after the code
    changed compiles its bytecode, which the first measured command would otherwise pay."""
    with tempfile.TemporaryDirectory() as out:
        for command, *extra in (("validate",), ("plan",), ("render", "--out", out)):
            args = mlopsctl(command, str(EXAMPLE), *extra)
            subprocess.run(args, cwd=ROOT, capture_output=True, check=False)


def startup(repeat: int) -> tuple[Measurement, Measurement, Measurement]:
    """`python -c pass`, `mlopsctl --help` and `mlopsctl validate` of the digits example."""
    return (
        measure([sys.executable, "-c", "pass"], repeat),
        measure(mlopsctl("--help"), repeat),
        measure(mlopsctl("validate", str(EXAMPLE)), repeat),
    )


def startup_table(baseline: Measurement, runs: Sequence[tuple[str, Measurement, float]]) -> list[str]:
    lines = [
        "| command | time (ms) | ratio to `python -c pass` | target | met |",
        "| --- | ---: | ---: | ---: | --- |",
        f"| `python -c pass` | {baseline.seconds * 1000:.0f} | 1.0 | | |",
    ]
    for label, m, target in runs:
        ratio = m.seconds / baseline.seconds
        met = _failed(m) or _verdict(ratio <= target)
        lines.append(f"| {label} | {m.seconds * 1000:.0f} | {ratio:.1f} | ≤ {target:g}x | {met} |")
    return lines


def size_table(results: Results, regions: int) -> list[str]:
    lines = [
        "| endpoints | pipelines | prod regions | command | time (s) | CPU (s) | peak RSS (MiB) "
        "| ms per endpoint |",
        "| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for (size, command), m in results.items():
        label = "`kubectl kustomize` (every folder)" if command == KUSTOMIZE else f"`{command}`"
        per_endpoint = _failed(m) or f"{m.seconds * 1000 / size:.1f}"
        lines.append(
            f"| {size} | {pipelines_for(size)} | {regions} | {label} | {m.seconds:.2f} | {m.cpu_seconds:.2f} "
            f"| {m.peak_mib:.0f} | {per_endpoint} |"
        )
    return lines


def kustomize_ratio(results: Results, size: int) -> float | None:
    """`render` time over `kubectl kustomize` time at ``size`` (None when either was not measured)."""
    render, kustomize = results.get((size, "render")), results.get((size, KUSTOMIZE))
    if render is None or kustomize is None or render.failure or kustomize.failure or not kustomize.seconds:
        return None
    return render.seconds / kustomize.seconds


def kustomize_table(results: Results, sizes: Sequence[int]) -> list[str]:
    lines = [
        "| endpoints | `render` (s) | `kubectl kustomize` (s) | ratio | target |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for size in sizes:
        ratio = kustomize_ratio(results, size)
        if ratio is None:
            lines.append(f"| {size} | - | - | not measured | ≤ {KUSTOMIZE_TARGET:g} |")
            continue
        render, kustomize = results[size, "render"], results[size, KUSTOMIZE]
        times = f"{render.seconds:.2f} | {kustomize.seconds:.2f}"
        lines.append(f"| {size} | {times} | {ratio:.2f} | ≤ {KUSTOMIZE_TARGET:g} |")
    return lines


def marginal_costs(sizes: Sequence[int], seconds: Sequence[float]) -> list[float]:
    """Milliseconds per added endpoint between consecutive sizes (start-up cost cancels out)."""
    points = zip(sizes, seconds, strict=True)
    return [(t2 - t1) * 1000 / (n2 - n1) for (n1, t1), (n2, t2) in itertools.pairwise(points)]


def growth(results: Results, sizes: Sequence[int], command: str) -> float | None:
    """How much the cost per added endpoint rose from the first step to the last (None: cannot tell)."""
    runs = [results[size, command] for size in sizes]
    if any(m.failure for m in runs):
        return None
    costs = marginal_costs(sizes, [m.seconds for m in runs])
    return costs[-1] / costs[0] if len(costs) >= 2 and costs[0] > 0 else None


def scaling_table(results: Results, sizes: Sequence[int]) -> list[str]:
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
        found = growth(results, sizes, command)
        if found is None:
            growth_text, linear = "-", "needs three sizes" if len(costs) < 2 else "too fast to tell"
        else:
            growth_text, linear = f"{found:.2f}", _verdict(found <= LINEAR_TOLERANCE)
        lines.append(f"| `{command}` | {' | '.join(f'{c:.2f}' for c in costs)} | {growth_text} | {linear} |")
    return lines


Row = tuple[str, str, bool | None]
"""A target, what was measured against it, and whether it is met (None: not measured)."""


def startup_target(label: str, m: Measurement, baseline: Measurement, target: float) -> Row:
    ratio = m.seconds / baseline.seconds
    return f"{label} ≤ {target:g}x `python -c pass`", f"{ratio:.1f}x", m.failure is None and ratio <= target


def render_target(results: Results) -> Row:
    ratio = kustomize_ratio(results, TARGET_SIZE)
    return (
        f"`render` ≤ {KUSTOMIZE_TARGET:g}x `kubectl kustomize` of its output ({TARGET_SIZE} endpoints)",
        "-" if ratio is None else f"{ratio:.2f}x",
        None if ratio is None else ratio <= KUSTOMIZE_TARGET,
    )


def plan_target(results: Results) -> Row:
    plan = results.get((TARGET_SIZE, "plan"))
    label = f"`plan` ≤ {PLAN_SECONDS:g} s and ≤ {PLAN_MIB:g} MiB ({TARGET_SIZE} endpoints)"
    if plan is None or plan.failure:
        return label, "-", None
    ok = plan.seconds <= PLAN_SECONDS and plan.peak_mib <= PLAN_MIB
    return label, f"{plan.seconds:.2f} s, {plan.peak_mib:.0f} MiB", ok


def linear_target(results: Results, sizes: Sequence[int]) -> Row:
    growths = {c: growth(results, sizes, c) for c in COMMANDS}
    measured = ", ".join(f"{c} {'-' if g is None else f'{g:.2f}'}" for c, g in growths.items())
    found = [g for g in growths.values() if g is not None]
    reached = max(sizes) >= LARGE_SIZE and len(found) == len(COMMANDS)
    ok = all(g <= LINEAR_TOLERANCE for g in found) if reached else None
    return f"linear growth to {LARGE_SIZE:,} endpoints (growth ≤ {LINEAR_TOLERANCE:g})", measured, ok


def targets_table(rows: Sequence[Row]) -> list[str]:
    lines = ["| target | measured | met |", "| --- | --- | --- |"]
    return lines + [f"| {target} | {measured} | {_verdict(ok)} |" for target, measured, ok in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark mlopsctl start-up, validate, plan and render.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, TARGET_SIZE], help="endpoint counts")
    parser.add_argument(
        "--large", action="store_true", help=f"also {LARGE_SIZE} endpoints (minutes: run with --repeat 1)"
    )
    parser.add_argument("--regions", type=int, default=3, help="prod regions of the generated projects")
    parser.add_argument("--repeat", type=int, default=3, help="runs per command; the best time counts")
    args = parser.parse_args(argv)
    sizes = sorted(set(args.sizes) | ({LARGE_SIZE} if args.large else set()))
    if len(sizes) < 2 or args.repeat < 1:
        parser.error("give at least two distinct sizes and --repeat >= 1")

    kubectl = shutil.which("kubectl")
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    warm_up()
    runs = startup(args.repeat)
    results = measure_sizes(sizes, args.regions, args.repeat, kubectl)
    baseline, help_run, validate_run = runs
    python = f"Python {sys.version.split()[0]} on {sys.platform}"
    print(f"{python}, {os.cpu_count()} CPUs, best of {args.repeat} runs")
    print(f"load average at the start: {load}; kubectl: {kubectl or 'not found'}\n")
    startup_rows = [
        ("`mlopsctl --help`", help_run, HELP_TARGET),
        ("`mlopsctl validate` (digits)", validate_run, VALIDATE_TARGET),
    ]
    print(
        "\n".join(
            [
                "## Start-up",
                "",
                *startup_table(baseline, startup_rows),
                "",
                "## Size",
                "",
                *size_table(results, args.regions),
                "",
                "## Render against kustomize",
                "",
                *kustomize_table(results, sizes),
                "",
                "## Scaling",
                "",
                *scaling_table(results, sizes),
                "",
                "## Targets",
                "",
                *targets_table(
                    [
                        startup_target("`--help`", help_run, baseline, HELP_TARGET),
                        startup_target("`validate` (digits)", validate_run, baseline, VALIDATE_TARGET),
                        render_target(results),
                        plan_target(results),
                        linear_target(results, sizes),
                    ]
                ),
            ]
        )
    )
    failed = any(m.failure for m in (*runs, *results.values()))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
