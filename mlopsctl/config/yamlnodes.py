"""YAML text to ruamel.yaml nodes (with their marks), fast where that reads the text as YAML 1.2 does."""

from __future__ import annotations

import functools
import re
from typing import Any


def compose_documents(text: str) -> list[Any]:
    """The documents of ``text``: parsed by libyaml (ruamel.yaml.clib's C parser, four times as fast)
    when it reads the text as YAML 1.2 does, composed in Python (so nesting ends in a RecursionError,
    never a crash); else, and for every error, by the pure-Python parser, whose YAML 1.2 reading and
    messages are authoritative."""
    from ruamel.yaml import YAML
    from ruamel.yaml import main as ruamel_main
    from ruamel.yaml.error import YAMLError

    c_parser = getattr(ruamel_main, "CParser", None)
    try:
        if c_parser is not None and not _PURE_ONLY.search(text):  # None: without ruamel.yaml.clib
            try:
                return _EventLoader(text, c_parser).documents()
            except YAMLError:
                pass  # libyaml reads YAML 1.1: let the YAML 1.2 parser decide, and say why if it fails
        yaml = YAML(typ="safe", pure=True)
        yaml.Composer = _composer()
        return list(yaml.compose_all(text))
    except RecursionError:
        raise TooDeep(_too_deep_at(text)) from None


class TooDeep(RecursionError):
    """The document nests past the recursion limit; ``at`` is the (line, column) where it passes MAX_DEPTH."""

    def __init__(self, at: tuple[int, int]) -> None:
        super().__init__(at)
        self.at = at


def _too_deep_at(text: str) -> tuple[int, int]:
    """Where the nesting first passes MAX_DEPTH, found by the parser's events (which recurse not)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError
    from ruamel.yaml.events import CollectionEndEvent, CollectionStartEvent

    from mlopsctl.config.load import MAX_DEPTH

    depth = 0
    try:
        for event in YAML(typ="safe", pure=True).parse(text):
            depth += isinstance(event, CollectionStartEvent) - isinstance(event, CollectionEndEvent)
            if depth > MAX_DEPTH:
                return event.start_mark.line + 1, event.start_mark.column + 1
    except YAMLError:
        pass
    return 1, 1


@functools.cache
def _composer() -> Any:
    """ruamel.yaml's composer, refusing an anchor defined twice (which it only warns about, on stderr)."""
    from ruamel.yaml.composer import Composer, ComposerError
    from ruamel.yaml.events import AliasEvent

    class _Composer(Composer):
        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.parser.peek_event()
            anchor = None if isinstance(event, AliasEvent) else getattr(event, "anchor", None)
            if anchor is not None and anchor in self.anchors:
                first = self.anchors[anchor].start_mark
                raise ComposerError(
                    None,
                    None,
                    f"anchor '&{anchor}' is defined again (first at line {first.line + 1}, column "
                    f"{first.column + 1}): give each anchor its own name",
                    event.start_mark,
                )
            return super().compose_node(parent, index)

    return _Composer


_PURE_ONLY = re.compile("[\x85\u2028\u2029]|^%YAML", re.MULTILINE)
"""Line breaks in YAML 1.1 (libyaml) that are text in YAML 1.2, and a %YAML directive (which the pure
parser follows)."""


class _EventLoader:
    """libyaml's events, composed and resolved (YAML 1.2 core schema) by ruamel.yaml in Python."""

    max_depth = None  # the composer's own limit: the recursion limit and the builder's MAX_DEPTH bound it

    class _scanner:  # what the resolver asks for the document's version: none given (YAML 1.2)
        yaml_version = None

    def __init__(self, text: str, parser: Any) -> None:
        from ruamel.yaml.resolver import VersionedResolver

        self._parser = parser(text)
        self._resolver = VersionedResolver(loadumper=self)
        self._composer = _composer()(loader=self)

    def documents(self) -> list[Any]:
        try:
            nodes = []
            while self._composer.check_node():
                nodes.append(self._composer.get_node())
            return nodes
        finally:
            self._parser.dispose()
