"""The serving table a drift or skew job reads: mlopsctl's request log, or Vertex AI's request-response
log (``serving.format: vertex``).

Vertex AI's log holds the requests of every model deployed on the endpoint; ``serving.deployedModels``
keeps those of the monitored model's deployed models (their ``deployed_model_id``), as Model Monitoring
monitors one model version of the endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mlopsctl_stage import storage
from mlopsctl_stage.errors import StageError
from mlopsctl_stage.features import (
    VERTEX_COLUMNS,
    VERTEX_DEPLOYED,
    VERTEX_TIME,
    sample,
    vertex_log_error,
    vertex_requests,
)
from mlopsctl_stage.storage.formats import utc_times

TIME_COLUMN = "timestamp"
SERVING_COLUMNS = (TIME_COLUMN, "request_id", "request", "response")
"""The columns of the request log (``mlopsctl.compiler.bigquery.REQUEST_LOG``) that the comparison reads."""


def _names(config: dict[str, Any], key: str, what: str) -> tuple[str, ...]:
    found = config["serving"].get(key, [])
    if not isinstance(found, list) or not all(isinstance(n, str) for n in found):
        raise StageError(f"serving.{key}", f"must be a list of {what}")
    return tuple(found)


@dataclass(frozen=True)
class ServingLog:
    """The form of the serving table; for Vertex AI's log, the names of array instances' values
    (``serving.positional``) and the deployed models whose requests count (all without any)."""

    vertex: bool
    positional: tuple[str, ...] = ()
    deployed: tuple[str, ...] = ()

    @property
    def time(self) -> str:
        return VERTEX_TIME if self.vertex else TIME_COLUMN

    @staticmethod
    def of(config: dict[str, Any]) -> ServingLog:
        found = config["serving"].get("format", "kserve")
        if found not in ("kserve", "vertex"):
            raise StageError("serving.format", f"must be kserve or vertex, not {found!r}")
        positional = _names(config, "positional", "feature names")
        deployed = _names(config, "deployedModels", "deployed model ids")
        if deployed and found != "vertex":
            raise StageError("serving.deployedModels", "is read only from Vertex AI's log (format: vertex)")
        return ServingLog(found == "vertex", positional, deployed)

    def read(self, table: str, columns: list[str], since: datetime | None = None) -> pa.Table:
        """``columns`` of the serving table (from ``since`` on); a missing column of Vertex AI's log is
        reported saying what that log holds."""
        try:
            return storage.read_table(
                table, columns=columns, since=None if since is None else (self.time, since)
            )
        except StageError as error:
            raise vertex_log_error(f"serving.table ({table})", error) if self.vertex else error from None

    def requests(
        self, table: str, window: tuple[datetime, datetime | None], rate: float, *, last: bool = True
    ) -> pa.Table:
        """The requests logged in ``window`` (its end included if ``last``), as KServe v1 bodies."""
        start, end = window
        columns = [*VERTEX_COLUMNS, VERTEX_DEPLOYED] if self.deployed else VERTEX_COLUMNS
        rows = self.read(table, list(columns if self.vertex else SERVING_COLUMNS), since=start)
        if end is not None and rows.num_rows:
            times = utc_times(rows[self.time], f"serving.table ({table})")
            bound = pa.scalar(end, pa.timestamp("us", "UTC"))
            in_window = pc.less_equal(times, bound) if last else pc.less(times, bound)
            if not pc.all(in_window).as_py():
                rows = rows.filter(in_window)
        if self.deployed:
            ids = pc.cast(rows[VERTEX_DEPLOYED], pa.string())
            kept = rows.filter(pc.is_in(ids, value_set=pa.array(self.deployed)))
            if kept.num_rows < rows.num_rows:
                print(
                    f"serving.table ({table}): {rows.num_rows - kept.num_rows} of {rows.num_rows} requests "
                    f"from {start.isoformat()} were answered by other deployed models than the monitored "
                    f"version's ({VERTEX_DEPLOYED} {', '.join(self.deployed)}), and do not count",
                    flush=True,
                )
            rows = kept.drop_columns([VERTEX_DEPLOYED])
        return vertex_requests(rows, f"serving.table ({table})") if self.vertex else sample(rows, rate)
