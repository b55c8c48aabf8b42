"""Deterministic YAML and JSON output.

Mappings are written with ``apiVersion``, ``kind`` and ``metadata`` first and
every other key sorted; strings that a YAML 1.1 reader (such as Kubernetes'
Go YAML) would take for a boolean, null or number are quoted.
"""

from __future__ import annotations

import json
import re
from typing import Any

_FIRST = ("apiVersion", "kind", "metadata")
_AMBIGUOUS = re.compile(
    r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|~|null|Null|NULL"
    r"|[-+]?0[xXoObB][0-9a-fA-F_]+"  # integers with a base prefix, as Go's ParseInt(s, 0, 64) reads them
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?"  # sexagesimal
    r"|[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"  # decimal, octal, float
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


def canonical(value: Any) -> Any:
    """A copy with mapping keys in output order (``apiVersion``/``kind``/``metadata`` first)."""
    if isinstance(value, dict):
        keys = [k for k in _FIRST if k in value] + sorted(k for k in value if k not in _FIRST)
        return {k: canonical(value[k]) for k in keys}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return value


def dump_yaml(value: Any) -> str:
    import yaml

    base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class Dumper(base):  # type: ignore[valid-type,misc]
        pass

    def represent_str(dumper: Any, data: str) -> Any:
        style = "'" if _AMBIGUOUS.match(data) else None
        if "\n" in data:
            style = "|" if not data.endswith(" ") and "\t" not in data else '"'
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    Dumper.add_representer(str, represent_str)
    text: str = yaml.dump(
        canonical(value),
        Dumper=Dumper,
        sort_keys=False,
        default_flow_style=False,
        width=4096,
        allow_unicode=True,
    )
    return text


def dump_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
