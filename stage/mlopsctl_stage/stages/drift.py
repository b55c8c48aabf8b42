"""``drift`` and ``skew``: compare an endpoint's recent requests with a baseline, feature by feature.

The config is what ``mlopsctl.compiler.monitoring.drift_config`` writes, plus ``notify`` (alert
channel names). The serving data is the request log (``serving.table``) over the last
``windowSeconds``, sampled at ``serving.samplingRate``; the baseline is ``baseline.table``, a
request log too or a table whose columns are the features. With ``serving.format: vertex`` the serving
table is Vertex AI's request-response log (array instances named by ``serving.positional``; only the
requests of ``serving.deployedModels`` count when given, :mod:`mlopsctl_stage.serving_log`), and with
``baseline.previousWindow`` the baseline is its window before, as Vertex AI's drift. Each feature's distance
(:mod:`mlopsctl_stage.distances`) is compared with its threshold; one row per feature goes to
``output.statistics`` and one per breached feature to ``output.alerts``.

A feature with values on one side only (all null or NaN in the window's requests, or absent from
all of them, while the baseline has values, or the reverse) has no distance but is a breach, with
its reason: a feature the requests lost is drift at its largest (TFDV has no distance for an empty
histogram either and reports a dropped feature as a schema anomaly). Without values on both sides,
or without requests in the window, there is no data: no distance, no breach. A feature missing from
``baseline.table`` (its columns, or every request of a request log) fails the job: the config names a
feature its baseline never had. (The window before, with ``previousWindow``, is requests, as the window.)

On a breach (unless ``--dry-run``) the job

- notifies: it prints one structured log line that Cloud Logging ingests as ``jsonPayload``,
  ``{"severity": "WARNING", "message", "mlopsctl.dev/monitor": NAME, "event": "drift-breach" or
  "skew-breach", "features", "channels"}``, on which the monitor's log-match alert policy fires;
- retrains: it starts a run of each pipeline in ``retrain``, a ``start-run`` config, on its backend
  (:mod:`mlopsctl_stage.runs`: the KFP API, or Vertex AI Pipelines).
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow.compute as pc

from mlopsctl_stage import runs, storage
from mlopsctl_stage.artifacts import write_file
from mlopsctl_stage.distances import Comparison, Reference, against_tallies, reference, tally
from mlopsctl_stage.errors import StageError
from mlopsctl_stage.features import is_request_log, logged_features, summarised_features, table_features
from mlopsctl_stage.serving_log import ServingLog
from mlopsctl_stage.storage.formats import utc_times

MONITOR_LABEL = "mlopsctl.dev/monitor"
KINDS = ("numeric", "categorical")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="Report only: write no rows, take no action.")
    parser.add_argument("--summary", metavar="OUT", help="Write the report as JSON to this path.")


@dataclass(frozen=True)
class Feature:
    name: str
    kind: str
    threshold: float


@dataclass(frozen=True)
class Result:
    feature: Feature
    comparison: Comparison
    one_sided: str | None = None
    """Why the feature breaches without a distance: it has values on one side only."""

    @property
    def breach(self) -> bool:
        distance = self.comparison.distance
        return self.one_sided is not None or (distance is not None and distance > self.feature.threshold)

    @property
    def verdict(self) -> str:
        """How a breach reads in a message: its distance over the threshold, or its reason."""
        if self.one_sided is not None:
            return f"({self.one_sided})"
        return f"{self.comparison.distance:.4f} > {self.feature.threshold:g}"


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    name = _text(config, "monitor")
    kind = str(config.get("type") or args.stage)
    features = _features(config)
    serving_table = _text(config, "serving", "table")
    log = ServingLog.of(config)
    previous = (config.get("baseline") or {}).get("previousWindow") is True
    run_time, start, end = _window(serving_table, config, log)
    kinds = {f.name: f.kind for f in features}
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The baseline is read and summarised while the serving window is read.
        if previous:  # Vertex AI's drift: the window before the serving window
            earlier = (start - timedelta(seconds=config["windowSeconds"]), start)
            baseline_job = pool.submit(_previous, log, serving_table, earlier, kinds)
        else:
            baseline_job = pool.submit(_baseline, _text(config, "baseline", "table"), kinds)
        serving = log.requests(serving_table, (start, end), _rate(config, log))
        baseline_rows, references, positional = baseline_job.result()
    positional = list(log.positional) or positional
    # Each slice of the bodies is counted against the baseline as soon as it is parsed.
    tallies = summarised_features(
        serving,
        kinds,
        f"serving.table ({serving_table})",
        lambda name, values: tally(values, references[name]),
        positional,
        everywhere=False,  # a feature the requests lost has no values there: a one-sided breach
    )
    results = [
        _result(f, against_tallies(tallies.get(f.name, []), references[f.name]), serving.num_rows)
        for f in features
    ]
    _print_table(name, kind, (serving.num_rows, baseline_rows), (start, end), results)
    breached = [r for r in results if r.breach]
    if not args.dry_run:
        outputs = _text(config, "output", "statistics"), _text(config, "output", "alerts")
        _write_rows(outputs, name, run_time, results, breached)
    actions: list[dict[str, Any]] = []
    failures: list[str] = []
    if breached:
        actions, failures = _act(config, name, kind, breached, dry_run=args.dry_run)
    if args.summary:
        write_file(
            args.summary, json.dumps(_summary(name, results, actions), indent=2, sort_keys=True) + "\n"
        )
    if failures:
        raise StageError("retrain", "; ".join(failures))


def _result(feature: Feature, comparison: Comparison, requests: int) -> Result:
    """The feature's result: with values on one side only, a breach with its reason."""
    serving, baseline = comparison.serving_count, comparison.baseline_count
    reason = None
    if requests and not serving and baseline:
        reason = f"no values in the {requests} requests; the baseline has {baseline}"
    elif serving and not baseline:
        reason = f"no values in the baseline; the {requests} requests have {serving}"
    return Result(feature, comparison, reason)


def _text(config: dict[str, Any], *keys: str) -> str:
    value: Any = config
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, str) or not value:
        raise StageError(".".join(keys), "missing from --config")
    return value


def _rate(config: dict[str, Any], log: ServingLog) -> float:
    rate = config["serving"].get("samplingRate", 1.0)
    if not isinstance(rate, int | float) or not 0 < rate <= 1:
        raise StageError("serving.samplingRate", f"must be a number in (0, 1], not {rate!r}")
    if log.vertex and rate != 1:
        raise StageError("serving.samplingRate", "Vertex AI's log is sampled by its endpoint: give none")
    return float(rate)


def _features(config: dict[str, Any]) -> list[Feature]:
    features = config.get("features")
    if not isinstance(features, dict) or not features:
        raise StageError("features", "missing from --config")
    found = []
    for name, spec in sorted(features.items()):
        kind = spec.get("kind") if isinstance(spec, dict) else None
        threshold = spec.get("threshold") if isinstance(spec, dict) else None
        if kind not in KINDS:
            raise StageError(f"features.{name}.kind", f"must be one of {', '.join(KINDS)}, not {kind!r}")
        if not isinstance(threshold, int | float):
            raise StageError(f"features.{name}.threshold", "must be a number")
        found.append(Feature(name, kind, float(threshold)))
    return found


def _window(
    serving_table: str, config: dict[str, Any], log: ServingLog
) -> tuple[datetime, datetime, datetime | None]:
    """(run time, window start, window end or None for no end) of the serving data.

    In a local run the window ends at the settings' ``now`` or, without one, at the newest request.
    """
    seconds = config.get("windowSeconds")
    if not isinstance(seconds, int) or seconds <= 0:
        raise StageError("windowSeconds", "must be a positive integer")
    settings = storage.local_settings()
    clock = datetime.now(UTC)
    if settings is None:
        return clock, clock - timedelta(seconds=seconds), None
    end = settings.now or _newest(serving_table, log)
    return settings.now or clock, end - timedelta(seconds=seconds), end


def _newest(table: str, log: ServingLog) -> datetime:
    times = utc_times(log.read(table, [log.time])[log.time], f"serving.table ({table})")
    newest = pc.max(times).as_py()
    return newest if newest is not None else datetime.now(UTC)


def _baseline(table: str, kinds: dict[str, str]) -> tuple[int, dict[str, Reference], list[str]]:
    """The baseline's row count, its features summarised, and its columns (the names of positional
    instances)."""
    baseline = storage.read_table(table)
    source = f"baseline.table ({table})"
    if not baseline.num_rows:  # every feature would have no distance, read as no drift
        raise StageError(source, "has no rows: the requests have nothing to be compared with")
    if is_request_log(baseline):
        values, columns = logged_features(baseline, kinds, source), []
    else:
        values, columns = table_features(baseline, kinds, source), baseline.column_names
    return baseline.num_rows, {name: reference(kinds[name], v) for name, v in values.items()}, columns


def _previous(
    log: ServingLog, table: str, window: tuple[datetime, datetime], kinds: dict[str, str]
) -> tuple[int, dict[str, Reference], list[str]]:
    """The baseline of Vertex AI's drift: the requests of the window before the serving window."""
    rows = log.requests(table, window, 1.0, last=False)
    source = f"baseline (serving.table {table} from {window[0].isoformat()} to {window[1].isoformat()})"
    if not rows.num_rows:
        raise StageError(source, "has no requests: drift compares the window with the one before it")
    values = logged_features(rows, kinds, source, log.positional, everywhere=False)  # requests, as serving
    return rows.num_rows, {name: reference(kinds[name], v) for name, v in values.items()}, []


def _print_table(
    name: str,
    kind: str,
    counts: tuple[int, int],
    window: tuple[datetime, datetime | None],
    results: list[Result],
) -> None:
    start, end = window
    until = end.isoformat() if end else "now"
    print(
        f"{kind} monitor {name}: {counts[0]} requests from {start.isoformat()} to {until} "
        f"against {counts[1]} baseline rows"
    )
    width = max(len("feature"), *(len(r.feature.name) for r in results))
    line = f"{{:<{width}}}  {{:<11}}  {{:>8}}  {{:>9}}  {{}}"
    print(line.format("feature", "kind", "distance", "threshold", "breach"))
    for r in results:
        distance = "-" if r.comparison.distance is None else f"{r.comparison.distance:.4f}"
        threshold = f"{r.feature.threshold:.4f}"
        breach = ("yes" if r.one_sided is None else f"yes: {r.one_sided}") if r.breach else "no"
        print(line.format(r.feature.name, r.feature.kind, distance, threshold, breach))
    sys.stdout.flush()


def _write_rows(
    outputs: tuple[str, str], name: str, run_time: datetime, results: list[Result], breached: list[Result]
) -> None:
    """One row per feature to the statistics table, one per breached feature to the alerts table."""

    def row(r: Result) -> dict[str, Any]:
        return {
            "run_time": run_time,
            "monitor": name,
            "feature": r.feature.name,
            "kind": r.feature.kind,
            "distance": r.comparison.distance,
            "threshold": r.feature.threshold,
        }

    stats = [
        {
            **row(r),
            "serving_count": r.comparison.serving_count,
            "baseline_count": r.comparison.baseline_count,
            "statistics": json.dumps(r.comparison.statistics | _reason(r), sort_keys=True),
        }
        for r in results
    ]
    statistics, alerts = outputs
    storage.append_rows(statistics, stats)
    storage.append_rows(alerts, [row(r) for r in breached])


def _act(
    config: dict[str, Any], name: str, kind: str, breached: list[Result], *, dry_run: bool
) -> tuple[list[dict[str, Any]], list[str]]:
    """Notify, then start each retraining run; returns the actions and the retrains that failed."""
    channels = [str(c) for c in config.get("notify") or []]
    event = f"{kind}-breach"
    actions: list[dict[str, Any]] = [
        {"type": "notify", "event": event, "channels": channels, "done": not dry_run}
    ]
    if not dry_run:
        print(json.dumps(_log_entry(name, event, breached, channels), sort_keys=True), flush=True)
    failures = []
    for index, entry in enumerate(config.get("retrain") or []):
        target = runs.from_config(entry, subject=f"retrain[{index}]")
        action = {"type": "retrain", "pipeline": target.pipeline, "pipelineVersion": target.version}
        if not dry_run:
            try:
                started = target.start()
                action["runId"] = started.run_id
                print(f"Started run {started.run_id} of {target.version} to retrain.", flush=True)
                if started.link:
                    action["link"] = started.link
                    print(f"Console: {started.link}", flush=True)
            except StageError as error:
                failures.append(f"{target.pipeline}: {error}")
        actions.append({**action, "done": "runId" in action})
    return actions, failures


def _log_entry(name: str, event: str, breached: list[Result], channels: list[str]) -> dict[str, Any]:
    """The structured log line the monitor's alert policy matches (on ``event`` and the monitor label)."""
    listed = ", ".join(f"{r.feature.name} {r.verdict}" for r in breached)
    what = event.removesuffix("-breach")
    return {
        "severity": "WARNING",
        "message": f"{what} monitor {name}: {len(breached)} feature(s) in breach: {listed}",
        MONITOR_LABEL: name,
        "event": event,
        "features": [r.feature.name for r in breached],
        "channels": channels,
    }


def _summary(name: str, results: list[Result], actions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "monitor": name,
        "breached": any(r.breach for r in results),
        "features": {
            r.feature.name: {
                "kind": r.feature.kind,
                "distance": r.comparison.distance,
                "threshold": r.feature.threshold,
                "breach": r.breach,
                "servingCount": r.comparison.serving_count,
                "baselineCount": r.comparison.baseline_count,
                **_reason(r),
            }
            for r in results
        },
        "actions": actions,
    }


def _reason(result: Result) -> dict[str, str]:
    """``{"reason": ...}`` for a feature with values on one side only, else nothing."""
    return {"reason": result.one_sided} if result.one_sided else {}
