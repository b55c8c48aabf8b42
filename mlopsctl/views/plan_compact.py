"""The plan in one line per changed resource, grouped per target as the full text view is:

```
Target prod/us-central1:
  + prod/us-central1/kubernetes:networking.istio.io/v1:VirtualService/fraud
  ~ prod/us-central1/kubernetes:networking.istio.io/v1:VirtualService/scorer  (weight, timeout)
-/+ prod/us-central1/gcp:container/nodePool:NodePool/gpu  (machineType)

Plan: 1 to add, 1 to change, 1 to destroy.
```

An update or replacement names the properties that change: the deepest map keys whose values
differ, or the list or map that gains or loses an element (at most :data:`MAX_NAMES`, then ``…``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from mlopsctl.graph import JSON, canonical_json, is_deferred
from mlopsctl.plan.diff import REPLACE, UPDATE, Plan, ResourceChange, TargetPlan
from mlopsctl.views.colour import Palette, palette
from mlopsctl.views.list_diff import list_steps
from mlopsctl.views.plan_text import sign_of, summary_line

MAX_NAMES = 3


def render_compact(plan: Plan, *, color: bool = False) -> str:
    """The whole plan, one line per change; ``color`` adds ANSI colours to the signs."""
    paint = palette(color)
    sections = [_section(t, paint) for t in plan.targets]
    return "\n\n".join([*sections, summary_line(plan, color=color)]) + "\n"


def _section(plan: TargetPlan, paint: Palette) -> str:
    if not plan.changes:
        return f"Target {plan.target}: no changes."
    return "\n".join([f"Target {plan.target}:", *(compact_line(c, paint) for c in plan.changes)])


def compact_line(change: ResourceChange, paint: Palette) -> str:
    """``  ~ ADDRESS  (weight, timeout)``: the sign, the address, what changes in it."""
    line = f"{paint.sign(sign_of(change), 3)} {change.address}"
    if change.actions in (UPDATE, REPLACE):
        names = changed_properties(change.before, change.after)
        shown = [*names[:MAX_NAMES], "…"] if len(names) > MAX_NAMES else names
        line += f"  ({', '.join(shown)})" if shown else ""
    elif change.importing is not None:
        line += "  (import)"
    return line


def changed_properties(before: dict[str, JSON] | None, after: dict[str, JSON] | None) -> list[str]:
    """The names of what changes between two versions of a resource's inputs, in the order the
    full view shows them, each once."""
    return list(dict.fromkeys(_changed(before or {}, after or {}, "")))


def _changed(old: JSON, new: JSON, name: str) -> Iterator[str]:
    if _is_map(old) and _is_map(new):
        for key in sorted(old.keys() | new.keys()):
            if key not in old or key not in new:
                yield key
            elif canonical_json(old[key]) != canonical_json(new[key]):
                yield from _changed(old[key], new[key], key)
    elif isinstance(old, list) and isinstance(new, list):
        yield from _list_changed(old, new, name)
    else:
        yield name


def _list_changed(old: Sequence[JSON], new: Sequence[JSON], name: str) -> Iterator[str]:
    """A changed element names what changes in it; an element added or removed names the list."""
    for step in list_steps(old, new):
        if step.sign == "~":
            yield from _changed(step.old, step.new, name)
        elif step.sign:
            yield name


def _is_map(value: JSON) -> bool:
    return isinstance(value, dict) and not is_deferred(value)
