"""Cloud limits of multi-host TPU slices: GKE runs one pod per host of such a slice, all at once.

A slice whose topology has more chips than its machine type carries spans several hosts
(nodes), and its chips work only together: the compiler runs a distributed ``train`` step
there as a JobSet with one pod per host. A step that runs as one pod (a plain ``train``, a
container step asking for chips, each trial of a ``tune``) cannot use such a slice.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from mlopsctl.config import catalog
from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.diagnostics import Diagnostic
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.models.compute import TpuPool
from mlopsctl.config.models.pipelines import Step
from mlopsctl.config.sourcemap import Path
from mlopsctl.config.wording import with_article


@dataclass(frozen=True)
class _OnSlice:
    """A step placed on a multi-host TPU slice."""

    what: str
    step: Step
    step_path: Path
    pool_name: str
    pool_path: Path
    """Where the pool is named: the step's nodePool, or the pipeline's that it inherits."""
    pool: TpuPool
    tpu_slice: catalog.TpuSlice

    def describe(self) -> str:
        s = self.tpu_slice
        return (
            f"node pool '{self.pool_name}', {with_article(s.topology)} TPU {s.version} slice "
            f"of {s.hosts} hosts ({s.machine_type}, {s.chips_per_host} chips each)"
        )


def _on_slices(config: MLOpsConfig) -> Iterator[_OnSlice]:
    for p, pipeline in config.pipelines.items():
        for s, step in pipeline.steps.items():
            pool_name = step.resources.node_pool or pipeline.node_pool
            pool = config.accelerators.get(pool_name or "")
            if pool_name is None or not isinstance(pool, TpuPool):
                continue
            tpu_slice = catalog.tpu_machine_type(pool.version, pool.topology, pool.machine_type)
            if tpu_slice is None or not tpu_slice.multi_host:
                continue  # a single host, or a slice the accelerator checks refuse
            step_path: Path = ("pipelines", p, "steps", s)
            pool_path: Path = (
                (*step_path, "resources", "nodePool")
                if step.resources.node_pool
                else ("pipelines", p, "nodePool")
            )
            what = f"{step.kind} step '{s}' of pipeline '{p}'"
            yield _OnSlice(what, step, step_path, pool_name, pool_path, pool, tpu_slice)


def _single_host_pools(config: MLOpsConfig) -> list[str]:
    found = []
    for name, pool in config.accelerators.items():
        if isinstance(pool, TpuPool):
            tpu_slice = catalog.tpu_machine_type(pool.version, pool.topology, pool.machine_type)
            if tpu_slice is not None and not tpu_slice.multi_host:
                found.append(name)
    return found


def _largest_single_host(version: str) -> str | None:
    """``topology T, machineType M``: the largest slice of ``version`` that one host carries."""
    for topology in reversed(catalog.tpu_topologies(version)):
        for machine_type in catalog.tpu_machine_types(version, topology):
            found = catalog.tpu_machine_type(version, topology, machine_type)
            if found is not None and not found.multi_host:
                return f"topology {topology}, machineType {machine_type}"
    return None


def _single_host_hint(config: MLOpsConfig, at: _OnSlice, subject: str) -> str:
    pools = _single_host_pools(config)
    if pools:
        return f"place {subject} on a single-host pool: {', '.join(pools)}"
    example = _largest_single_host(at.pool.version)
    return f"place {subject} on a TPU pool whose slice one host carries" + (
        f", e.g. {example}" if example else ""
    )


@check
def multi_host_slices(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A distributed ``train`` runs one worker per host of its slice; nothing else uses such a slice."""
    for at in _on_slices(ctx.config):
        step, hosts = at.step, at.tpu_slice.hosts
        if step.kind == "train" and step.distributed is not None:
            if step.distributed.workers != hosts:
                yield Diagnostic(
                    "E403",
                    f"{at.what} runs {step.distributed.workers} workers on {at.describe()}",
                    path=(*at.step_path, "distributed", "workers"),
                    hint=f"set workers to {hosts}: one pod per host of the slice",
                )
            chips = at.tpu_slice.chips_per_host
            if step.resources.accelerators not in (0, chips):
                yield Diagnostic(
                    "E403",
                    f"{at.what} asks for {step.resources.accelerators} TPU chips per worker on "
                    f"{at.describe()}",
                    path=(*at.step_path, "resources", "accelerators"),
                    hint=f"set accelerators to {chips}, or leave it out: each worker takes every chip of "
                    "its host, as the slice's chips work only together",
                )
        elif step.kind == "tune":
            yield Diagnostic(
                "E403",
                f"{at.what} runs each trial as one pod, which cannot use {at.describe()}",
                path=at.pool_path,
                hint=_single_host_hint(ctx.config, at, "the trials"),
            )
        elif step.kind == "train":
            yield Diagnostic(
                "E403",
                f"{at.what} runs as one pod, which cannot use {at.describe()}",
                path=at.pool_path,
                hint=f"add 'distributed' with workers: {hosts} (one pod per host), "
                "or place the step on a single-host pool",
            )
        elif step.resources.accelerators:
            yield Diagnostic(
                "E403",
                f"{at.what} runs as one pod, which cannot use the TPU chips of {at.describe()}",
                path=at.pool_path,
                hint=_single_host_hint(ctx.config, at, "the step"),
            )


@check
def multi_host_pool_sizes(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A multi-host slice is created, scaled and repaired whole: its node count is its host count."""
    for name, pool in ctx.config.accelerators.items():
        if not isinstance(pool, TpuPool) or "max_nodes" not in pool.autoscaling.model_fields_set:
            continue
        tpu_slice = catalog.tpu_machine_type(pool.version, pool.topology, pool.machine_type)
        if tpu_slice is None or not tpu_slice.multi_host or pool.autoscaling.max_nodes == tpu_slice.hosts:
            continue
        yield Diagnostic(
            "E403",
            f"node pool '{name}' scales to {pool.autoscaling.max_nodes} nodes, but its {pool.topology} TPU "
            f"{pool.version} slice is {tpu_slice.hosts} hosts that GKE adds and removes only together",
            path=("accelerators", name, "autoscaling", "maxNodes"),
            hint=f"set maxNodes to {tpu_slice.hosts}, or leave it out; for more slices, declare another pool",
        )
