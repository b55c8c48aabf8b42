"""The plan as text, in Terraform's conventions.

Each resource gets a header (``# ADDRESS will be created``), a ``resource``
line signed ``+``, ``~``, ``-`` or ``-/+``, and its inputs: ``+ key = value``,
``~ key = old -> new``, ``- key = value``; maps and lists nest, keys align,
unchanged entries of an update collapse into one comment line. A target whose
changes read exactly as an earlier target's is named on one line instead of
repeating them. An import that changes nothing ``will be imported`` (signed ``=``, as
Pulumi signs it); every import says what it is ``imported from``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring as _quoted

from mlopsctl.config.diagnostics import plural
from mlopsctl.config.sourcemap import format_path
from mlopsctl.config.target import Target
from mlopsctl.graph import JSON, is_deferred
from mlopsctl.plan.diff import (
    CREATE,
    DELETE,
    NO_OP,
    REPLACE,
    UPDATE,
    Action,
    Plan,
    ResourceChange,
    TargetPlan,
)
from mlopsctl.plan.diff import NO_CHANGES as NO_CHANGES
from mlopsctl.plan.diff import summary_line as plain_summary_line
from mlopsctl.views.colour import BOLD, GREEN, RED, Palette, palette
from mlopsctl.views.list_diff import differ, list_steps
from mlopsctl.views.successors import successors

_NO_CHANGES_HEAD = "No changes."
PROTECTED_NOTE = "# (protected: destroying needs --allow-destroy)"
FORCES = "# forces replacement"

# actions -> (sign of the resource line, what the header says will happen)
_KINDS: Mapping[tuple[Action, ...], tuple[str, str]] = {
    CREATE: ("+", "will be created"),
    UPDATE: ("~", "will be updated in-place"),
    DELETE: ("-", "will be destroyed"),
    REPLACE: ("-/+", "must be replaced"),
    NO_OP: ("=", "will be imported"),  # only an import that changes nothing is shown with no-op
}

_BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")

KeyPath = tuple[str, ...]


def render_text(plan: Plan, *, color: bool = False) -> str:
    """The whole plan; ``color`` adds ANSI colours (see :mod:`mlopsctl.views.colour`)."""
    return "".join(text_chunks(plan, color=color))


def text_chunks(plan: Plan, *, color: bool = False) -> Iterator[str]:
    """:func:`render_text` a resource at a time, so that a large plan is written as it is rendered."""
    for piece in _sections(plan.targets, palette(color)):
        yield piece + "\n\n"
    yield summary_line(plan, color=color) + "\n"


def summary_line(plan: Plan, *, color: bool = False) -> str:
    """The last line: ``Plan: 1 to add, 0 to change, 0 to destroy.`` or :data:`NO_CHANGES`."""
    paint, text = palette(color), plain_summary_line(plan)
    if not plan.has_changes:
        rest = text.removeprefix(_NO_CHANGES_HEAD)
        return paint.style(_NO_CHANGES_HEAD, BOLD, GREEN) + paint.style(rest, BOLD)
    return paint.style("Plan:", BOLD) + text.removeprefix("Plan:")


def describe(change: ResourceChange) -> str:
    """What happens to the resource: ``will be created``, ``must be replaced``..."""
    return _KINDS[change.actions][1]


def sign_of(change: ResourceChange) -> str:
    """``+``, ``~``, ``-`` or ``-/+``."""
    return _KINDS[change.actions][0]


def render_change(change: ResourceChange, *, color: bool = False) -> str:
    """One resource's header, resource line and inputs (no trailing newline)."""
    paint = palette(color)
    sign, verb = _KINDS[change.actions]
    lines = [f"  {paint.style(f'# {change.address}', BOLD)} {verb}"]
    if change.source:
        lines.append(f"  # (from {format_path(change.source)} in mlops.yaml)")
    if change.importing is not None:
        lines.append(f"  # (imported from {_quoted(change.importing)})")
    if change.protect and Action.DELETE in change.actions:
        lines.append(f"  {PROTECTED_NOTE}")
    lines.append(f"{paint.sign(sign, 3)} resource {json.dumps(change.type)} {json.dumps(change.name)} {{")
    forced = frozenset(tuple(p.split(".")) for p in change.replace_paths)
    lines += _Renderer(forced, paint).object_entries(change.before, change.after, depth=1, path=())
    lines.append(_indent(0) + "}")
    return "\n".join(lines)


def _sections(targets: Sequence[TargetPlan], paint: Palette) -> Iterator[str]:
    """Each target's header and changes, but a target whose changes read exactly as an earlier one's
    (the addresses aside) is named with the others alike, on one line where the first of them
    stood; what follows that line is held back until the line is complete."""
    held: list[str | Target] = []
    first_of: dict[bytes, Target] = {}
    alike: dict[Target, list[Target]] = {}
    for plan in targets:
        pieces = [f"Target {plan.target}: no changes."]
        if plan.changes:
            shown = _shown(plan.changes, paint)
            first = first_of.setdefault(_reading(plan.changes, shown), plan.target)
            if first != plan.target:
                if first not in alike:
                    held.append(first)
                alike.setdefault(first, []).append(plan.target)
                continue
            pieces = [f"Target {plan.target}:", *shown]
        if held:
            held += pieces
        else:
            yield from pieces
    yield from (s if isinstance(s, str) else _alike_line(alike[s], s) for s in held)


def _reading(changes: Sequence[ResourceChange], shown: Sequence[str]) -> bytes:
    """A digest of how the changes read, their addresses without the target and their headers aside."""
    digest = hashlib.blake2b(digest_size=32)
    for change, text in zip(changes, shown, strict=True):
        digest.update(change.address.removeprefix(f"{change.target}/").encode())
        digest.update(b"\0" + text.split("\n", 1)[1].encode() + b"\1")
    return digest.digest()


def _shown(changes: Sequence[ResourceChange], paint: Palette) -> list[str]:
    """Each change as text; a new immutable version reads as its differences from the one it succeeds."""
    pairs = successors(changes)
    old_of = {old.address: new for new, old in pairs.items()}
    shown = []
    for c in changes:
        if c.address in pairs:
            shown.append(_succeeding(c, pairs[c.address], paint))
        elif c.address in old_of:
            verb = f"will be destroyed (succeeded by {old_of[c.address].rsplit('/', 1)[-1]})"
            shown.append(
                f"  {paint.style(f'# {c.address}', BOLD)} {verb}\n{paint.sign('-', 3)} resource "
                f"{json.dumps(c.type)} {json.dumps(c.name)}"
            )
        else:
            shown.append(render_change(c, color=paint.enabled))
    return shown


def _succeeding(new: ResourceChange, old: ResourceChange, paint: Palette) -> str:
    """A created version, as the changes from the version it succeeds."""
    lines = [f"  {paint.style(f'# {new.address}', BOLD)} will be created, succeeding {old.name}"]
    if new.source:
        lines.append(f"  # (from {format_path(new.source)} in mlops.yaml)")
    lines.append(f"{paint.sign('+', 3)} resource {json.dumps(new.type)} {json.dumps(new.name)} {{")
    lines += _Renderer(frozenset(), paint).object_entries(old.before, new.after, depth=1, path=())
    lines.append(_indent(0) + "}")
    return "\n".join(lines)


def _alike_line(targets: list[Target], first: Target) -> str:
    names = ", ".join(str(t) for t in targets)
    return f"Target{'s' if len(targets) > 1 else ''} {names}: the same changes as {first}."


def _indent(depth: int) -> str:
    """Where the text of an entry at ``depth`` starts: its comments and closing brackets go there."""
    return " " * (4 * depth + 4)


@functools.lru_cache(maxsize=4096)
def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def _scalar(value: JSON) -> str:
    kind = type(value)
    if kind is str:
        return _quoted(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    return "(known after apply)" if is_deferred(value) else json.dumps(value, ensure_ascii=False)


def _inline(value: JSON) -> str:
    """A value on one line: ``{ host = "a", port = { number = 80 } }``."""
    if isinstance(value, dict) and value and _expand(value):
        return "{ " + ", ".join(f"{_key(k)} = {_inline(value[k])}" for k in sorted(value)) + " }"
    if isinstance(value, list) and value:
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    return _scalar(value)


def _expand(value: JSON) -> bool:
    """Maps and lists are shown entry by entry; a deferred value is shown as one."""
    return isinstance(value, dict | list) and not is_deferred(value)


@dataclass(frozen=True)
class _Renderer:
    """Renders values and their differences; marks the lines of replacement-forcing paths."""

    forced: frozenset[KeyPath]
    paint: Palette

    def signed(self, depth: int, sign: str, text: str) -> str:
        return f"{' ' * (4 * depth + 2)}{self.paint.sign(sign)} {text}"

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
        shown = [k for k in keys if k not in old or k not in new or differ(old[k], new[k])]
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
            return [self.signed(depth, "~", f"{label} = {{{mark}"), *body, _indent(depth) + "}"]
        if isinstance(old, list) and isinstance(new, list):
            body = self.list_entries(old, new, depth + 1)
            return [self.signed(depth, "~", f"{label} = [{mark}"), *body, _indent(depth) + "]"]
        if _expand(old) or _expand(new):
            return [*self.value("-", label, old, depth, path), *self.value("+", label, new, depth, None)]
        return [self.signed(depth, "~", f"{label} = {_scalar(old)} -> {_scalar(new)}{mark}")]

    def list_entries(self, old: Sequence[JSON], new: Sequence[JSON], depth: int) -> list[str]:
        """Elements removed, added and changed (see :func:`list_steps`), unchanged runs counted; a
        changed element shows its identity on one line, then its changed entries."""
        lines: list[str] = []
        for step in list_steps(old, new):
            if step.sign == "~":
                lines += self.changed_element(step.old, step.new, step.identity, depth)
            elif step.sign:
                lines += self.element(step.sign, step.old if step.sign == "-" else step.new, depth)
            else:
                lines.append(f"{_indent(depth)}# ({plural(step.unchanged, 'unchanged element')} hidden)")
        return lines

    def changed_element(
        self, old: Mapping[str, JSON], new: Mapping[str, JSON], identity: str | None, depth: int
    ) -> list[str]:
        """``~ {``, the identity on one line (a route's ``destination = { host = "a" }``), the
        changed entries."""
        head = [self.signed(depth, "~", "{")]
        if identity is not None:
            head.append(self.signed(depth + 1, " ", f"{_key(identity)} = {_inline(new[identity])}"))
            old, new = ({k: v for k, v in m.items() if k != identity} for m in (old, new))
        return [*head, *self.object_entries(old, new, depth + 1, None), _indent(depth) + "},"]

    def element(self, sign: str, value: JSON, depth: int) -> list[str]:
        lines = self.value(sign, None, value, depth, None)
        lines[-1] += ","
        return lines

    def value(self, sign: str, label: str | None, value: JSON, depth: int, path: KeyPath | None) -> list[str]:
        """A whole value (a map or list expanded), every line with the same sign."""
        lines: list[str] = []
        head = "" if label is None else f"{label} = "
        self._value_into(lines, self.paint.sign(sign), head, value, depth, path if self.forced else None)
        return lines

    def _value_into(
        self, lines: list[str], sign: str, head: str, value: JSON, depth: int, path: KeyPath | None
    ) -> None:
        """:meth:`value` with ``sign`` painted, appended to ``lines``; ``path`` is followed only while
        it can reach a replacement-forcing path (the hot path of a large plan: every created resource)."""
        if path is not None and not any(f[: len(path)] == path for f in self.forced):
            path = None
        mark = "" if path is None else self.mark(path)
        if isinstance(value, dict) and value and not is_deferred(value):
            width = max(map(len, map(_key, value)))
            lines.append(f"{' ' * (4 * depth + 2)}{sign} {head}{{{mark}")
            for k in sorted(value):
                sub = None if path is None else (*path, k)
                self._value_into(lines, sign, f"{_key(k).ljust(width)} = ", value[k], depth + 1, sub)
            lines.append(_indent(depth) + "}")
        elif isinstance(value, list) and value:
            lines.append(f"{' ' * (4 * depth + 2)}{sign} {head}[{mark}")
            for v in value:
                self._value_into(lines, sign, "", v, depth + 1, None)
                lines[-1] += ","
            lines.append(_indent(depth) + "]")
        else:
            lines.append(f"{' ' * (4 * depth + 2)}{sign} {head}{_scalar(value)}{mark}")

    def mark(self, path: KeyPath | None) -> str:
        return f" {self.paint.style(FORCES, RED)}" if path in self.forced else ""
