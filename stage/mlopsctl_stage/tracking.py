"""Logging a step's metrics (and parameters) as a Vertex AI experiment run, best effort.

Only when ``MLOPSCTL_EXPERIMENT`` names an experiment, a Metadata context
``projects/P/locations/L/metadataStores/STORE/contexts/EXPERIMENT``: without it nothing is imported and
nothing is logged. The experiment (``system.Experiment``) is created when it does not exist yet, and
the metadata store with it when the region has none, as the Vertex AI SDK does; another step creating
it at the same time is no failure. The run is the context ``EXPERIMENT-RUN`` (``system.ExperimentRun``,
a child of the experiment), as the SDK lays out experiment runs: its metadata holds ``_params``,
``_metrics`` and ``_state``, merged with what earlier steps of the run logged. RUN is the pipeline run's
id, so that logging again (a retried step, another step of the run) updates the same run. With
``MLOPSCTL_TENSORBOARD`` (``projects/P/locations/L/tensorboards/T``, T the TensorBoard's id or its
display name), the metrics are also written as scalars to the TensorBoard run RUN of its experiment
EXPERIMENT.

A failure to log is a warning on stderr, never a failed step.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from mlopsctl_stage import vertex

EXPERIMENT_ENV = "MLOPSCTL_EXPERIMENT"
TENSORBOARD_ENV = "MLOPSCTL_TENSORBOARD"
EXPERIMENT = re.compile(r"(projects/[^/]+/locations/([^/]+)/metadataStores/[^/]+)/contexts/([^/]+)")
TENSORBOARD = re.compile(r"projects/[^/]+/locations/([^/]+)/tensorboards/[^/]+")
KFP_RUN_ID = re.compile(
    r"(?<![0-9a-f])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-f])"
)
"""A KFP run id (a UUID): artifacts live under ``PIPELINE_ROOT/PIPELINE/RUN_ID/``."""
MAX_ID = 128
SCHEMA_VERSION = "0.0.1"
"""Of ``system.Experiment`` and ``system.ExperimentRun`` contexts, as the Vertex AI SDK writes them."""
STORE_TIMEOUT = 300
"""Seconds to wait for a metadata store being created (a long-running operation)."""

Value = float | int | str


def log_run(
    metrics: Mapping[str, float],
    params: Mapping[str, Value] | None = None,
    *,
    run_id: str | None,
    outputs: Sequence[str] = (),
) -> None:
    """Log ``metrics`` and ``params`` to the experiment run of this pipeline run (see :func:`run_name`)."""
    experiment = os.environ.get(EXPERIMENT_ENV)
    if not experiment or not (metrics or params):
        return
    try:
        found = EXPERIMENT.fullmatch(experiment)
        if found is None:
            raise ValueError(f"{EXPERIMENT_ENV} is not projects/P/locations/L/metadataStores/S/contexts/E")
        run = run_name(run_id, outputs)
        if run is None:
            raise ValueError("no run id: pass --run-id, or an artifact output")
        finite = {name: float(v) for name, v in metrics.items() if math.isfinite(v)}
        context = _log_context(experiment, found.group(2), run, finite, dict(params or {}))
        tensorboard = os.environ.get(TENSORBOARD_ENV)
        if tensorboard and finite:
            _log_scalars(tensorboard, found.group(3), run, finite)
        print(f"Logged {len(finite)} metric(s) to experiment run {context}", file=sys.stderr, flush=True)
    except Exception as error:  # best effort: logging never fails the step
        warn(f"metrics not logged to {experiment}: {error}")


def warn(message: str) -> None:
    print(f"mlopsctl-stage: warning: {message}", file=sys.stderr, flush=True)


def run_name(run_id: str | None, outputs: Sequence[str]) -> str | None:
    """The experiment run of this pipeline run: ``run_id`` (``--run-id``), else the KFP run id in the
    path of an output, else a digest of the first output's path (the same for every attempt of the step),
    as a lowercase id (``[a-z0-9-]``); None without any of them."""
    if run_id:
        return _id(run_id)
    for output in outputs:
        found = KFP_RUN_ID.search(output.lower())
        if found:
            return found.group(0)
    if outputs:
        return f"run-{hashlib.sha256(outputs[0].rstrip('/').encode()).hexdigest()[:16]}"
    return None


def _id(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:MAX_ID] or "run"


def _log_context(
    experiment: str, location: str, run: str, metrics: dict[str, float], params: dict[str, Value]
) -> str:
    """Create (or find) the run context, link it to the experiment, merge into its metadata."""
    from google.api_core.exceptions import Conflict
    from google.cloud import aiplatform_v1
    from google.protobuf import json_format  # type: ignore[import-untyped, unused-ignore]

    store, experiment_id = experiment.split("/contexts/")
    context_id = f"{experiment_id}-{run}"[:MAX_ID].rstrip("-")
    name = f"{store}/contexts/{context_id}"
    client = vertex.client("MetadataServiceClient", location)
    _ensure_experiment(client, store, experiment_id)
    try:
        context = client.create_context(
            parent=store,
            context_id=context_id,
            context=aiplatform_v1.Context(
                display_name=run,
                schema_title="system.ExperimentRun",
                schema_version=SCHEMA_VERSION,
                metadata={"_params": {}, "_metrics": {}, "_state": "RUNNING"},
            ),
        )
    except Conflict:  # HTTP 409: ALREADY_EXISTS
        context = client.get_context(name=name)
    with contextlib.suppress(Conflict):  # HTTP 409: ALREADY_EXISTS
        client.add_context_children(context=experiment, child_contexts=[name])
    metadata: dict[str, Any] = json_format.MessageToDict(aiplatform_v1.Context.pb(context).metadata)
    metadata["_params"] = {**(metadata.get("_params") or {}), **params}
    metadata["_metrics"] = {**(metadata.get("_metrics") or {}), **metrics}
    metadata["_state"] = "COMPLETE"
    context.metadata = metadata
    client.update_context(context=context)
    return name


def _ensure_experiment(client: Any, store: str, experiment_id: str) -> None:
    """The experiment context, created unless it exists (HTTP 409, also when a concurrent step created
    it first); its metadata store first if that does not exist yet (HTTP 404)."""
    from google.api_core.exceptions import Conflict, NotFound
    from google.cloud import aiplatform_v1

    def create() -> None:
        with contextlib.suppress(Conflict):  # HTTP 409: ALREADY_EXISTS
            client.create_context(
                parent=store,
                context_id=experiment_id,
                context=aiplatform_v1.Context(
                    display_name=experiment_id,
                    schema_title="system.Experiment",
                    schema_version=SCHEMA_VERSION,
                    metadata={"experiment_deleted": False},
                ),
            )

    try:
        create()
    except NotFound:
        location, _, store_id = store.partition("/metadataStores/")
        with contextlib.suppress(Conflict):
            operation = client.create_metadata_store(
                parent=location, metadata_store_id=store_id, metadata_store=aiplatform_v1.MetadataStore()
            )
            operation.result(timeout=STORE_TIMEOUT)
        create()


def _log_scalars(tensorboard: str, experiment_id: str, run: str, metrics: dict[str, float]) -> None:
    """The metrics as one point (step 1) each, in time series of the TensorBoard run ``run``."""
    from google.cloud import aiplatform_v1 as v1
    from google.protobuf import timestamp_pb2  # type: ignore[import-untyped, unused-ignore]

    found = TENSORBOARD.fullmatch(tensorboard)
    if found is None:
        raise ValueError(f"{TENSORBOARD_ENV} is not projects/P/locations/L/tensorboards/T")
    client = vertex.client("TensorboardServiceClient", found.group(1))
    tensorboard = _tensorboard(client, tensorboard)
    experiment = _ensure(
        client.create_tensorboard_experiment,
        v1.CreateTensorboardExperimentRequest(
            parent=tensorboard,
            tensorboard_experiment_id=_id(experiment_id),
            tensorboard_experiment=v1.TensorboardExperiment(display_name=experiment_id),
        ),
        f"{tensorboard}/experiments/{_id(experiment_id)}",
    )
    tb_run = _ensure(
        client.create_tensorboard_run,
        v1.CreateTensorboardRunRequest(
            parent=experiment, tensorboard_run_id=run, tensorboard_run=v1.TensorboardRun(display_name=run)
        ),
        f"{experiment}/runs/{run}",
    )
    scalar = v1.TensorboardTimeSeries.ValueType.SCALAR
    for metric in metrics:
        _ensure(
            client.create_tensorboard_time_series,
            v1.CreateTensorboardTimeSeriesRequest(
                parent=tb_run,
                tensorboard_time_series_id=_id(metric),
                tensorboard_time_series=v1.TensorboardTimeSeries(display_name=metric, value_type=scalar),
            ),
            f"{tb_run}/timeSeries/{_id(metric)}",
        )
    now = timestamp_pb2.Timestamp()
    now.FromDatetime(datetime.now(UTC))
    client.write_tensorboard_run_data(
        tensorboard_run=tb_run,
        time_series_data=[
            v1.TimeSeriesData(
                tensorboard_time_series_id=_id(metric),
                value_type=scalar,
                values=[v1.TimeSeriesDataPoint(step=1, wall_time=now, scalar=v1.Scalar(value=value))],
            )
            for metric, value in metrics.items()
        ],
    )


def _tensorboard(client: Any, name: str) -> str:
    """The TensorBoard ``name`` as the API names it: one given by its display name in place of its id
    (which Vertex AI assigns) is looked up."""
    from google.cloud import aiplatform_v1 as v1

    parent, _, board = name.rpartition("/tensorboards/")
    if board.isdigit():
        return name
    request = v1.ListTensorboardsRequest(parent=parent, filter=f"display_name={json.dumps(board)}")
    found = next(iter(client.list_tensorboards(request=request)), None)
    if found is None:
        raise ValueError(f"no TensorBoard named {board!r} in {parent}")
    return str(found.name)


def _ensure(create: Any, request: Any, name: str) -> str:
    """``name``, created by ``create(request)`` unless it exists."""
    from google.api_core.exceptions import Conflict

    with contextlib.suppress(Conflict):  # HTTP 409: ALREADY_EXISTS
        create(request=request)
    return name
