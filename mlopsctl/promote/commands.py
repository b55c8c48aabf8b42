"""``promote`` and ``status``: what moves where, as library functions the CLI prints."""

from __future__ import annotations

import pathlib
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from mlopsctl.config.diagnostics import did_you_mean
from mlopsctl.config.lock import LockEntry, Pin
from mlopsctl.config.project import Validation
from mlopsctl.config.target import Target
from mlopsctl.io import gitutil
from mlopsctl.output import ApplyError
from mlopsctl.output.gitops import GitopsTarget
from mlopsctl.promote.assess import (
    Promoter,
    PromotionError,
    Proposal,
    Release,
    Stand,
    Standing,
    entry_for,
    gated,
    pipeline_versions,
)
from mlopsctl.promote.history import ConfigRepo


def promoter(validation: Validation, deploy: pathlib.Path | None, now: datetime) -> Promoter:
    """The promoter of ``validation``, reading ``deploy`` (given as ``--repo``) for what was applied."""
    if deploy is not None and (not deploy.is_dir() or gitutil.toplevel(deploy) != deploy.resolve()):
        raise PromotionError(
            f"{deploy} is not the root of a Git repository: --repo takes the deploy repository "
            "that apply commits to"
        )
    if deploy is not None:
        try:  # another project's deploy repository would read as one where nothing applied yet
            GitopsTarget(deploy).applied(validation.project)
        except ApplyError as exc:
            raise PromotionError(str(exc)) from None
    return Promoter(validation, ConfigRepo.of(validation.source.path), deploy, now)


def promote(p: Promoter, to: str, from_env: str | None, regions: Sequence[str]) -> Proposal:
    """Give the eligible regions of ``to`` (of ``regions``, if any) the release of its source."""
    source = _source(p, to, regions)
    if from_env is not None and from_env != source:
        raise PromotionError(
            f"{to} is promoted from {source} (environments.{to}.promotion.from), not from {from_env}: "
            f"{_upstream_advice(p, from_env, source)}use --from {source}"
        )
    if p.deploy is None:
        raise PromotionError("--repo DIR is required: the deploy repository tells what each region applied")
    standings = p.assess(to)
    changes = {
        s.target: entry_for(s)
        for s in standings
        if s.stand is Stand.ELIGIBLE and (not regions or s.target.region in regions)
    }
    proposal = gated(p, standings, changes)
    if proposal.moved and p.environments[to].promotion.approval:
        approval = f"{to} requires approval: have the commit of mlops.lock reviewed before applying it"
        return replace(proposal, notes=(*proposal.notes, approval))
    return proposal


def rollback(p: Promoter, to: str, regions: Sequence[str]) -> Proposal:
    """Give each selected region of ``to`` the lock entry it had before its current one."""
    _source(p, to, regions)
    if p.repo is None:
        display = p.validation.source.display
        raise PromotionError(f"--rollback reads the history of mlops.lock: {display} is not in Git")
    lock = p.validation.lock
    targets = [Target(to, region) for region in regions or p.environments[to].regions]
    selected = [t for t in targets if t in lock.entries]
    if not selected:
        raise PromotionError(f"no region of {to} has an entry in {lock.file}: nothing to roll back")
    changes = {t: _previous(p.repo, t, lock.entries[t]) for t in selected}
    standings = [
        replace(
            s,
            wants=Release(changes[s.target].values()),
            stand=Stand.ELIGIBLE,
            reason=f"rolls back to release {Release(changes[s.target].values()).id} (its previous entry)",
        )
        if s.target in changes
        else s
        for s in p.assess(to)
    ]
    return gated(p, standings, changes)


def adopt(p: Promoter, to: str, regions: Sequence[str]) -> Proposal:
    """Pin what each region of ``to`` without a lock entry compiles to now: start locking it."""
    _source(p, to, regions)
    standings = p.assess(to)
    changes = {
        s.target: LockEntry({path: Pin(v) for path, v in s.runs.pins.items()})
        for s in standings
        if s.target not in p.validation.lock.entries and (not regions or s.target.region in regions)
    }
    adopted = [
        replace(s, wants=s.runs, stand=Stand.ELIGIBLE, reason=f"pins release {s.runs.id} as it runs now")
        if s.target in changes
        else s
        for s in standings
    ]
    return gated(p, adopted, changes)


def _previous(repo: ConfigRepo, target: Target, current: LockEntry) -> LockEntry:
    for entry in repo.lock_history(target):
        if entry is not None and entry.values() != current.values():
            return LockEntry(entry.pins)
    raise PromotionError(f"{target} has no earlier release in the Git history of {repo.lock} to roll back to")


def _source(p: Promoter, to: str, regions: Sequence[str]) -> str:
    """The environment ``to`` is promoted from, after checking the names asked for."""
    envs = p.environments
    if to not in envs:
        raise PromotionError(f"--to {to}: no such environment ({_known(to, envs)})")
    source = envs[to].promotion.from_env
    if source is None:
        raise PromotionError(
            f"{to} is not promoted into: it has no promotion.from and runs mlops.yaml as written"
        )
    for region in regions:
        if region not in envs[to].regions:
            known = _known(region, envs[to].regions)
            raise PromotionError(f"--region {region}: {to} has no such region ({known})")
    return source


def _upstream_advice(p: Promoter, from_env: str, source: str) -> str:
    """What to do first when ``--from`` names another environment than ``source``: promote it into
    ``source`` when it is upstream of it; otherwise (downstream, unrelated, unknown) say what it is."""
    envs = p.environments
    if from_env not in envs:
        return f"--from {from_env} is no environment ({_known(from_env, envs)}); "
    upstream, seen = envs[source].promotion.from_env, {source}
    while upstream is not None and upstream not in seen:
        if upstream == from_env:
            return f"promote {from_env} into {source} first, or "
        seen.add(upstream)
        upstream = envs[upstream].promotion.from_env
    return f"releases do not flow from {from_env} into {source}; "


def _known(name: str, known: Iterable[str]) -> str:
    names = list(known)
    return "; ".join(filter(None, [did_you_mean(name, names), f"declared: {', '.join(names)}"]))


def status(p: Promoter) -> Proposal:
    """Every region of every environment, with where its pending promotion stands."""
    standings: list[Standing] = []
    notes: set[str] = set()
    for env in p.environments:
        found = p.assess(env)
        result = gated(p, found, {s.target: entry_for(s) for s in found if s.stand is Stand.ELIGIBLE})
        standings += result.standings
        notes.update(result.notes)
    notes.update(_pipeline_drift(p))
    return Proposal(standings, p.validation.lock, {}, tuple(sorted(notes)))


def _pipeline_drift(p: Promoter) -> list[str]:
    """Pipelines that compile to another version than the lock records: changed since promotion."""
    entries = {t: e for t, e in p.validation.lock.entries.items() if t in p.validation.targets}
    compiled = pipeline_versions(p.validation, tuple(entries))
    return [
        f"{target}: pipeline {name} compiles to {compiled[target].get(name, '(none)')}, "
        f"mlops.lock records {recorded}: mlops.yaml changed it since the last promotion"
        for target, entry in entries.items()
        for name, recorded in sorted(entry.pipeline_versions.items())
        if compiled[target].get(name) != recorded
    ]
