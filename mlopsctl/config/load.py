"""Load mlops.yaml into plain data plus a source map, refusing unsafe or ambiguous YAML.

The YAML is composed into a node graph with ruamel.yaml and turned into data
here, so that every duplicate key, non-string key and oversized alias
expansion is reported with its position (not just the first), and every
key and value keeps the line and column it was written at.
"""

from __future__ import annotations

import codecs
import pathlib
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from mlopsctl.config.diagnostics import Diagnostic, bad_scalar
from mlopsctl.config.source import NotRegularFile, read_regular
from mlopsctl.config.sourcemap import Path, Position, SourceMap
from mlopsctl.config.yamlnodes import compose_documents

MAX_BYTES = 1024 * 1024
"""Largest file accepted."""
ALIAS_EXPANSION_FACTOR = 10
"""Aliases may expand the document to at most this many times its distinct nodes (plus a floor)."""
ALIAS_EXPANSION_FLOOR = 10_000
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists accepted."""
MAX_CHARACTER_ERRORS = 20
"""Lines with a forbidden character reported at most (as a UTF-16 file would fill every line)."""
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
"""Control characters other than tab, line feed and carriage return; lone surrogates; noncharacters."""
_LINE_BREAK = re.compile("\r\n?|\n")
_MERGE_TAG = "tag:yaml.org,2002:merge"
_CORE_TAGS = {
    "map": {"tag:yaml.org,2002:map"},
    "seq": {"tag:yaml.org,2002:seq"},
    "scalar": {
        f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "timestamp", "merge")
    },
}
"""Tags a node of each kind may carry (implicitly resolved, or written as ``!!str`` and the like)."""


@dataclass(frozen=True)
class Document:
    """A loaded mlops.yaml: its data, where each part was written, and the folder it lives in."""

    file: str
    data: dict[str, Any]
    sources: SourceMap
    base_dir: pathlib.Path


class _Abort(Exception):
    """Stops building after a diagnostic that makes the rest meaningless."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        self.diagnostic = diagnostic


def load_file(path: pathlib.Path, display: str | None = None) -> tuple[Document | None, list[Diagnostic]]:
    """Read and load ``path``; ``display`` is the name used in diagnostics (default: the path).

    A directory, FIFO, device or socket is refused before it is opened or read.
    """
    name = display or str(path)
    hint = "pass the path of your mlops.yaml, or run in its folder"
    try:
        raw = read_regular(path, MAX_BYTES + 1)
    except FileNotFoundError:
        return None, [_file_error("E101", name, f"cannot read {name}: no such file", hint)]
    except NotRegularFile as exc:
        return None, [_file_error("E101", name, f"cannot read {name}: it {exc}", hint)]
    except OSError as exc:
        return None, [_file_error("E101", name, f"cannot read {name}: {exc.strerror or exc}", hint)]
    return load_bytes(raw, name, path.resolve().parent)


def load_bytes(raw: bytes, file: str, base_dir: pathlib.Path) -> tuple[Document | None, list[Diagnostic]]:
    """Load YAML text given as bytes (from a file or from a Git object)."""
    if len(raw) > MAX_BYTES:
        message = f"{file} is larger than {MAX_BYTES // 1024} KiB"
        return None, [_file_error("E102", file, message, "split the project or shorten the file")]
    raw = raw.removeprefix(codecs.BOM_UTF8)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        line = raw[: exc.start].count(b"\n") + 1
        column = len(raw[line_start : exc.start].decode("utf-8", errors="replace")) + 1
        return None, [
            Diagnostic(
                "E103",
                f"invalid UTF-8 byte 0x{raw[exc.start]:02x}",
                hint="save the file as UTF-8",
                position=Position(file, line, column),
            )
        ]
    refused = _forbidden_characters(text, file) or _tab_indentation(text, file)
    if refused:
        return None, refused
    try:
        return _compose(text, file, base_dir)
    except _Abort as abort:
        return None, [abort.diagnostic]


def _file_error(code: str, file: str, message: str, hint: str, at: tuple[int, int] = (1, 1)) -> Diagnostic:
    return Diagnostic(code, message, hint=hint, position=Position(file, *at))


def _describe(char: str) -> str:
    """``control character U+0007``, ``lone surrogate U+D800``: what a forbidden character is."""
    kinds = {"\ufffe": "noncharacter", "\uffff": "noncharacter"}
    kind = kinds.get(char, "lone surrogate" if "\ud800" <= char <= "\udfff" else "control character")
    return f"{kind} U+{ord(char):04X}"


def _forbidden_characters(text: str, file: str) -> list[Diagnostic]:
    """The first character per line that is not text (see ``_FORBIDDEN``), with its line and column."""
    found: list[Diagnostic] = []
    line, line_start, breaks = 1, 0, _LINE_BREAK.finditer(text)
    pending = next(breaks, None)
    for match in _FORBIDDEN.finditer(text):
        while pending is not None and pending.start() < match.start():
            line, line_start, pending = line + 1, pending.end(), next(breaks, None)
        if found and found[-1].position is not None and found[-1].position.line == line:
            continue
        found.append(
            Diagnostic(
                "E103",
                f"{_describe(match[0])} in the file",
                hint="remove it: the only control characters YAML text may hold are tab, "
                "line feed and carriage return",
                position=Position(file, line, match.start() - line_start + 1),
            )
        )
        if len(found) == MAX_CHARACTER_ERRORS:
            break
    return found


def _tab_indentation(text: str, file: str) -> list[Diagnostic]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            found.append(
                Diagnostic(
                    "E105",
                    "tab character in indentation",
                    hint="indent with spaces only",
                    position=Position(file, number, indent.index("\t") + 1),
                )
            )
    return found


def _compose(text: str, file: str, base_dir: pathlib.Path) -> tuple[Document | None, list[Diagnostic]]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        nodes = compose_documents(text)
    except RecursionError as exc:
        message = f"the document nests deeper than {MAX_DEPTH} levels"
        return None, [_file_error("E107", file, message, "flatten the structure", getattr(exc, "at", (1, 1)))]
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        position = Position(file, mark.line + 1, mark.column + 1) if mark else Position(file, 1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        return None, [
            Diagnostic(
                "E104",
                f"YAML syntax error: {problem}",
                hint="check indentation, quoting and ':' separators near this position",
                position=position,
            )
        ]
    except YAMLError as exc:
        return None, [_file_error("E104", file, f"YAML syntax error: {exc}", "check the YAML syntax")]
    nodes = [n for n in nodes if n is not None]
    if len(nodes) > 1:
        second = nodes[1].start_mark
        return None, [
            Diagnostic(
                "E110",
                "the file holds more than one YAML document",
                hint="keep a single document: remove the '---' separator and what follows",
                position=Position(file, second.line + 1, second.column + 1),
            )
        ]
    if not nodes or _tag(nodes[0]) != "tag:yaml.org,2002:map":
        where = (
            Position(file, nodes[0].start_mark.line + 1, nodes[0].start_mark.column + 1) if nodes else None
        )
        return None, [
            Diagnostic(
                "E109",
                "the document must be a mapping of keys to values",
                hint="start from 'apiVersion: mlopsctl.dev/v1alpha1'",
                position=where or Position(file, 1, 1),
            )
        ]
    constructor = YAML(typ="safe", pure=True).constructor  # of scalars: YAML 1.2's core schema
    builder = _Builder(file, constructor, limit=_expansion_limit(nodes[0]))
    data = builder.build(nodes[0], ())
    return Document(file, data, builder.sources, base_dir), builder.diagnostics


def _tag(node: Any) -> str:
    return str(getattr(node.tag, "value", node.tag))


def _expansion_limit(root: Any) -> int:
    """A bound on built nodes from the number of distinct nodes, so aliases cannot blow up."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node.value, list):
            for item in node.value:
                stack.extend(item if isinstance(item, tuple) else (item,))
    return ALIAS_EXPANSION_FACTOR * len(seen) + ALIAS_EXPANSION_FLOOR


class _Builder:
    def __init__(self, file: str, constructor: Any, limit: int) -> None:
        self.file = file
        self.constructor = constructor
        self.limit = limit
        self.built = 0
        self.active: set[int] = set()
        self.sources = SourceMap()
        self.diagnostics: list[Diagnostic] = []

    def position(self, node: Any) -> Position:
        return Position(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def build(self, node: Any, path: Path) -> Any:
        self.built += 1
        if self.built > self.limit:
            raise _Abort(
                Diagnostic(
                    "E107",
                    "YAML aliases expand to too many nodes",
                    hint="avoid nesting aliases of aliases; write the values out",
                    position=self.position(node),
                )
            )
        if len(path) > MAX_DEPTH:
            raise _Abort(
                Diagnostic(
                    "E107",
                    f"the document nests deeper than {MAX_DEPTH} levels",
                    hint="flatten the structure",
                    position=self.position(node),
                )
            )
        if id(node) in self.active:
            raise _Abort(
                Diagnostic(
                    "E107",
                    "a YAML alias refers to itself",
                    hint="remove the recursive alias",
                    position=self.position(node),
                )
            )
        self.sources.values[path] = self.position(node)
        self.active.add(id(node))
        try:
            kind = self.check_tag(node)
            if kind == "map":
                return self.mapping(node, path)
            if kind == "seq":
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            return self.scalar(node)
        finally:
            self.active.discard(id(node))

    def check_tag(self, node: Any) -> str:
        """The node's kind (map, seq or scalar), after refusing tags outside the YAML core schema."""
        from ruamel.yaml.nodes import MappingNode, SequenceNode

        kind = (
            "map" if isinstance(node, MappingNode) else "seq" if isinstance(node, SequenceNode) else "scalar"
        )
        tag = _tag(node)
        if tag not in _CORE_TAGS[kind]:
            shown = tag.replace("tag:yaml.org,2002:", "!!")
            raise _Abort(
                Diagnostic(
                    "E111",
                    f"unsupported YAML tag '{shown}' on a {'mapping' if kind == 'map' else kind}",
                    hint="remove the tag: plain scalars, lists and mappings are all mlops.yaml needs",
                    position=self.position(node),
                )
            )
        return kind

    def scalar(self, node: Any) -> Any:
        from ruamel.yaml.error import YAMLError

        try:
            value = self.constructor.construct_object(node, deep=True)
        except (ValueError, KeyError, TypeError, YAMLError) as exc:
            message, hint = bad_scalar(str(node.value), _tag(node))
            raise _Abort(Diagnostic("E111", message, hint=hint, position=self.position(node))) from exc
        if isinstance(value, str):
            return self.checked_text(value, node)
        return node.value if isinstance(value, date) else value

    def checked_text(self, value: str, node: Any) -> str:
        """``value``, reported and with U+FFFD in their place if escape sequences gave it control
        characters or lone surrogates (so that no later message or output has to carry them)."""
        bad = _FORBIDDEN.search(value)
        if bad is None:
            return value
        hint = "remove the escape sequence"
        if "\ud800" <= bad[0] <= "\udfff":
            joined = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
            pair = next((c for c in joined if ord(c) > 0xFFFF and c not in value), None)
            hint = (
                f"write the character itself or one escape, \\U{ord(pair):08X}, not a surrogate pair"
                if pair is not None
                else "remove the escape sequence: a surrogate is not a character"
            )
        message = f"the string holds a {_describe(bad[0])}"
        self.diagnostics.append(Diagnostic("E103", message, hint=hint, position=self.position(node)))
        return _FORBIDDEN.sub("\ufffd", value)

    def mapping(self, node: Any, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        explicit: dict[str, Position] = {}
        pairs = [(k, v) for k, v in node.value if _tag(k) != _MERGE_TAG]
        for _, source in [(k, v) for k, v in node.value if _tag(k) == _MERGE_TAG]:
            self.merge(source, path, result)
        for key_node, value_node in pairs:
            key = self.scalar(key_node) if self.check_tag(key_node) == "scalar" else None
            position = self.position(key_node)
            if not isinstance(key, str):
                scalar = isinstance(key_node.value, str)
                self.diagnostics.append(
                    Diagnostic(
                        "E108",
                        f"mapping key {key_node.value!r} is not a string"
                        if scalar
                        else "a mapping key is a collection",
                        hint=f"quote the key: '{key_node.value}'"
                        if scalar
                        else "use a plain string as the key",
                        position=position,
                    )
                )
                continue
            if key in explicit:
                first = explicit[key]
                self.diagnostics.append(
                    Diagnostic(
                        "E106",
                        f"duplicate key '{key}' (first defined at line {first.line})",
                        hint="remove one of the two, or merge their contents",
                        position=position,
                    )
                )
                continue
            explicit[key] = position
            self.sources.keys[(*path, key)] = position
            result[key] = self.build(value_node, (*path, key))
        return result

    def merge(self, source: Any, path: Path, into: dict[str, Any]) -> None:
        """Apply a YAML merge key (``<<: *base``): earlier sources win, explicit keys win over all."""
        sources = source.value if self.check_tag(source) == "seq" else [source]
        for item in sources:
            merged = self.build(item, path)
            if not isinstance(merged, dict):
                self.diagnostics.append(
                    Diagnostic(
                        "E109",
                        "a merge key ('<<') must refer to a mapping",
                        hint="merge only mappings",
                        position=self.position(item),
                    )
                )
                continue
            for key, value in merged.items():
                into.setdefault(key, value)
