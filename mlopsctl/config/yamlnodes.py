"""YAML text to ruamel.yaml nodes (with their marks), fast where that reads the text as YAML 1.2 does."""

from __future__ import annotations

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
    if c_parser is not None and not _PURE_ONLY.search(text):  # None: without ruamel.yaml.clib
        try:
            return _EventLoader(text, c_parser).documents()
        except YAMLError:
            pass  # libyaml reads YAML 1.1: let the YAML 1.2 parser decide, and say why if it fails
    return list(YAML(typ="safe", pure=True).compose_all(text))


_PURE_ONLY = re.compile("[\x85\u2028\u2029]|^%YAML", re.MULTILINE)
"""Line breaks in YAML 1.1 (libyaml) that are text in YAML 1.2, and a %YAML directive (which the pure
parser follows)."""


class _EventLoader:
    """libyaml's events, composed and resolved (YAML 1.2 core schema) by ruamel.yaml in Python."""

    max_depth = None  # the composer's own limit: the recursion limit and the builder's MAX_DEPTH bound it

    class _scanner:  # what the resolver asks for the document's version: none given (YAML 1.2)
        yaml_version = None

    def __init__(self, text: str, parser: Any) -> None:
        from ruamel.yaml.composer import Composer
        from ruamel.yaml.resolver import VersionedResolver

        self._parser = parser(text)
        self._resolver = VersionedResolver(loadumper=self)
        self._composer = Composer(loader=self)

    def documents(self) -> list[Any]:
        try:
            nodes = []
            while self._composer.check_node():
                nodes.append(self._composer.get_node())
            return nodes
        finally:
            self._parser.dispose()
