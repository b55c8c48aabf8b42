"""``mlops.lock``: the release each environment/region runs, committed beside mlops.yaml.

The config's overlays say what an environment *may* run; the lock says what each of
its regions *does* run. An entry holds the release's pins (a config path such as
``endpoints.scorer.variants.champion.version`` and the value written for it) and the
PipelineVersion names the pinned config compiled to. The file is written sorted,
without timestamps: when an entry changed is read from Git history.
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from mlopsctl.config.diagnostics import Diagnostic
from mlopsctl.config.load import Document, load_bytes, load_file
from mlopsctl.config.sourcemap import Path, Position
from mlopsctl.config.target import Target

LOCK_NAME = "mlops.lock"
LOCK_VERSION = 1
HEADER = (
    "# The release each environment/region runs, written by 'mlopsctl promote'.\n"
    "# Review changes to it like code; see docs/promotion.md.\n"
)


@dataclass(frozen=True)
class Pin:
    value: str
    position: Position | None = field(default=None, compare=False)
    """Where the lock file writes it (for diagnostics)."""


@dataclass(frozen=True)
class LockEntry:
    """The release of one region: pins by config path, and the pipeline versions they compile to."""

    pins: Mapping[str, Pin]
    pipeline_versions: Mapping[str, str] = field(default_factory=dict)
    position: Position | None = field(default=None, compare=False)
    """Where the lock file names the region (for diagnostics)."""

    def values(self) -> dict[str, str]:
        return {path: pin.value for path, pin in sorted(self.pins.items())}


@dataclass(frozen=True)
class Lock:
    file: str
    entries: Mapping[Target, LockEntry] = field(default_factory=dict)

    def with_entries(self, changed: Mapping[Target, LockEntry]) -> Lock:
        return Lock(self.file, {**self.entries, **changed})


def lock_path(config: pathlib.Path) -> pathlib.Path:
    return config.parent / LOCK_NAME


def load_lock(config: pathlib.Path, display: str) -> tuple[Lock, list[Diagnostic]]:
    """The lock beside ``config`` (empty when there is none), with findings about its shape."""
    path = lock_path(config)
    name = str(pathlib.Path(display).parent / LOCK_NAME)
    if not path.is_symlink() and not path.exists():
        return Lock(name), []
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):  # a link to nothing, or a loop of links
        hint = "make mlops.lock a regular file beside the config, or delete it to pin nothing"
        message = f"{name} is a link that leads to no file, so it cannot be read"
        return Lock(name), [Diagnostic("E101", message, hint=hint, position=Position(name, 1, 1))]
    if not any(real.is_relative_to(folder) for folder in (config.parent.resolve(), config.resolve().parent)):
        message = f"{name} links outside the folder of the config (to {real}), so it is not read"
        hint = "put the lock file itself beside the config, not a link to it (mlopsctl promote writes it)"
        return Lock(name), [Diagnostic("E101", message, hint=hint, position=Position(name, 1, 1))]
    document, diagnostics = load_file(path, name)
    written = "mlops.lock is written by 'mlopsctl promote':"
    hints = {  # the config's hints would tell how to write an mlops.yaml
        "E101": f"{written} make it a regular file, or delete it to pin nothing",
        "E109": f"{written} restore it from Git, or delete it to pin nothing",
    }
    return _parsed(document, name, [replace(d, hint=hints.get(d.code, d.hint)) for d in diagnostics])


def parse_lock(raw: bytes, name: str) -> tuple[Lock, list[Diagnostic]]:
    document, diagnostics = load_bytes(raw, name, pathlib.Path("."))
    return _parsed(document, name, diagnostics)


def _parsed(document: Document | None, name: str, found: list[Diagnostic]) -> tuple[Lock, list[Diagnostic]]:
    if document is None:
        return Lock(name), found
    where = _Where(document, found)
    version = document.data.get("lockVersion")
    if type(version) is not int or version != LOCK_VERSION:  # YAML true and 1.0 equal 1 in Python
        hint = "this mlopsctl writes and reads that version"
        where.error(("lockVersion",), f"lockVersion must be {LOCK_VERSION}", hint)
    entries: dict[Target, LockEntry] = {}
    for env, regions in where.mapping(("environments",), document.data.get("environments", {})).items():
        for region, raw in where.mapping(("environments", env), regions).items():
            entry = _entry(where, ("environments", env, region), raw)
            if entry is not None:
                entries[Target(env, region)] = entry
    for key in sorted(set(document.data) - {"lockVersion", "environments"}):
        where.error((key,), f"unknown key '{key}' in {LOCK_NAME}", "keep lockVersion and environments")
    return Lock(name, entries), found


def _entry(where: _Where, path: Path, raw: Any) -> LockEntry | None:
    body = where.mapping(path, raw)
    pins = where.strings((*path, "pins"), body.get("pins", {}))
    versions = where.strings((*path, "pipelineVersions"), body.get("pipelineVersions", {}))
    for key in sorted(set(body) - {"pins", "pipelineVersions"}):
        where.error((*path, key), f"unknown key '{key}' in a lock entry", "keep pins and pipelineVersions")
    return LockEntry(
        {p: Pin(v, where.position((*path, "pins", p))) for p, v in pins.items()},
        versions,
        where.document.sources.lookup(path, key=True),
    )


@dataclass
class _Where:
    document: Document
    found: list[Diagnostic]

    def position(self, path: Path) -> Position | None:
        return self.document.sources.lookup(path)

    def error(self, path: Path, message: str, hint: str) -> None:
        self.found.append(Diagnostic("E207", message, path, hint, position=self.position(path)))

    def mapping(self, path: Path, value: Any) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        self.error(path, "expected a mapping", "see docs/promotion.md for the lock file's layout")
        return {}

    def strings(self, path: Path, value: Any) -> dict[str, str]:
        found = self.mapping(path, value)
        for key in [k for k, v in found.items() if not isinstance(v, str)]:
            self.error((*path, key), "expected a string", "quote the value")
        return {k: v for k, v in found.items() if isinstance(v, str)}


def dump_lock(lock: Lock) -> str:
    """The lock file's text: sorted, one entry per environment/region, no timestamps."""
    from mlopsctl.io.yamlio import dump_yaml

    environments: dict[str, dict[str, Any]] = {}
    for target, entry in lock.entries.items():
        body: dict[str, Any] = {"pins": entry.values()}
        if entry.pipeline_versions:
            body["pipelineVersions"] = dict(entry.pipeline_versions)
        environments.setdefault(target.env, {})[target.region] = body
    return HEADER + dump_yaml({"lockVersion": LOCK_VERSION, "environments": environments})
