"""``start-run``: start a run of a published pipeline version, on a schedule or when new data arrived.

With ``whenNewData`` (docs/runs.md), a run starts only if something changed after the creation
of the pipeline's last run in its experiment (or there is no run yet): an object under the
``gcs`` prefix, the ``bigquery`` table, or a table of the ``bigquery`` dataset. The last run
is the marker, so the stage keeps no state of its own.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from mlopsctl_stage import storage
from mlopsctl_stage.errors import StageError
from mlopsctl_stage.kfp_api import Pipelines, RunTarget


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No role flags: everything is in ``--config``."""


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    target = RunTarget.from_config(config)
    api = Pipelines(target.endpoint)
    watched = config.get("whenNewData")
    experiment_id = None
    if watched is not None:
        experiment_id = api.experiment_id(target)
        assert experiment_id is not None
        last = api.last_run_created(experiment_id)
        changed = newest_change(watched)
        if last is not None and (changed is None or changed <= last):
            print(
                f"No new data in {_describe(watched)} since the last run of {target.pipeline} "
                f"({last.isoformat()}): no run started.",
                flush=True,
            )
            return
        why = "no run yet" if last is None else f"changed {changed} after the last run ({last.isoformat()})"
        print(f"New data in {_describe(watched)}: {why}.", flush=True)
    started = api.start(target, experiment_id)
    print(
        f"Started run {started.run_id} ({started.display_name}) of {target.pipeline_version} "
        f"in experiment {target.experiment} of namespace {target.namespace}.",
        flush=True,
    )


def newest_change(watched: Any) -> datetime | None:
    """When the watched objects, table or dataset last changed, or None when there is nothing there."""
    if isinstance(watched, dict) and isinstance(watched.get("gcs"), str):
        return max((o.updated for o in storage.list_objects(watched["gcs"])), default=None)
    bigquery = watched.get("bigquery") if isinstance(watched, dict) else None
    if isinstance(bigquery, dict) and isinstance(bigquery.get("table"), str):
        return storage.table_modified(bigquery["table"])
    if isinstance(bigquery, dict) and isinstance(bigquery.get("dataset"), str):
        return storage.dataset_modified(bigquery["dataset"])
    raise StageError(
        "whenNewData",
        'must be {"gcs": "gs://B/P/"}, {"bigquery": {"table": "P.D.T"}} or {"bigquery": {"dataset": "P.D"}}',
    )


def _describe(watched: dict[str, Any]) -> str:
    if "gcs" in watched:
        return str(watched["gcs"])
    return str(next(iter(watched["bigquery"].values())))
