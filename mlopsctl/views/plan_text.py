"""The plan as text, in Terraform's conventions.

Each resource gets a header (``# ADDRESS will be created``), a ``resource``
line signed ``+``, ``~``, ``-`` or ``-/+``, and its inputs: ``+ key = value``,
``~ key = old -> new``, ``- key = value``; maps and lists nest, keys align,
unchanged entries of an update collapse into one comment line.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlopsctl.config.diagnostics import plural
from mlopsctl.config.sourcemap import format_path
from mlopsctl.graph import JSON, is_deferred
from mlopsctl.plan.diff import CREATE, DELETE, REPLACE, UPDATE, Action, Plan, ResourceChange, TargetPlan
from mlopsctl.graph import canonical_json

NO_CHANGES = "No changes. Your infrastructure matches the configuration."
PROTECTED_NOTE = "# (protected: destroying needs --allow-destroy)"

# actions -> (sign of the resource line, what the header says will happen)
_KINDS: Mapping[tuple[Action, ...], tuple[str, str]] = {
    CREATE: ("+", "will be created"),
    UPDATE: ("~", "will be updated in-place"),
    DELETE: ("-", "will be destroyed"),
    REPLACE: ("-/+", "must be replaced"),
}

_BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")

KeyPath = tuple[str, ...]


def render_text(plan: Plan) -> str:
    sections = [_render_target(t) for t in plan.targets]
    return "\n\n".join([*sections, summary_line(plan)]) + "\n"


def summary_line(plan: Plan) -> str:
    if not plan.has_changes:
        return NO_CHANGES
    s = plan.summary
    return f"Plan: {s.add} to add, {s.change} to change, {s.destroy} to destroy."


def describe(change: ResourceChange) -> str:
    """What happens to the resource: ``will be created``, ``must be replaced``..."""
    return _KINDS[change.actions][1]


def render_change(change: ResourceChange) -> str:
    """One resource's header, resource line and inputs (no trailing newline)."""
    sign, verb = _KINDS[change.actions]
    lines = [f"  # {change.address} {verb}"]
    if change.source:
        lines.append(f"  # (from {format_path(change.source)} in mlops.yaml)")
    if change.protect and Action.DELETE in change.actions:
        lines.append(f"  {PROTECTED_NOTE}")
    lines.append(f"{sign:>3} resource {json.dumps(change.type)} {json.dumps(change.name)} {{")
    forced = frozenset(tuple(p.split(".")) for p in change.replace_paths)
    lines += _Renderer(forced).object_entries(change.before, change.after, depth=1, path=())
    lines.append(_indent(0) + "}")
    return "\n".join(lines)


def _render_target(plan: TargetPlan) -> str:
    if not plan.changes:
        return f"Target {plan.target}: no changes."
    return "\n\n".join([f"Target {plan.target}:", *(render_change(c) for c in plan.changes)])


def _indent(depth: int) -> str:
    """Where the text of an entry at ``depth`` starts: its comments and closing brackets go there."""
    return " " * (4 * depth + 4)


def _signed(depth: int, sign: str, text: str) -> str:
    return f"{' ' * (4 * depth + 2)}{sign} {text}"


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _scalar(value: JSON) -> str:
    return "(known after apply)" if is_deferred(value) else json.dumps(value, ensure_ascii=False)


def _expand(value: JSON) -> bool:
    """Maps and lists are shown entry by entry; a deferred value is shown as one."""
    return isinstance(value, dict | list) and not is_deferred(value)


def _differ(a: JSON, b: JSON) -> bool:
    return canonical_json(a) != canonical_json(b)


IDENTITY_KEYS = ("name", "key", "destination")
"""What names a list element: containers, env vars, ports, routes, volumes by ``name``; tolerations
by ``key``; weighted route destinations by ``destination``."""


def _identity(old: Sequence[JSON], new: Sequence[JSON]) -> str | None:
    """The key that names every element of both lists, once each, with the elements both hold in
    the same order (a reordering matters, as Istio takes the first route that matches)."""
    for key in IDENTITY_KEYS:
        if not all(isinstance(v, dict) and key in v for v in (*old, *new)):
            continue
        ids_old = [canonical_json(v[key]) for v in old]
        ids_new = [canonical_json(v[key]) for v in new]
        if len(set(ids_old)) != len(ids_old) or len(set(ids_new)) != len(ids_new):
            continue
        common = set(ids_old) & set(ids_new)
        if [i for i in ids_old if i in common] == [i for i in ids_new if i in common]:
            return key
        return None
    return None


@dataclass(frozen=True)
class _Renderer:
    """Renders values and their differences; marks the lines of replacement-forcing paths."""

    forced: frozenset[KeyPath]

    def object_entries(
        self,
        before: Mapping[str, JSON] | None,
        after: Mapping[str, JSON] | None,
        depth: int,
        path: KeyPath | None,
    ) -> list[str]:
        """The entries of a map: added, removed and changed ones shown, unchanged ones counted."""
        old, new = before or {}, after or {}
        keys = sorted(old.keys() | new.keys())
        shown = [k for k in keys if k not in old or k not in new or _differ(old[k], new[k])]
        width = max((len(_key(k)) for k in shown), default=0)
        lines: list[str] = []
        for k in shown:
            label = _key(k).ljust(width)
            sub = None if path is None else (*path, k)
            if k not in old:
                lines += self.value("+", label, new[k], depth, sub)
            elif k not in new:
                lines += self.value("-", label, old[k], depth, sub)
            else:
                lines += self.changed(label, old[k], new[k], depth, sub)
        hidden = len(keys) - len(shown)
        if hidden:
            lines.append(f"{_indent(depth)}# ({plural(hidden, 'unchanged attribute')} hidden)")
        return lines

    def changed(self, label: str, old: JSON, new: JSON, depth: int, path: KeyPath | None) -> list[str]:
        """A value present before and after, with a different content."""
        mark = self.mark(path)
        if isinstance(old, dict) and isinstance(new, dict) and _expand(old) and _expand(new):
            body = self.object_entries(old, new, depth + 1, path)
            return [_signed(depth, "~", f"{label} = {{{mark}"), *body, _indent(depth) + "}"]
        if isinstance(old, list) and isinstance(new, list):
            body = self.list_entries(old, new, depth + 1)
            return [_signed(depth, "~", f"{label} = [{mark}"), *body, _indent(depth) + "]"]
        if _expand(old) or _expand(new):
            return [*self.value("-", label, old, depth, path), *self.value("+", label, new, depth, None)]
        return [_signed(depth, "~", f"{label} = {_scalar(old)} -> {_scalar(new)}{mark}")]

    def list_entries(self, old: Sequence[JSON], new: Sequence[JSON], depth: int) -> list[str]:
        """Elements removed, added and changed: by their identity key when they have one and keep
        their order (a route's weight change reads ``~ weight = 5 -> 25``), else by position
        (longest common subsequence); unchanged runs counted."""
        key = _identity(old, new)
        if key is not None:
            return self.keyed_entries(old, new, key, depth)
        matcher = difflib.SequenceMatcher(
            a=[canonical_json(v) for v in old], b=[canonical_json(v) for v in new], autojunk=False
        )
        lines: list[str] = []
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                lines.append(f"{_indent(depth)}# ({plural(i2 - i1, 'unchanged element')} hidden)")
                continue
            for v in old[i1:i2]:
                lines += self.element("-", v, depth)
            for v in new[j1:j2]:
                lines += self.element("+", v, depth)
        return lines

    def keyed_entries(self, old: Sequence[JSON], new: Sequence[JSON], key: str, depth: int) -> list[str]:
        before = {canonical_json(v[key]): v for v in old}
        lines = [
            line
            for v in old
            if canonical_json(v[key]) not in {canonical_json(n[key]) for n in new}
            for line in self.element("-", v, depth)
        ]
        unchanged = 0
        for v in new:
            was = before.get(canonical_json(v[key]))
            if was is not None and not _differ(was, v):
                unchanged += 1
                continue
            if unchanged:
                lines.append(f"{_indent(depth)}# ({plural(unchanged, 'unchanged element')} hidden)")
                unchanged = 0
            if was is None:
                lines += self.element("+", v, depth)
                continue
            identity = self.value(" ", _key(key), v[key], depth + 1, None)
            without = {k: x for k, x in was.items() if k != key}
            body = self.object_entries(without, {k: x for k, x in v.items() if k != key}, depth + 1, None)
            lines += [_signed(depth, "~", "{"), *identity, *body, _indent(depth) + "},"]
        if unchanged:
            lines.append(f"{_indent(depth)}# ({plural(unchanged, 'unchanged element')} hidden)")
        return lines

    def element(self, sign: str, value: JSON, depth: int) -> list[str]:
        lines = self.value(sign, None, value, depth, None)
        lines[-1] += ","
        return lines

    def value(self, sign: str, label: str | None, value: JSON, depth: int, path: KeyPath | None) -> list[str]:
        """A whole value (a map or list expanded), every line with the same sign."""
        head = "" if label is None else f"{label} = "
        mark = self.mark(path)
        if isinstance(value, dict) and value and _expand(value):
            width = max(len(_key(k)) for k in value)
            body = [
                line
                for k in sorted(value)
                for line in self.value(
                    sign, _key(k).ljust(width), value[k], depth + 1, None if path is None else (*path, k)
                )
            ]
            return [_signed(depth, sign, f"{head}{{{mark}"), *body, _indent(depth) + "}"]
        if isinstance(value, list) and value:
            body = [line for v in value for line in self.element(sign, v, depth + 1)]
            return [_signed(depth, sign, f"{head}[{mark}"), *body, _indent(depth) + "]"]
        return [_signed(depth, sign, f"{head}{_scalar(value)}{mark}")]

    def mark(self, path: KeyPath | None) -> str:
        return " # forces replacement" if path in self.forced else ""
