"""Which regions of an environment may get its source environment's release, and why not.

A region gets the release after the region before it (for the first region: the last
region of the source environment, ``promotion.from``) runs it, has applied it (see
``history``), has soaked for the ``promotion.soak`` of that region's environment, and
the gates pass: ``validate`` with the new lock, and policy checks when available.
"""

from __future__ import annotations

import enum
import hashlib
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from mlopsctl.config.diagnostics import Diagnostic, plural
from mlopsctl.config.durations import parse_duration
from mlopsctl.config.lock import Lock, LockEntry, Pin, dump_lock, parse_lock
from mlopsctl.config.models.root import Environment
from mlopsctl.config.pins import release_pins
from mlopsctl.config.project import ALL, Validation, validate
from mlopsctl.config.resolve import overlaid
from mlopsctl.config.target import Target
from mlopsctl.graph import canonical_json
from mlopsctl.promote.history import ConfigRepo, applied_since, newest_source


class PromotionError(Exception):
    """A promotion that cannot be asked for as given; the message says why."""


@dataclass(frozen=True)
class Release:
    """The pinned inputs a region runs: config path → value as written."""

    pins: Mapping[str, str]

    @property
    def id(self) -> str:
        return hashlib.sha256(canonical_json(dict(self.pins)).encode()).hexdigest()[:8]

    def summary(self) -> str:
        versions = [f"{_short(p)} {v}" for p, v in sorted(self.pins.items()) if p.endswith(".version")]
        images = sum(not p.endswith(".version") for p in self.pins)
        shown = [*versions, plural(images, "image")] if images else versions
        return ", ".join(shown) or "nothing pinned"

    def fits(self, other: Release) -> bool:
        """Whether ``other`` pins the same values where both pin a place."""
        return all(self.pins[p] == v for p, v in other.pins.items() if p in self.pins)


def _short(path: str) -> str:
    parts = path.removesuffix(".version").split(".")
    return "/".join(p for p in parts[1:] if p not in ("variants", "graph", "steps"))


class Stand(enum.StrEnum):
    CONFIG = "config"
    CURRENT = "current"
    ELIGIBLE = "eligible"
    SOAKING = "soaking"
    WAITING = "waiting"
    BLOCKED = "blocked"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Standing:
    """Where one region stands: what it runs, what it follows, and whether it may move now."""

    target: Target
    runs: Release
    locked: bool
    follows: Target | None
    wants: Release | None
    stand: Stand
    reason: str
    until: datetime | None = None


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Promoter:
    """The current config and lock, its Git history, the deploy repository, and the clock."""

    validation: Validation
    repo: ConfigRepo | None
    deploy: pathlib.Path | None
    now: datetime

    @property
    def environments(self) -> dict[str, Environment]:
        return next(iter(self.validation.targets.values())).config.environments

    def release(self, target: Target) -> Release:
        assert self.validation.document is not None
        entry = self.validation.lock.entries.get(target)
        return Release(release_pins(overlaid(self.validation.document, target, entry)[0]))

    def source_of(self, env: str) -> Target | None:
        """The region an environment's first region follows: the last of ``promotion.from``."""
        source = self.environments[env].promotion.from_env
        return Target(source, self.environments[source].regions[-1]) if source else None

    def assess(self, env: str) -> list[Standing]:
        """Every region of ``env`` in rollout order, before gates."""
        follows = self.source_of(env)
        wants = self.release(follows) if follows else None
        source = follows.env if follows else env  # later regions follow the one before, same release
        found = []
        for region in self.environments[env].regions:
            target = Target(env, region)
            runs, locked = self.release(target), target in self.validation.lock.entries
            if follows is None or wants is None:
                stand, reason, until = Stand.CONFIG, "runs mlops.yaml as written", None
            elif runs.fits(wants):
                stand, reason, until = Stand.CURRENT, f"runs the release of {source}", None
            else:
                stand, reason, until = self._eligibility(follows, wants)
            found.append(Standing(target, runs, locked, follows, wants, stand, reason, until))
            follows = target
        return found

    def _eligibility(self, previous: Target, wants: Release) -> tuple[Stand, str, datetime | None]:
        running = self.release(previous)
        if not running.fits(wants):
            return Stand.WAITING, f"waiting for {previous} (it runs release {running.id})", None
        if self.deploy is None:
            return Stand.UNKNOWN, f"cannot tell when {previous} applied it: pass --repo DEPLOY_REPO", None
        if self.repo is None:
            display = self.validation.source.display
            why = f"{display} is not in Git, so the config commits of its applies cannot be read"
            return Stand.UNKNOWN, f"cannot tell when {previous} applied it: {why}", None
        since = applied_since(self.deploy, previous, dict(running.pins), self.repo)
        if since is None:
            return (*self._not_applied(previous, running), None)
        soak = self.environments[previous.env].promotion.soak
        until = since + timedelta(seconds=parse_duration(soak))
        applied = f"{previous} applied it at {when(since)}, soak {soak}"
        if self.now < until:
            return Stand.SOAKING, f"soaking until {when(until)} ({applied})", until
        return Stand.ELIGIBLE, f"eligible now ({applied})", None

    def _not_applied(self, previous: Target, running: Release) -> tuple[Stand, str]:
        """Why ``previous`` has not applied ``running``, naming an apply that does not count, or
        that this clone of the config cannot tell (it lacks the commit the last apply came from)."""
        assert self.deploy is not None and self.repo is not None
        waiting = f"waiting for {previous} to apply release {running.id}"
        source = newest_source(self.deploy, previous)
        if source is not None and source.endswith("-dirty"):
            dirty = source.removesuffix("-dirty")[:12]
            return (
                Stand.WAITING,
                f"{waiting} from a committed config "
                f"(its last apply came from {dirty}-dirty, with uncommitted changes)",
            )
        if source is not None and not self.repo.has(source):
            return Stand.UNKNOWN, (
                f"cannot tell whether {previous} applied release {running.id}: this clone of the config "
                f"lacks the commit its last apply came from ({source[:12]}); fetch the history, "
                "e.g. 'git fetch --unshallow'"
            )
        return Stand.WAITING, waiting


@dataclass(frozen=True)
class Proposal:
    """The regions that move, the lock they give, and notes about the gates."""

    standings: list[Standing]
    lock: Lock
    moved: Mapping[Target, LockEntry]
    notes: tuple[str, ...] = ()


def entry_for(standing: Standing) -> LockEntry:
    """The lock entry giving ``standing``'s region the release it wants, on the places it has."""
    assert standing.wants is not None
    pins = {p: Pin(v) for p, v in standing.wants.pins.items() if p in standing.runs.pins}
    return LockEntry({**{p: Pin(v) for p, v in standing.runs.pins.items()}, **pins})


def gated(promoter: Promoter, standings: list[Standing], changes: Mapping[Target, LockEntry]) -> Proposal:
    """Run the gates on the lock with ``changes``; regions that fail them are blocked instead."""
    if not changes:
        return Proposal(standings, promoter.validation.lock, {})
    lock = _as_written(promoter.validation.lock.with_entries(changes))
    proposed = validate(promoter.validation.source, ALL, lock)
    errors = [d for d in proposed.diagnostics if d.is_error]
    gate = "validate"
    policy = _policy_errors(proposed) if proposed.ok else []
    if policy:
        errors, gate = policy, "check"
    if errors:
        reason = f"blocked by gate {gate}: {errors[0].to_text().splitlines()[0]}"
        if len(errors) > 1:
            reason += f" (and {len(errors) - 1} more)"
        blocked = [_replace_stand(s, Stand.BLOCKED, reason) if s.target in changes else s for s in standings]
        return Proposal(blocked, promoter.validation.lock, {}, ())
    versions = pipeline_versions(proposed, tuple(changes))
    moved = {t: LockEntry(e.pins, versions[t]) for t, e in changes.items()}
    return Proposal(standings, lock.with_entries(moved), moved, ())


def _as_written(lock: Lock) -> Lock:
    """``lock`` read back from the text it is written as, so that its pins have their lines."""
    return parse_lock(dump_lock(lock).encode(), lock.file)[0]


def _replace_stand(standing: Standing, stand: Stand, reason: str) -> Standing:
    return replace(standing, stand=stand, reason=reason, until=None)


def _policy_errors(validation: Validation) -> list[Diagnostic]:
    """Error findings of the policies (``mlopsctl check``) over the proposed releases."""
    from mlopsctl.compiler import compile_graphs
    from mlopsctl.policies.run import all_policies, check

    return [d for d in check(validation, compile_graphs(validation), all_policies()) if d.is_error]


def pipeline_versions(validation: Validation, targets: tuple[Target, ...]) -> dict[Target, dict[str, str]]:
    """The PipelineVersion each pipeline of each target compiles to."""
    from mlopsctl.compiler import build_graph
    from mlopsctl.compiler.pipelines import PIPELINE_VERSION

    assert validation.document is not None
    found: dict[Target, dict[str, str]] = {}
    for target in targets:
        graph = build_graph(validation.targets[target].config, target, validation.document.base_dir)
        found[target] = {
            str(r.inputs["metadata"]["labels"]["pipelines.kubeflow.org/pipeline"]): r.name
            for r in graph
            if r.type == PIPELINE_VERSION
        }
    return found
