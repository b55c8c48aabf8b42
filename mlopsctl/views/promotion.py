"""Text and JSON for ``promote`` and ``status``."""

from __future__ import annotations

import json

from mlopsctl.config.lock import Lock
from mlopsctl.promote.assess import Proposal, Stand, Standing, when

_SETTLED = (Stand.CONFIG, Stand.CURRENT)


def render_promotion(proposal: Proposal, before: Lock) -> str:
    """Per region: where it stands and, unless it is up to date, each pinned input from → to."""
    lines = []
    for s in proposal.standings:
        lines.append(f"{s.target}: {s.reason}")
        if s.stand in _SETTLED or s.wants is None:
            continue
        lines += [f"  {path}: {old} → {new}" for path, old, new in _moves(s)]
        moved = proposal.moved.get(s.target)
        if moved is not None:
            old_entry = before.entries.get(s.target)
            old_versions = old_entry.pipeline_versions if old_entry else {}
            lines += [
                f"  pipeline {name}: {old_versions.get(name, '(not recorded)')} → {version}"
                for name, version in sorted(moved.pipeline_versions.items())
                if old_versions.get(name) != version
            ]
    lines += [f"note: {n}" for n in proposal.notes]
    return "\n".join(lines) + "\n"


def _moves(s: Standing) -> list[tuple[str, str, str]]:
    assert s.wants is not None
    return [
        (path, s.runs.pins[path], value)
        for path, value in sorted(s.wants.pins.items())
        if path in s.runs.pins and s.runs.pins[path] != value
    ]


def render_status_text(proposal: Proposal) -> str:
    lines = []
    for s in proposal.standings:
        where = "mlops.lock" if s.locked else "mlops.yaml"
        lines.append(f"{s.target}: release {s.runs.id} from {where} ({s.runs.summary()})")
        if s.follows is None:
            lines.append(f"  {s.reason}")
        elif s.stand is Stand.CURRENT:
            lines.append(f"  matches {_source_env(proposal, s)}")
        else:
            wants = f" (release {s.wants.id})" if s.wants else ""
            lines.append(f"  behind {_source_env(proposal, s)}{wants}: {s.reason}")
    lines += [f"note: {n}" for n in proposal.notes]
    return "\n".join(lines) + "\n"


def _source_env(proposal: Proposal, s: Standing) -> str:
    """The environment a region's release comes from (its first region follows it)."""
    first = next(x for x in proposal.standings if x.target.env == s.target.env)
    return first.follows.env if first.follows else s.target.env


def render_status_json(proposal: Proposal) -> str:
    targets = [
        {
            "env": s.target.env,
            "region": s.target.region,
            "release": {
                "id": s.runs.id,
                "locked": s.locked,
                "pins": dict(s.runs.pins),
            },
            "follows": str(s.follows) if s.follows else None,
            "source": _source_env(proposal, s) if s.follows else None,
            "matchesSource": None if s.follows is None else s.stand is Stand.CURRENT,
            "stand": s.stand.value,
            "reason": s.reason,
            "until": when(s.until) if s.until else None,
        }
        for s in proposal.standings
    ]
    return json.dumps({"targets": targets, "notes": list(proposal.notes)}, indent=2, sort_keys=True) + "\n"
