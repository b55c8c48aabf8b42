"""``start-run``: start a run of a published pipeline, on a schedule or when new data arrived.

The run goes to the backend the config names (:mod:`mlopsctl_stage.runs`): a PipelineVersion on
Kubeflow Pipelines, or a PipelineJob on Vertex AI Pipelines. With ``whenNewData`` (docs/runs.md), a
run starts only if something changed after the creation of the pipeline's last run (in its
experiment on KFP; of its pipeline name and labels on Vertex AI), or there is no run yet: an object
under the ``gcs`` prefix, the ``bigquery`` table, or a table of the ``bigquery`` dataset. The last run
is the marker, so the stage keeps no state of its own.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from mlopsctl_stage import runs, storage
from mlopsctl_stage.errors import StageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No role flags: everything is in ``--config``."""


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    target = runs.from_config(config)
    watched = config.get("whenNewData")
    if watched is not None:
        last = target.last_run_created()
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
    print(target.describe(target.start()), flush=True)


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
