"""Semantic checks over one resolved, schema-valid configuration.

Each check is a small function registered with :func:`check`; it receives a
:class:`CheckContext` and yields diagnostics whose ``path`` points into the
resolved document (positions are attached later from the source map).
"""

from __future__ import annotations

import itertools
import pathlib
import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from mlopsctl.config.diagnostics import Diagnostic
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.target import Target


@dataclass(frozen=True)
class CheckContext:
    config: MLOpsConfig
    target: Target
    base_dir: pathlib.Path
    """Folder of mlops.yaml, for files it names (schema files, template folders)."""
    file: str = "mlops.yaml"
    """mlops.yaml as the user names it, to name the files beside it the same way."""
    placement_known: bool = True
    """False when ``config`` is the valid part of a document whose ``placement`` had schema errors
    (:mod:`mlopsctl.config.partial` cut them, so the defaults stand in for what the user meant)."""

    def shown(self, path: pathlib.Path) -> str:
        """How the user names ``path``, a file inside ``base_dir``."""
        relative = path.relative_to(self.base_dir.resolve()).as_posix()
        return posixpath.join(posixpath.dirname(self.file), relative)


Check = Callable[[CheckContext], Iterable[Diagnostic]]
_CHECKS: list[Check] = []


def check(fn: Check) -> Check:
    """Register a semantic check."""
    _CHECKS.append(fn)
    return fn


def run_checks(ctx: CheckContext) -> list[Diagnostic]:
    """The findings of every check; when the placement is not known, only those that every placement
    of the sections it leaves unset would give (a node pool fit on GKE is a guess when the user meant
    ``vertex`` and misspelled it)."""
    _load_builtin_checks()
    if ctx.placement_known:
        return [d for fn in _CHECKS for d in fn(ctx)]
    placement = ctx.config.placement
    unset = [f for f in ("pipelines", "endpoints", "monitors") if f not in placement.model_fields_set]
    runs = []
    for values in itertools.product(("gke", "vertex"), repeat=len(unset)):
        chosen = placement.model_copy(update=dict(zip(unset, values, strict=True)))
        config = ctx.config.model_copy(update={"placement": chosen})
        runs.append([d for fn in _CHECKS for d in fn(replace(ctx, config=config, placement_known=True))])
    return [d for d in runs[0] if all(d in run for run in runs[1:])]


def _load_builtin_checks() -> None:
    # Imported for their @check registrations.
    from mlopsctl.config.checks import (  # noqa: F401
        accelerators,
        alerts,
        bigquery_schema,
        cidrs,
        columns,
        dag,
        external,
        features,
        files,
        kfp,
        names,
        parameters,
        pipelines,
        placement,
        platform,
        policies,
        references,
        repeats,
        resources,
        roles,
        rollout,
        runtimes_fit,
        schedules,
        serving,
        slices,
        stages,
        uniqueness,
    )
