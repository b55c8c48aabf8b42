"""Mutations of an example's mlops.yaml, for the fuzz test: keys dropped, renamed and duplicated,
values of the wrong type, and strings from an injection corpus (``corpus/``).

The mutations of a file are a pure function of its text, so a failure names a mutation that
reproduces.
"""

from __future__ import annotations

import copy
import json
import pathlib
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

CORPUS = pathlib.Path(__file__).parent / "corpus"
KINDS = ("drop", "rename", "duplicate", "type", "inject", "inject-key")
_KEY_LINE = re.compile(r"^\s*[A-Za-z][\w-]*:(\s|$)")


@dataclass(frozen=True)
class Mutation:
    kind: str
    where: str
    text: str

    def __str__(self) -> str:
        return f"{self.kind} {self.where}"


def corpus(name: str) -> list[Any]:
    lines = (CORPUS / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line]


def mutations(text: str, count: int, seed: str) -> list[Mutation]:
    """``count`` mutations of ``text``, spread over the kinds, the same for the same seed."""
    rng = random.Random(seed)
    data = yaml.safe_load(text)
    nodes = list(_nodes(data, ()))
    keyed = [(path, v) for path, v in nodes if path and isinstance(path[-1], str)]
    strings = [(path, v) for path, v in nodes if isinstance(v, str)]
    injected, wrong = corpus("injection.jsonl"), corpus("wrong-types.jsonl")
    found = []
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        if kind == "duplicate":
            lines = text.splitlines(keepends=True)
            at = rng.choice([n for n, line in enumerate(lines) if _KEY_LINE.match(line)])
            found.append(Mutation(kind, f"line {at + 1}", "".join(lines[: at + 1] + lines[at:])))
            continue
        path, value = rng.choice(strings if kind == "inject" else keyed)
        if kind == "drop":
            changed = _set(data, path, _DROP)
        elif kind == "rename":
            changed = _rename(data, path, rng.choice([path[-1] + "s", path[-1][:-1], path[-1].upper()]))
        elif kind == "type":
            changed = _set(data, path, rng.choice([w for w in wrong if type(w) is not type(value)]))
        elif kind == "inject":
            changed = _set(data, path, rng.choice(injected))
        else:
            changed = _rename(data, path, rng.choice([s for s in injected if isinstance(s, str) and s]))
        found.append(Mutation(kind, ".".join(map(str, path)), _dump(changed)))
    return found


_DROP = object()


def _nodes(node: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _nodes(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _nodes(value, (*path, index))


def _parent(data: Any, path: tuple[Any, ...]) -> tuple[Any, Any]:
    changed = copy.deepcopy(data)
    node = changed
    for part in path[:-1]:
        node = node[part]
    return changed, node


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    changed, parent = _parent(data, path)
    if value is _DROP:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return changed


def _rename(data: Any, path: tuple[Any, ...], new: str) -> Any:
    changed, parent = _parent(data, path)
    items = [((new if k == path[-1] else k), v) for k, v in parent.items()]
    parent.clear()
    parent.update(items)
    return changed


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=4096)
