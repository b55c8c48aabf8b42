"""A stand-in for the ``pulumi`` CLI that Pulumi's Automation API drives, for the pulumi target's tests.

:func:`install` writes a ``pulumi`` executable that runs this module (``python fake_pulumi.py BACKEND
ARGS...``); it answers the commands the Automation API runs (``version``, ``stack ls/select/init/
output/export/import/history/rm``, ``up``, ``destroy``) from BACKEND, a JSON file of stacks, and logs
what changes a stack. It runs no program and calls no cloud: ``up`` reports the resource changes the
backend records. Only the standard library is imported: the script starts without site-packages.
"""

from __future__ import annotations

import json
import pathlib
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

_VALUED = frozenset({"stack", "file", "secrets-provider", "exec-kind", "page-size", "page", "client"})
"""The options of those commands that take a value (``--stack NAME``); the others are flags."""
_TIME = "2026-03-01T00:00:00.000000Z"


@dataclass
class FakeStack:
    """What the backend holds of a stack."""

    outputs: dict[str, Any] = field(default_factory=dict)
    resources: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    """Newest first, as ``pulumi stack history --json`` lists it."""


class FakePulumi:
    """The installed fake: its folder (for PATH) and what it did."""

    def __init__(self, folder: pathlib.Path) -> None:
        self.folder = folder

    @property
    def backend(self) -> pathlib.Path:
        return self.folder / "backend.json"

    def log(self) -> list[tuple[str, ...]]:
        """Each change made to a stack, in order: ``(command, stack, details...)``."""
        path = self.folder / "log.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        return [tuple(json.loads(line)) for line in lines]


def install(
    folder: pathlib.Path, version: str, stacks: dict[str, FakeStack], up_changes: dict[str, int]
) -> FakePulumi:
    """Write ``pulumi`` (reporting ``version``) into ``folder``, with a backend holding ``stacks``;
    each ``up`` reports ``up_changes`` (Pulumi's counts by operation)."""
    folder.mkdir(parents=True)
    fake = FakePulumi(folder)
    backend = {
        "version": version,
        "upChanges": up_changes,
        "stacks": {name: asdict(stack) for name, stack in stacks.items()},
    }
    _save(fake.backend, backend)
    script = folder / "pulumi"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "{__file__}" "{fake.backend}" "$@"\n')
    script.chmod(0o755)
    return fake


def _load(path: pathlib.Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def _save(path: pathlib.Path, backend: dict[str, Any]) -> None:
    path.write_text(json.dumps(backend, indent=1), encoding="utf-8")


def _parse(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """The words and the options (``--name value``, ``--name=value`` or a flag, ``"true"``) of ``args``."""
    words: list[str] = []
    options: dict[str, str] = {}
    rest = iter(args)
    for arg in rest:
        if not arg.startswith("--"):
            words.append(arg)
            continue
        name, equals, value = arg[2:].partition("=")
        options[name] = value if equals else next(rest) if name in _VALUED else "true"
    return words, options


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 255


def run(backend_path: pathlib.Path, args: list[str]) -> int:
    """Answer one ``pulumi ARGS`` command; the exit code."""
    backend = _load(backend_path)
    if args == ["version"]:
        print(backend["version"])
        return 0
    words, options = _parse([a for a in args if a != "--non-interactive"])
    stacks: dict[str, dict[str, Any]] = backend["stacks"]
    name = options.get("stack") or (words[2] if words[:2] in (["stack", "init"], ["stack", "rm"]) else "")
    if words == ["stack", "ls"]:
        print(json.dumps([{"name": n, "current": False} for n in stacks]))
        return 0
    if words[:2] == ["stack", "init"]:
        if name in stacks:
            return _fail(f"stack '{name}' already exists")
        stacks[name] = asdict(FakeStack())
        logged: tuple[str, ...] = ("init", name)
    elif name not in stacks:
        return _fail(f"no stack named '{name}' found")
    else:
        stack = stacks[name]
        if words == ["stack", "select"]:
            return 0
        if words == ["stack", "output"]:
            print(json.dumps(stack["outputs"]))
            return 0
        if words == ["stack", "export"]:
            print(json.dumps({"version": 3, "deployment": {"resources": stack["resources"]}}))
            return 0
        if words == ["stack", "history"]:
            print(json.dumps(stack["history"][: int(options.get("page-size", len(stack["history"])))]))
            return 0
        logged = _change(backend, name, words, options)
    with (backend_path.parent / "log.jsonl").open("a", encoding="utf-8") as log:
        log.write(json.dumps(logged) + "\n")
    _save(backend_path, backend)
    return 0


def _change(backend: dict[str, Any], name: str, words: list[str], options: dict[str, str]) -> tuple[str, ...]:
    """Make the change ``words`` asks of stack ``name``; what the log records of it."""
    stacks: dict[str, dict[str, Any]] = backend["stacks"]
    stack = stacks[name]
    if words == ["stack", "import"]:
        deployment = json.loads(pathlib.Path(options["file"]).read_text(encoding="utf-8"))["deployment"]
        was = {r["urn"]: r.get("protect", False) for r in stack["resources"]}
        stack["resources"] = deployment["resources"]
        freed = [r["urn"] for r in stack["resources"] if was.get(r["urn"]) and not r.get("protect")]
        return ("import", name, *freed)
    if words == ["up"]:
        stack["history"].insert(0, _update("update", backend["upChanges"]))
        print(f"Updating ({name})")
        return ("up", name, options["exec-kind"])
    if words == ["destroy"]:
        deleted = len(stack["resources"])
        stack["resources"], stack["outputs"] = [], {}
        stack["history"].insert(0, _update("destroy", {"delete": deleted}))
        return ("destroy", name)
    if words[:2] == ["stack", "rm"]:
        del stacks[name]
        return ("rm", name)
    raise SystemExit(f"fake pulumi: unexpected command {' '.join(words)}")


def _update(kind: str, changes: dict[str, int]) -> dict[str, Any]:
    return {
        "kind": kind,
        "startTime": _TIME,
        "endTime": _TIME,
        "message": "",
        "environment": {},
        "config": {},
        "result": "succeeded",
        "resourceChanges": changes,
    }


if __name__ == "__main__":
    sys.exit(run(pathlib.Path(sys.argv[1]), sys.argv[2:]))
