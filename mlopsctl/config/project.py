"""A project's configuration, validated: load, resolve and check every selected target.

:func:`validate` is the whole config stage; its :class:`Validation` is what the compiler reads.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace

from mlopsctl.config.checks import CheckContext, run_checks
from mlopsctl.config.checks.uniqueness import unique_names
from mlopsctl.config.diagnostics import Diagnostic, Severity, did_you_mean, has_errors, normalize
from mlopsctl.config.load import Document, load_file
from mlopsctl.config.lock import Lock, load_lock
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.partial import beyond_cut, valid_part
from mlopsctl.config.resolve import ResolvedTarget, resolve, targets_of
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.sourcemap import SourceMap
from mlopsctl.config.target import Target
from mlopsctl.config.validate import validate_model


@dataclass(frozen=True)
class Selection:
    """Which environments and regions a command covers; empty means all."""

    envs: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()

    def covers(self, target: Target) -> bool:
        return (not self.envs or target.env in self.envs) and (
            not self.regions or target.region in self.regions
        )


ALL = Selection()


@dataclass(frozen=True)
class TargetConfig:
    """A validated configuration for one target, and a hash of its resolved document."""

    target: Target
    config: MLOpsConfig
    config_hash: str
    sources: SourceMap
    """Where each value of the resolved document was written."""


@dataclass
class Validation:
    source: ConfigSource
    document: Document | None
    lock: Lock
    """The pins of mlops.lock that compilation applied (empty without a lock file)."""
    targets: dict[Target, TargetConfig] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.document is not None and not has_errors(self.diagnostics)

    @property
    def project(self) -> str:
        return next(iter(self.targets.values())).config.project.name if self.targets else ""


def validate(source: ConfigSource, selection: Selection = ALL, lock: Lock | None = None) -> Validation:
    """Load, resolve, validate and check every selected target of the config.

    Each target's pins in mlops.lock (beside the config) apply last; ``lock`` replaces that file.
    """
    document, diagnostics = load_file(source.path, source.display)
    if lock is None:
        lock, lock_errors = load_lock(source.path, source.display)
        diagnostics += lock_errors
    result = Validation(source, document, lock)
    if document is None:
        result.diagnostics = normalize(diagnostics)
        return result
    all_targets = targets_of(document)
    if not all_targets:
        _, schema_errors = validate_model(document.data, document.sources)
        diagnostics += schema_errors
    diagnostics += _check_selection(selection, all_targets)
    diagnostics += _unknown_lock_targets(lock, all_targets)
    per_target = {t: _validate_target(result, document, t) for t in all_targets if selection.covers(t)}
    diagnostics += with_targets(per_target)
    reported = {_identity(d) for found in per_target.values() for d in found}
    unselected = [t for t in all_targets if t not in per_target]
    diagnostics += _unselected_errors(result, document, unselected, reported)
    diagnostics += _collisions(document, all_targets, result.targets, selection)
    result.diagnostics = normalize(diagnostics)
    return result


def _collisions(
    document: Document, targets: list[Target], selected: dict[Target, TargetConfig], selection: Selection
) -> list[Diagnostic]:
    """Names that several targets would create; unselected targets count too, as they share the cloud."""
    valid: dict[Target, tuple[MLOpsConfig, SourceMap]] = {}
    for target in targets:
        if target in selected:
            valid[target] = (selected[target].config, selected[target].sources)
            continue
        resolved, _ = resolve(document, target)
        config, _ = validate_model(resolved.data, resolved.sources)
        if config is not None:
            valid[target] = (config, resolved.sources)
    found = unique_names({t: config for t, (config, _) in valid.items()})
    return [
        c.diagnostic.located(valid[c.targets[-1]][1])
        for c in found
        if any(selection.covers(t) for t in c.targets)
    ]


def with_targets(per_target: dict[Target, list[Diagnostic]]) -> list[Diagnostic]:
    """Each target's findings, naming the targets when not all of them share a finding
    (unless its resource address names the target already)."""
    return [
        d
        if len(targets) == len(per_target) or d.address
        else replace(d, message=f"{d.message} (in {', '.join(map(str, targets))})")
        for d, targets in _grouped(per_target)
    ]


def _unknown_lock_targets(lock: Lock, targets: list[Target]) -> list[Diagnostic]:
    return [
        Diagnostic(
            "W302",
            f"{lock.file} has an entry for {t}, which the config does not declare: ignored",
            hint="remove the entry, or declare the region",
            severity=Severity.WARNING,
            position=entry.position,
        )
        for t, entry in lock.entries.items()
        if t not in targets
    ]


def _unselected_errors(
    result: Validation, document: Document, targets: list[Target], reported: set[tuple[object, ...]]
) -> list[Diagnostic]:
    """The errors of the targets a scoped command leaves out, each naming its targets: the whole
    file must be valid before a command writes anything. An error a selected target ``reported``
    already is not repeated: one mistake, one error, whichever targets a command covers."""
    found = {
        t: [
            d
            for d in _validate_target(result, document, t, keep=False)
            if d.is_error and _identity(d) not in reported
        ]
        for t in targets
    }
    return [
        replace(d, message=f"{d.message} (in {', '.join(map(str, named))})") if not d.address else d
        for d, named in _grouped(found)
    ]


def _identity(d: Diagnostic) -> tuple[object, ...]:
    """What makes two targets' findings the same finding."""
    return (d.code, d.position, d.message, d.address)


def _grouped(per_target: dict[Target, list[Diagnostic]]) -> list[tuple[Diagnostic, list[Target]]]:
    seen: dict[tuple[object, ...], tuple[Diagnostic, dict[Target, None]]] = {}
    for target, found in per_target.items():
        for d in found:
            seen.setdefault(_identity(d), (d, {}))[1][target] = None
    return [(d, list(targets)) for d, targets in seen.values()]


def _validate_target(
    result: Validation, document: Document, target: Target, *, keep: bool = True
) -> list[Diagnostic]:
    """The findings of one target; with ``keep``, its validated config joins ``result.targets``."""
    resolved, diagnostics = resolve(document, target, result.lock.entries.get(target))
    config, schema_errors = validate_model(resolved.data, resolved.sources)
    diagnostics += schema_errors
    if config is not None:
        diagnostics += run_checks(CheckContext(config, target, document.base_dir, document.file))
        if keep:
            result.targets[target] = TargetConfig(target, config, _hash(resolved), resolved.sources)
    else:
        part, cut = valid_part(resolved.data, schema_errors, resolved.sources)
        if part is not None:
            placement_known = not any(path[:1] == ("placement",) for path in cut)
            context = CheckContext(
                part, target, document.base_dir, document.file, placement_known=placement_known
            )
            found = run_checks(context)
            diagnostics += beyond_cut(found, cut)
    stale = {d.path for d in diagnostics if d.code == "E313"}  # a stale lock pin says it best
    return [d.located(resolved.sources) for d in diagnostics if d.code == "E313" or d.path not in stale]


def _hash(resolved: ResolvedTarget) -> str:
    text = json.dumps(resolved.data, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _check_selection(selection: Selection, targets: list[Target]) -> list[Diagnostic]:
    envs = {t.env for t in targets}
    regions = {t.region for t in targets}
    found = []
    for option, noun, wanted, known in (
        ("--env", "environment", selection.envs, envs),
        ("--region", "region", selection.regions, regions),
    ):
        for name in wanted:
            if name not in known:
                found.append(
                    Diagnostic(
                        "E307",
                        f"{option} {name}: no such {noun} in the config",
                        hint="; ".join(
                            filter(
                                None,
                                [
                                    did_you_mean(name, known),
                                    f"declared: {', '.join(sorted(known)) or 'none'}",
                                ],
                            )
                        ),
                    )
                )
    if not found and not any(selection.covers(t) for t in targets) and targets:
        found.append(
            Diagnostic(
                "E307",
                "the --env and --region options select no environment/region",
                hint="check which regions each environment declares",
            )
        )
    return found
