"""The valid part of a document with schema errors, so that one run reports every kind of error.

A user should not fix a file in rounds: schema errors first, then the reference errors that they
hid. When a document fails the schema, the parts that fail are cut away (a field, else the object
holding it, climbing until what remains validates) and the semantic checks run on the rest. Their
findings about what was cut away, or that name it, are dropped: they would be guesses.

Only mapping keys are cut, never list items, so every path left still points at the line the user
wrote.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from mlopsctl.config.diagnostics import Diagnostic
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.sourcemap import Path, SourceMap
from mlopsctl.config.validate import model_at, validate_model

_ROUNDS = 25
_ABSENT = object()


def valid_part(
    data: dict[str, Any], errors: Iterable[Diagnostic], sources: SourceMap
) -> tuple[MLOpsConfig | None, list[Path]]:
    """The config that remains once the parts with ``errors`` are cut, and the paths cut.

    ``None`` when nothing useful remains (the cut reached the top level).
    """
    kept = copy.deepcopy(data)
    cut: list[Path] = []
    paths = {d.path for d in errors}
    for _ in range(_ROUNDS):
        for path in sorted(paths, key=len, reverse=True):
            target = _removable(kept, path)
            if len(target) < 2:
                return None, cut  # a top-level section is wrong as a whole
            if _delete(kept, target):
                cut.append(target)
        config, remaining = validate_model(kept, sources)
        if config is not None:
            return config, cut
        paths = {d.path for d in remaining}
    return None, cut


def beyond_cut(findings: Iterable[Diagnostic], cut: list[Path]) -> list[Diagnostic]:
    """The errors among ``findings`` that owe nothing to what was cut.

    Warnings wait for a valid file (an unused name may be used by a part that was cut).
    """
    scopes = [_scope(path) for path in cut]
    names = {f"'{path[-1]}'" for path in cut if isinstance(path[-1], str) and _scope(path) == path}
    return [
        d
        for d in findings
        if d.is_error
        and not any(d.path[: len(scope)] == scope for scope in scopes)
        and not any(name in d.message for name in names)
    ]


def _scope(path: Path) -> Path:
    """What a cut can mislead checks about: the object a cut field belonged to (its defaults now
    stand in for what the user wrote), or the named entry itself."""
    parent = model_at(path[:-1])
    return path[:-1] if isinstance(parent, type) and issubclass(parent, BaseModel) else path


def _removable(data: Any, path: Path) -> Path:
    """The path to cut for an error at ``path``: the value when it exists, else the object that
    lacks it; either way the nearest mapping entry (list items are never cut, see above)."""
    node = data
    existing: Path = ()
    for part in path:
        node = _child(node, part)
        if node is _ABSENT:
            break
        existing = (*existing, part)
    while existing and isinstance(existing[-1], int):
        existing = existing[:-1]
    return existing


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(part, _ABSENT)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return _ABSENT


def _get(data: Any, path: Path) -> Any:
    node = data
    for part in path:
        node = node[part]
    return node


def _delete(data: Any, path: Path) -> bool:
    try:
        parent = _get(data, path[:-1])
    except (KeyError, IndexError, TypeError):
        return False  # an enclosing part was cut already
    if isinstance(parent, dict) and path[-1] in parent:
        del parent[path[-1]]
        return True
    return False
