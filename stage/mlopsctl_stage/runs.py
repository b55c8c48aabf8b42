"""Starting runs of a published pipeline, on the backend a run target's config names.

A run target is the ``start-run`` config (docs/stages.md, docs/runs.md), also a ``retrain`` entry of
``drift``/``skew``. ``backend`` picks where the run goes: ``kfp`` (the default: a PipelineVersion on
the Kubeflow Pipelines API, :mod:`mlopsctl_stage.kfp_api`) or ``vertex`` (a PipelineJob on Vertex AI
Pipelines, :mod:`mlopsctl_stage.vertex`). Both know when the pipeline's last run was created: the
marker of new-data triggers, so that no backend keeps state of its own; and whether a run of it is not
over yet: what ``retrain-receiver`` asks before it starts another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from mlopsctl_stage.errors import StageError
from mlopsctl_stage.kfp_api import Pipelines, RunTarget

BACKENDS = ("kfp", "vertex")


@dataclass(frozen=True)
class Started:
    run_id: str
    display_name: str
    link: str | None = None
    """The run's page in the Cloud console (Vertex AI)."""


class Runs(Protocol):
    pipeline: str
    """What the run target runs, for messages and reports."""
    version: str

    def last_run_created(self) -> datetime | None:
        """When the newest run of the pipeline was created, or None if it has none."""

    def active_run(self) -> str | None:
        """The id of a run of the pipeline that is queued, pending or running, or None."""

    def start(self) -> Started: ...

    def describe(self, started: Started) -> str:
        """What ``start-run`` prints about a run it started."""


def from_config(config: Any, subject: str = "--config") -> Runs:
    """The runs of the run target ``config`` on its backend."""
    if not isinstance(config, dict):
        raise StageError(subject, "must be an object")
    backend = config.get("backend", "kfp")
    if backend == "vertex":
        from mlopsctl_stage.vertex import VertexRuns, VertexTarget

        return VertexRuns(VertexTarget.from_config(config, subject))
    if backend != "kfp":
        raise StageError(f"{subject}.backend", f"must be one of {', '.join(BACKENDS)}, not {backend!r}")
    return KfpRuns(RunTarget.from_config(config, subject))


class KfpRuns:
    """Runs of a PipelineVersion in the experiment the target names (created if missing)."""

    def __init__(self, target: RunTarget) -> None:
        self.target = target
        self.pipeline = target.pipeline
        self.version = target.pipeline_version
        self._api: Pipelines | None = None
        self._experiment_id: str | None = None

    @property
    def api(self) -> Pipelines:
        if self._api is None:
            self._api = Pipelines(self.target.endpoint)
        return self._api

    def last_run_created(self) -> datetime | None:
        self._experiment_id = self.api.experiment_id(self.target)
        assert self._experiment_id is not None
        return self.api.last_run_created(self._experiment_id)

    def active_run(self) -> str | None:
        """Runs are in the experiment the target names: none when it does not exist yet."""
        self._experiment_id = self.api.experiment_id(self.target, create=False)
        return None if self._experiment_id is None else self.api.active_run(self._experiment_id)

    def start(self) -> Started:
        started = self.api.start(self.target, self._experiment_id)
        return Started(started.run_id, started.display_name)

    def describe(self, started: Started) -> str:
        return (
            f"Started run {started.run_id} ({started.display_name}) of {self.target.pipeline_version} "
            f"in experiment {self.target.experiment} of namespace {self.target.namespace}."
        )
