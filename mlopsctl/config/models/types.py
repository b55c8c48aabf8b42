"""Constrained scalar types shared by the models.

Custom error types (``duration``, ``cron``, ``timezone``) are mapped to their
own diagnostic codes by :mod:`mlopsctl.config.validate`, and ``problems`` (:func:`problems`) to one
diagnostic per problem.
"""

import functools
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from mlopsctl.config.durations import parse_duration


class Spec(BaseModel):
    """Base of every mlops.yaml model: immutable, camelCase keys, unknown keys rejected."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        protected_namespaces=(),
        allow_inf_nan=False,
        strict=True,
    )


Problem = tuple[str, str]
"""(what is wrong, how to fix it) of a whole-object check."""


def problems(found: list[Problem]) -> None:
    """Report every problem a model's whole-object check found at once, each with its fix; the
    diagnostics point at the field each message names first."""
    if found:
        raise PydanticCustomError(
            "problems", "; ".join(message for message, _ in found), {"problems": tuple(found)}
        )


def _duration(value: str) -> str:
    try:
        parse_duration(value)
    except ValueError as exc:
        raise PydanticCustomError("duration", str(exc)) from None
    return value


_CRON_FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day of month", "1-31"),
    ("month", "1-12"),
    ("day of week", "0-6 or SUN-SAT"),
)
_CRON_ITEM = re.compile(r"^(\*|[0-9]+|[A-Za-z]{3})(-([0-9]+|[A-Za-z]{3}))?(/[0-9]+)?$")
"""One item of a field as Kubernetes CronJobs (robfig/cron) and Cloud Scheduler (unix-cron) both read
it: croniter's extensions (L, W, #, H, ?) and day of week 7 would be refused on apply."""


def _portable(field: str, day_of_week: bool) -> bool:
    items = [_CRON_ITEM.match(item) for item in field.split(",")]
    if not all(items):
        return False
    numbers = [int(n) for m in items if m for n in (m[1], m[3]) if n and n.isdigit()]
    return not (day_of_week and any(n > 6 for n in numbers))


_CRON_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_CRON_NAMES: tuple[dict[str, int], ...] = (
    {},
    {},
    {},
    dict(JAN=1, FEB=2, MAR=3, APR=4, MAY=5, JUN=6, JUL=7, AUG=8, SEP=9, OCT=10, NOV=11, DEC=12),
    dict(SUN=0, MON=1, TUE=2, WED=3, THU=4, FRI=5, SAT=6),
)


def _backwards(field: str, index: int) -> tuple[str, str] | None:
    """The first range of ``field`` (the ``index``-th) that runs backwards, as robfig/cron (Kubernetes)
    refuses, and the two ranges that say what it means (``22-2`` → ``22-23,0-2``); None if none does."""
    names = _CRON_NAMES[index]
    for item in field.split(","):
        found = _CRON_ITEM.match(item)
        if found is None or not found[3] or found[1] == "*":
            continue
        first, last, step = found[1], found[3], found[4] or ""
        start, end = (int(t) if t.isdigit() else names.get(t.upper(), -1) for t in (first, last))
        if start > end >= 0:
            low, high = (str(n) for n in _CRON_BOUNDS[index])
            if not (first.isdigit() and last.isdigit()):  # written as names: the bounds too
                low, high = (next(k for k, v in names.items() if v == int(n)) for n in (low, high))
            parts = [first if first == high else f"{first}-{high}", last if last == low else f"{low}-{last}"]
            return f"{first}-{last}", ",".join(part + step for part in parts)
    return None


CRON_HINT = (
    "write five fields separated by spaces: minute hour day-of-month month day-of-week, "
    "e.g. '0 3 * * *' (03:00 every day) or '*/15 * * * 1-5' (every 15 minutes on weekdays)"
)
"""The hint of every invalid cron expression (E305), in each error's context as ``hint``."""


@functools.lru_cache(maxsize=1024)
def _cron(value: str) -> str:
    """``value`` if it is a valid five-field cron expression (a config repeats a few, many times)."""
    from croniter import croniter

    fields = value.split()
    if len(fields) != len(_CRON_FIELDS):
        raise PydanticCustomError(
            "cron",
            "invalid cron expression '{value}': it needs five fields, e.g. '0 3 * * *'",
            {"value": value, "hint": CRON_HINT},
        )
    for i, (name, allowed) in enumerate(_CRON_FIELDS):
        alone = " ".join(field if j == i else "*" for j, field in enumerate(fields))
        if not croniter.is_valid(alone) or not _portable(fields[i], i == len(fields) - 1):
            raise PydanticCustomError(
                "cron",
                "invalid cron expression '{value}': the {name} field '{field}' is not valid ({allowed})",
                {"value": value, "name": name, "field": fields[i], "allowed": allowed, "hint": CRON_HINT},
            )
    for i, (name, _) in enumerate(_CRON_FIELDS):
        backwards = _backwards(fields[i], i)
        if backwards is not None:
            raise PydanticCustomError(
                "cron",
                "invalid cron expression '{value}': the {name} range '{range}' runs backwards, which "
                "Kubernetes CronJobs refuse",
                {"value": value, "name": name, "range": backwards[0], "hint": f"write it as {backwards[1]}"},
            )
    if not croniter.is_valid(value):
        raise PydanticCustomError(
            "cron", "invalid cron expression '{value}'", {"value": value, "hint": CRON_HINT}
        )
    return value


@functools.cache
def _time_zones() -> frozenset[str]:
    """The IANA names this system knows (listing them reads the whole zone database: once)."""
    from zoneinfo import available_timezones

    return frozenset(available_timezones())


def _timezone(value: str) -> str:
    from mlopsctl.config.diagnostics import did_you_mean

    if value not in _time_zones():
        suggestion = did_you_mean(value, _time_zones()) or "use an IANA name such as 'Europe/Berlin'"
        raise PydanticCustomError(
            "timezone",
            "unknown time zone '{value}': {suggestion}",
            {"value": value, "suggestion": suggestion},
        )
    return value


Name = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$", max_length=40),
    Field(description="A lowercase name: letters, digits and '-', starting with a letter."),
]
EnvName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]{0,11}$")]
RegionName = Annotated[str, StringConstraints(pattern=r"^[a-z]+-[a-z]+[0-9]+$")]
ZoneName = Annotated[str, StringConstraints(pattern=r"^[a-z]+-[a-z]+[0-9]+-[a-z]$")]
GcpProjectId = Annotated[str, StringConstraints(pattern=r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")]
Duration = Annotated[str, AfterValidator(_duration), Field(examples=["30s", "15m", "1h30m", "7d"])]
Cron = Annotated[str, AfterValidator(_cron), Field(examples=["0 3 * * *"])]
TimeZone = Annotated[str, AfterValidator(_timezone)]
Percent = Annotated[float, Field(ge=0, le=100)]
Fraction = Annotated[float, Field(ge=0, le=1)]
Quantity = Annotated[str, StringConstraints(pattern=r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$")]
GcsUri = Annotated[str, StringConstraints(pattern=r"^gs://[a-z0-9${}][-_.a-z0-9${}]*[a-z0-9}](/.*)?$")]
LabelKey = Annotated[str, StringConstraints(pattern=r"^[a-z][-_a-z0-9]{0,62}$")]
LabelValue = Annotated[str, StringConstraints(pattern=r"^[-_a-z0-9]{0,63}$")]
Labels = dict[LabelKey, LabelValue]
SecretRef = Annotated[
    str,
    StringConstraints(
        pattern=r"^(projects/[-a-z0-9]+/secrets/)?[A-Za-z0-9_-]{1,255}(/versions/(latest|[0-9]+))?$"
    ),
    Field(description="A Secret Manager secret (name or projects/P/secrets/S[/versions/V]); never a value."),
]
TemplateString = Annotated[str, StringConstraints(min_length=1)]
IoName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
"""Names of step inputs, outputs and parameters, as Kubeflow Pipelines accepts them."""
Scalar = str | int | float | bool

IMAGE_PATTERN = re.compile(r"^[a-z0-9${}][-a-z0-9._/:@${}]*$")
Image = Annotated[str, StringConstraints(pattern=IMAGE_PATTERN.pattern)]
