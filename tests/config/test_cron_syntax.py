"""Cron expressions are accepted only in the syntax both Kubernetes CronJobs (robfig/cron) and Cloud
Scheduler read: croniter's extensions, and Sunday as 7, would be refused when applied."""

from __future__ import annotations

import pathlib

import pytest
from helpers import MINIMAL, diagnostics

SCHEDULED = MINIMAL + "pipelines:\n  p:\n    steps: {s: {image: x}}\n    schedule: {cron: 'CRON'}\n"


@pytest.mark.parametrize(
    ("cron", "problem"),
    [
        ("0 0 * * 7", "the day of week field '7' is not valid (0-6 or SUN-SAT)"),
        ("0 0 * * 5-7", "the day of week field '5-7' is not valid (0-6 or SUN-SAT)"),
        ("0 0 * * 1#2", "the day of week field '1#2' is not valid (0-6 or SUN-SAT)"),
        ("0 0 * * 5L", "the day of week field '5L' is not valid (0-6 or SUN-SAT)"),
        ("0 0 L * *", "the day of month field 'L' is not valid (1-31)"),
        ("0 0 1W * *", "the day of month field '1W' is not valid (1-31)"),
        ("H 3 * * *", "the minute field 'H' is not valid (0-59)"),
        ("*/15 1-5,7 1-31/2 JAN-DEC/2 MON-FRI", None),
        ("0 0 * * 0-6", None),
    ],
)
def test_only_portable_cron_syntax_is_accepted(
    tmp_path: pathlib.Path, cron: str, problem: str | None
) -> None:
    found = [m for m, _ in diagnostics(tmp_path, SCHEDULED.replace("CRON", cron)) if " E305: " in m]
    expected = [f"15:22: error E305: pipelines.p.schedule.cron: invalid cron expression '{cron}': {problem}"]
    assert found == (expected if problem else [])


@pytest.mark.parametrize(
    ("cron", "problem", "hint"),
    [
        ("0 22-2 * * *", "the hour range '22-2' runs backwards", "write it as 22-23,0-2"),
        ("0 0 25-5 * *", "the day of month range '25-5' runs backwards", "write it as 25-31,1-5"),
        ("0 0 * NOV-FEB *", "the month range 'NOV-FEB' runs backwards", "write it as NOV-DEC,JAN-FEB"),
        ("0 0 * * MON-SUN", "the day of week range 'MON-SUN' runs backwards", "write it as MON-SAT,SUN"),
        ("0 0 * * 6-0", "the day of week range '6-0' runs backwards", "write it as 6,0"),
        ("*/5 22-2/2 * * *", "the hour range '22-2' runs backwards", "write it as 22-23/2,0-2/2"),
    ],
)
def test_a_range_that_runs_backwards_is_refused_with_its_two_ranges(
    tmp_path: pathlib.Path, cron: str, problem: str, hint: str
) -> None:
    """robfig/cron, which Kubernetes validates a CronJob's schedule with, refuses a range whose start is
    after its end; croniter reads it as wrapping around."""
    found = [(m, h) for m, h in diagnostics(tmp_path, SCHEDULED.replace("CRON", cron)) if " E305: " in m]
    message = f"15:22: error E305: pipelines.p.schedule.cron: invalid cron expression '{cron}': {problem}"
    assert found == [(f"{message}, which Kubernetes CronJobs refuse", hint)]
