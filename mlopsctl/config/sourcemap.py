"""Source positions of values in mlops.yaml, keyed by their path in the document."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

PathPart = str | int
Path = tuple[PathPart, ...]


@dataclass(frozen=True, order=True)
class Position:
    """A 1-based line and column in a file."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


def format_path(path: Path) -> str:
    """Render a path the way a user reads it: ``endpoints.fraud.variants[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "(document)"


@dataclass
class SourceMap:
    """Where each key and value of a document was written.

    ``values`` maps a path to the position of the value at that path; ``keys``
    maps a path to the position of the mapping key that introduced it (so an
    unknown key can be pointed at exactly).
    """

    values: dict[Path, Position] = field(default_factory=dict)
    keys: dict[Path, Position] = field(default_factory=dict)

    def lookup(self, path: Path, *, key: bool = False) -> Position | None:
        """The position of ``path``, or of its nearest ancestor that has one."""
        first, second = (self.keys, self.values) if key else (self.values, self.keys)
        for end in range(len(path), -1, -1):
            found = first.get(path[:end]) or second.get(path[:end])
            if found is not None:
                return found
        return None

    def subtree(self, root: Path) -> Iterator[tuple[Path, Position, bool]]:
        """Every recorded position under ``root``: (relative path, position, is_key)."""
        n = len(root)
        for table, is_key in ((self.values, False), (self.keys, True)):
            for path, pos in table.items():
                if path[:n] == root:
                    yield path[n:], pos, is_key

    def graft(self, source: SourceMap, src_root: Path, dst_root: Path) -> None:
        """Copy the positions under ``src_root`` of ``source`` to ``dst_root`` here."""
        self.drop(dst_root)
        for rel, pos, is_key in list(source.subtree(src_root)):
            (self.keys if is_key else self.values)[dst_root + rel] = pos

    def drop(self, root: Path) -> None:
        """Forget every position at or under ``root``."""
        n = len(root)
        for table in (self.values, self.keys):
            for path in [p for p in table if p[:n] == root]:
                del table[path]

    def copy(self) -> SourceMap:
        return SourceMap(dict(self.values), dict(self.keys))
