"""What the providers share: inputs declared once, then checked, defaulted and diffed from that table.

Values reach a provider as Pulumi serialises them: every number as a float (so integers are
restored here), and, during a preview, values not known yet as ``rpc.UNKNOWN``, which are
never checked and always count as a change.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from pulumi.dynamic import CheckFailure, CheckResult, DiffResult, ResourceProvider
from pulumi.runtime.rpc import UNKNOWN

PROVIDER_KEY = "__provider"


@dataclasses.dataclass(frozen=True)
class Input:
    """One input of a resource: its camelCase name, JSON type, default, and whether a change replaces."""

    name: str
    kind: type
    required: bool = False
    default: Any = None
    replace: bool = False


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value == UNKNOWN


def listed(value: Any) -> list[Any]:
    """``value`` if it is a list (not a value unknown yet), else nothing to look at."""
    return value if isinstance(value, list) else []


def as_int(value: Any) -> Any:
    """An integral float back to an int (anything else unchanged, for the checks to report)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def kind_failure(value: Any, kind: type) -> str | None:
    """Why ``value`` is not of JSON type ``kind``; None when it is (or is not known yet)."""
    if value is None or is_unknown(value):
        return None
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return None
    value = as_int(value)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return None
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    names |= {list: "a list", dict: "a map"}
    return f"expected {names.get(kind, kind.__name__)}, got {value!r}"


class VertexProvider(ResourceProvider):
    """A dynamic provider whose inputs are ``INPUTS`` and whose extra state is ``OUTPUTS``."""

    INPUTS: ClassVar[tuple[Input, ...]]
    OUTPUTS: ClassVar[tuple[str, ...]]
    DELETE_BEFORE_REPLACE: ClassVar[bool] = False

    serialize_as_secret_always = False  # the pickled provider holds no configuration at all

    def spec(self, props: Mapping[str, Any]) -> dict[str, Any]:
        """The declared inputs of ``props`` with their defaults, in the one form diffs compare."""
        found: dict[str, Any] = {}
        for field in self.INPUTS:
            value = props.get(field.name)
            found[field.name] = copy.deepcopy(field.default) if value is None else value
            if field.kind is int:
                found[field.name] = as_int(found[field.name])
        return self.normalize(found)

    def normalize(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Nested defaults and canonical order, where a resource has them."""
        return spec

    def validate(self, spec: dict[str, Any]) -> list[CheckFailure]:
        """Rules within and across inputs, once their types are right; values not known yet pass."""
        return []

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        known = {field.name: field for field in self.INPUTS}
        for key in news:
            if key not in known and key not in self.OUTPUTS and key != PROVIDER_KEY:
                failures.append(CheckFailure(key, f"unknown input (it takes {', '.join(sorted(known))})"))
        for field in self.INPUTS:
            value = news.get(field.name)
            if field.required and value in (None, ""):
                failures.append(CheckFailure(field.name, "required"))
            elif (why := kind_failure(value, field.kind)) is not None:
                failures.append(CheckFailure(field.name, why))
        if not failures:
            failures = self.validate(self.spec(news))
        return CheckResult(news, failures)

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        old, new = self.spec(_olds), self.spec(_news)
        changed = [field for field in self.INPUTS if old[field.name] != new[field.name]]
        replaces = [field.name for field in changed if field.replace]
        return DiffResult(
            changes=bool(changed),
            replaces=replaces,
            delete_before_replace=self.DELETE_BEFORE_REPLACE if replaces else None,
        )
