"""Deterministic YAML and JSON output.

Mappings are written with ``apiVersion``, ``kind`` and ``metadata`` first and
every other key sorted; strings that a YAML 1.1 reader (such as Kubernetes'
Go YAML) would take for a boolean, null or number are quoted.

YAML is written as PyYAML's ``yaml.dump(..., Dumper=CSafeDumper)`` writes it, byte for byte,
but faster: the values become PyYAML's events directly (its representer and serializer
build a node per value in pure Python, and ask its resolver twice for each scalar), and
libyaml's emitter writes them.
"""

from __future__ import annotations

import functools
import io
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

_FIRST = ("apiVersion", "kind", "metadata")
_AMBIGUOUS = re.compile(
    r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|~|null|Null|NULL"
    r"|[-+]?0[xXoObB][0-9a-fA-F_]+"  # integers with a base prefix, as Go's ParseInt(s, 0, 64) reads them
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?"  # sexagesimal
    r"|[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"  # decimal, octal, float
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG + kind for kind in ("str", "int", "float", "bool", "null"))


def _key_order(mapping: Mapping[str, Any]) -> list[str]:
    """Output order: ``apiVersion``, ``kind`` and ``metadata`` first, then the other keys sorted."""
    return [k for k in _FIRST if k in mapping] + sorted(k for k in mapping if k not in _FIRST)


def dump_yaml(value: Any) -> str:
    """``value`` as one YAML document: block style, unicode as is, lines up to 4096 characters."""
    import yaml

    stream = io.StringIO()
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)(
        stream, default_flow_style=False, width=4096, allow_unicode=True, sort_keys=False
    )
    dumper.emit(yaml.StreamStartEvent())
    dumper.emit(yaml.DocumentStartEvent())
    _emit(value, dumper.emit, yaml)
    dumper.emit(yaml.DocumentEndEvent())
    dumper.emit(yaml.StreamEndEvent())
    return stream.getvalue()


def _emit(value: Any, emit: Callable[[Any], None], yaml: Any) -> None:
    """The events of ``value`` as PyYAML's ``SafeRepresenter`` and serializer produce them (canonical
    key order; a value appears once, so there are no aliases)."""
    kind = type(value)
    if kind is str:
        emit(yaml.ScalarEvent(None, _STR, _implicit(_STR, value), value, style=str_style(value)))
    elif isinstance(value, dict):
        emit(yaml.MappingStartEvent(None, _TAG + "map", True, flow_style=False))
        for key in _key_order(value):
            _emit(key, emit, yaml)
            _emit(value[key], emit, yaml)
        emit(yaml.MappingEndEvent())
    elif isinstance(value, list | tuple):
        emit(yaml.SequenceStartEvent(None, _TAG + "seq", True, flow_style=False))
        for item in value:
            _emit(item, emit, yaml)
        emit(yaml.SequenceEndEvent())
    else:
        tag, text = _scalar(value, yaml)
        emit(yaml.ScalarEvent(None, tag, _implicit(tag, text), text))


def str_style(text: str) -> str | None:
    """Quoted when a YAML 1.1 reader would not read ``text`` back as a string; a block literal if it
    has line breaks (double-quoted if it also has tabs or trailing spaces, which a literal loses)."""
    style = "'" if _AMBIGUOUS.match(text) else None
    if "\n" in text:
        style = "|" if not text.endswith(" ") and "\t" not in text else '"'
    return style


def _scalar(value: Any, yaml: Any) -> tuple[str, str]:
    """The tag and text of a scalar other than a string, as ``SafeRepresenter`` writes it."""
    if value is None or type(value) in (bool, int, float):
        node = _yaml_helpers()[0].represent_data(value)
        return str(node.tag), str(node.value)
    raise yaml.representer.RepresenterError("cannot represent an object", value)


@functools.lru_cache(maxsize=1)
def _yaml_helpers() -> tuple[Any, Any]:
    """PyYAML's safe representer and its resolver, as ``CSafeDumper`` uses them."""
    import yaml

    return yaml.SafeDumper(io.StringIO()), yaml.resolver.Resolver()


@functools.lru_cache(maxsize=1 << 16)
def _implicit(tag: str, text: str) -> tuple[bool, bool]:
    """Whether ``text`` reads back as ``tag`` when written plain, and when quoted: what PyYAML's
    serializer asks its resolver of every scalar."""
    from yaml.nodes import ScalarNode

    resolver = _yaml_helpers()[1]
    plain = resolver.resolve(ScalarNode, text, (True, False))
    return plain == tag, resolver.resolve(ScalarNode, text, (False, True)) == tag


def dump_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def dump_json_rows(value: Mapping[str, Any], rows: str) -> str:
    """``value`` as compact JSON with sorted keys, each element of its array ``rows`` on a line of its
    own: a change to one element is a change to one line.

    Written by the standard library's C encoder (``indent`` makes it fall back to pure Python).
    """
    parts = []
    for key in sorted(value):
        if key == rows:
            lines = ",".join(f"\n{_compact(row)}" for row in value[key])
            parts.append(f"{_compact(key)}:[{lines}\n]")
        else:
            parts.append(f"{_compact(key)}:{_compact(value[key])}")
    return "{" + ",".join(parts) + "}\n"


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
