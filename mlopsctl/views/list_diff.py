"""How a list changed between two versions: by the elements' identity key where they have one (a
route's weight change is that route changed), else by position, as Terraform shows it."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from mlopsctl.graph import JSON, canonical_json, is_deferred


def _is_object(value: JSON) -> bool:
    return isinstance(value, dict) and not is_deferred(value)


def differ(a: JSON, b: JSON) -> bool:
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
class ListStep:
    """One step through two versions of a list: a run of ``unchanged`` elements (sign ``""``), an
    element removed (``-``, ``old``) or added (``+``, ``new``), or one changed (``~``, both), named
    by the ``identity`` key when the list has one."""

    sign: str
    old: JSON = None
    new: JSON = None
    unchanged: int = 0
    identity: str | None = None


def list_steps(old: Sequence[JSON], new: Sequence[JSON]) -> Iterator[ListStep]:
    """How ``old`` became ``new``: by the elements' identity key when they have one and keep their
    order (a route's weight change is that route changed), else by position (longest common
    subsequence), where an object removed in place of an added one is that object changed, as
    Terraform shows it."""
    key = _identity(old, new)
    if key is not None:
        yield from _keyed_steps(old, new, key)
        return
    matcher = difflib.SequenceMatcher(
        a=[canonical_json(v) for v in old], b=[canonical_json(v) for v in new], autojunk=False
    )
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            yield ListStep("", unchanged=i2 - i1)
            continue
        added, paired = new[j1:j2], 0
        for was in old[i1:i2]:
            if paired < len(added) and _is_object(was) and _is_object(added[paired]):
                yield ListStep("~", was, added[paired])
                paired += 1
            else:
                yield ListStep("-", old=was)
        for now in added[paired:]:
            yield ListStep("+", new=now)


def _keyed_steps(old: Sequence[JSON], new: Sequence[JSON], key: str) -> Iterator[ListStep]:
    before = {canonical_json(v[key]): v for v in old}
    kept = {canonical_json(n[key]) for n in new}
    for v in old:
        if canonical_json(v[key]) not in kept:
            yield ListStep("-", old=v)
    unchanged = 0
    for v in new:
        was = before.get(canonical_json(v[key]))
        if was is not None and not differ(was, v):
            unchanged += 1
            continue
        if unchanged:
            yield ListStep("", unchanged=unchanged)
            unchanged = 0
        yield ListStep("+", new=v) if was is None else ListStep("~", was, v, identity=key)
    if unchanged:
        yield ListStep("", unchanged=unchanged)
