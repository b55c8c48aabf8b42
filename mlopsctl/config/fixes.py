"""How to fix a schema error, in words: hints for the pydantic errors whose message says only what
is wrong (a value of the wrong type, a number out of range, a string of the wrong form)."""

from __future__ import annotations

import ast
import re
from typing import Any

from mlopsctl.config.diagnostics import POLICY_ID
from mlopsctl.config.models.security import NETWORK_NAME, SHARED_NETWORK, SHARED_SUBNETWORK
from mlopsctl.config.wording import one_of

_YAML11_BOOLEANS = {"yes", "no", "on", "off", "y", "n"}
"""Words YAML 1.1 read as booleans and YAML 1.2 (which mlops.yaml is read with) reads as strings."""

POLICY_ID_FORM = "write a policy id such as 'GKE001' or 'team.no-public-buckets'"
_PATTERN_FORMS = {
    POLICY_ID.pattern: POLICY_ID_FORM,
    rf"^({NETWORK_NAME}|{SHARED_NETWORK})$": (
        "write a network name such as 'default', or projects/HOST/global/networks/NAME"
    ),
    rf"^({NETWORK_NAME}|{SHARED_SUBNETWORK})$": (
        "write a subnetwork name, or projects/HOST/regions/REGION/subnetworks/NAME"
    ),
    r"^([01][0-9]|2[0-3]):[0-5][0-9]$": "write the time as HH:MM on a 24-hour clock, e.g. '02:00'",
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(/[a-z0-9]([-a-z0-9]*[a-z0-9])?)?$": (
        "name a caller as NAMESPACE or NAMESPACE/SERVICE-ACCOUNT, in lowercase letters, digits and '-'"
    ),
    r"^[0-9]+x[0-9]+(x[0-9]+)?$": "write the topology as AxB or AxBxC, e.g. '2x4'",
    r"^(gs|bq|https)://.+": "give a gs://, bq:// or https:// URI",
    r"^[A-Za-z0-9][-A-Za-z0-9_]*$": "write a header name: letters, digits, '-' and '_'",
    r"^[A-Za-z0-9_.-]+$": "write a cookie name: letters, digits, '_', '.' and '-'",
    r"^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$": "write a domain such as 'cluster.local'",
    r"^[a-z0-9-]+/[a-z0-9-]+$": "write NAMESPACE/SERVICE-ACCOUNT, e.g. 'istio-system/istio-ingressgateway'",
    r"^v?[0-9]+(\.[0-9]+){1,3}$": "write a version such as '1.14.2'",
    r"^[A-Za-z][A-Za-z0-9]*$": "write a multi-region such as 'US' or 'EU'",
    r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$": (
        "write a name of lowercase letters, digits and '-', starting with a letter"
    ),
}
"""What the string patterns that have no named type (see ``validate._pattern_help``) ask for."""


def type_hint(kinds: list[str], shown: str) -> str:
    """How to write a value that must be one of ``kinds`` (``a mapping``, ``an integer``...) where
    the file holds ``shown`` (as ``validate._show`` shows it: ``null``, ``a list``, ``'text'``, ``7``)."""
    either = one_of(kinds)
    text = _string(shown)
    if shown == "null":
        return f"write {either} after the key, or delete the key to leave it unset"
    if kinds == ["a mapping"]:
        items = ", not '- ' list items" if shown == "a list" else ""
        return f"write its settings as 'key: value' lines indented under it{items}"
    if kinds == ["a list"]:
        example = f"[{text}]" if text is not None else "[a, b]"
        return f"write a list, e.g. {example}, or one '- ' item per line indented under it"
    if text is not None and "true or false" in kinds and text.lower() in _YAML11_BOOLEANS:
        return "write true or false: mlops.yaml is YAML 1.2, which reads yes, no, on and off as strings"
    if text is not None and _unquoted_fits(text, kinds):
        return f"remove the quotes: {text.strip()}"
    if text is None and kinds == ["a string"] and shown not in ("a list", "a mapping"):
        return f"quote it: '{shown}'"
    return f"write {either}"


def constraint_hint(kind: str, ctx: dict[str, Any]) -> str | None:
    """How to meet the constraint a pydantic error of type ``kind`` (with its ``ctx``) reports."""
    bounds = {
        "less_than_equal": ("le", "of at most"),
        "greater_than_equal": ("ge", "of at least"),
        "less_than": ("lt", "below"),
        "greater_than": ("gt", "above"),
    }
    if kind in bounds:
        name, words = bounds[kind]
        return f"use a value {words} {ctx.get(name)}"
    if kind == "string_too_long":
        return f"shorten it to at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return f"write at least {ctx.get('min_length')} characters"
    if kind == "too_long":
        return f"keep at most {ctx.get('max_length')} items"
    if kind == "too_short":
        count = ctx.get("min_length")
        return f"give at least {count} item{'' if count == 1 else 's'}"
    if kind == "finite_number":
        return "write a finite number: .inf, .nan and numbers too large for a float are not"
    if kind == "string_pattern_mismatch":
        return _PATTERN_FORMS.get(str(ctx.get("pattern")))
    return None


def _string(shown: str) -> str | None:
    """The text of a string value as ``validate._show`` shows it (a Python repr), else None."""
    if len(shown) < 2 or shown[0] not in "'\"" or shown[-1] != shown[0]:
        return None
    try:
        value = ast.literal_eval(shown)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None


_YAML_NUMBER = re.compile(r"[-+]?(0|[1-9][0-9]*)(\.[0-9]*)?([eE][-+]?[0-9]+)?")
"""A decimal number as YAML 1.2's core schema reads it (no ``_``, no ``.inf``/``.nan``)."""


def _unquoted_fits(text: str, kinds: list[str]) -> bool:
    """Whether ``text`` without its quotes is a value of one of ``kinds``: an integer, or a number."""
    match = _YAML_NUMBER.fullmatch(text.strip())
    if match is None:
        return False
    whole = match[2] is None and match[3] is None
    return "a number" in kinds or ("an integer" in kinds and whole)
