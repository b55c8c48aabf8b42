"""Diagnostics: findings about a user's file, as values rather than exceptions.

Every stage returns its result together with a list of diagnostics. A diagnostic
carries the document path it is about; the position in the file is attached
late, from the source map, so that even a check on the resolved config points
at the line the user wrote.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from mlopsctl.config.sourcemap import Path, Position, SourceMap, format_path


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


# Every code mlopsctl can emit: code -> (title, explanation). Ranges: E1xx file and
# syntax, E2xx schema, E3xx references and semantics, E4xx cloud limits, W warnings.
CODES: dict[str, tuple[str, str]] = {
    "E101": ("file not readable", "The file does not exist, is not a regular file, or cannot be read."),
    "E102": ("file too large", "The file is larger than the loader accepts (1 MiB)."),
    "E103": (
        "invalid encoding",
        "The file is not valid UTF-8, or holds characters that are not text (control characters, "
        "lone surrogates).",
    ),
    "E104": ("YAML syntax error", "The file is not well-formed YAML."),
    "E105": ("tab indentation", "A tab character is used for indentation; YAML requires spaces."),
    "E106": ("duplicate key", "A mapping defines the same key twice; the second would silently win."),
    "E107": ("alias expansion too large", "YAML aliases expand past the allowed number of nodes."),
    "E108": ("non-string key", "A mapping key is not a string (e.g. a number, boolean or null)."),
    "E109": ("not a mapping", "The document (or an overlay) must be a mapping."),
    "E110": ("multiple documents", "The file holds more than one YAML document."),
    "E111": (
        "unsupported YAML tag",
        "A value carries a YAML tag outside the core schema, or does not fit the core tag it carries.",
    ),
    "E201": ("missing field", "A required field is absent."),
    "E202": ("wrong type", "A value has the wrong type (for example a string where a number is expected)."),
    "E203": ("unknown key", "A key is not part of the schema at this place."),
    "E204": ("invalid value", "A value is not one of the allowed values."),
    "E205": ("constraint violated", "A value is outside its allowed range, length or pattern."),
    "E206": ("unsupported apiVersion", "The apiVersion or kind is not one this version of mlopsctl reads."),
    "E207": ("malformed lock file", "mlops.lock does not have the layout mlopsctl promote writes."),
    "E301": ("unresolved reference", "A name refers to something that is not declared."),
    "E302": ("dependency cycle", "Pipeline steps depend on each other in a cycle."),
    "E303": ("traffic weights", "Traffic weights do not add up to 100, or a rollout step is out of order."),
    "E304": ("invalid name", "A name is not valid for the resource it becomes after prefixes are applied."),
    "E305": ("invalid schedule", "A cron expression or time zone does not parse."),
    "E306": ("invalid duration", "A duration does not parse (use forms such as 30s, 15m, 1h30m, 7d)."),
    "E307": (
        "unknown environment or region",
        "An overlay or option names an environment or region not declared.",
    ),
    "E308": ("invalid promotion order", "Promotion order refers to unknown environments or forms a cycle."),
    "E309": ("invalid step wiring", "A step input does not name an output of a step it can see."),
    "E310": ("conflicting names", "Two resources would get the same name after prefixes are applied."),
    "E311": ("referenced file", "A file or folder named in the config is missing, unreadable or malformed."),
    "E312": (
        "cannot be routed",
        "A match value or rollout setting that Istio or Flagger would refuse or cannot carry out.",
    ),
    "E313": (
        "stale lock pin",
        "mlops.lock pins a model version the config no longer declares: the region still runs it.",
    ),
    "E314": (
        "template error",
        "A template override does not parse (a statement, or an expression that is not a whole value), "
        "uses what Jinja's sandbox refuses, does not render one Kubernetes object, or changes the "
        "object's kind, name or namespace.",
    ),
    "E315": (
        "metric not collected",
        "An autoscaling metric that nothing collects on the platform the config chooses.",
    ),
    "E401": (
        "machine or accelerator not offered",
        "The accelerator or machine type is not offered in the region or zone, or a Vertex AI pipeline "
        "step asks for more CPUs or memory than any machine of Vertex AI Pipelines has.",
    ),
    "E402": (
        "accelerators do not fit the machine type",
        "The accelerator type or count does not fit the machine type (a GKE node pool's machine with GPUs "
        "or TPUs built in takes exactly those; a Vertex AI deployed model takes 1 to all of them), no "
        "machine carries that many, the CPUs or memory asked for exceed the largest machine carrying "
        "them, or a count is missing.",
    ),
    "E403": (
        "invalid TPU topology",
        "The TPU topology is not valid for the TPU version, or does not fit the pods placed on the slice.",
    ),
    "E404": (
        "over a name or label limit",
        "A generated name exceeds the Google Cloud or Kubernetes limit, or a resource would carry more "
        "labels than Google Cloud's 64.",
    ),
    "E405": ("location mismatch", "A resource is in a location that does not match what it depends on."),
    "E406": (
        "add-on version too old",
        "A version pinned under platform.versions lacks a feature the workloads use.",
    ),
    "E407": (
        "not on this placement",
        "A setting that the section's placement (gke or vertex) cannot carry out, such as shadow "
        "traffic on a Vertex AI endpoint or a GKE node pool for a Vertex AI pipeline.",
    ),
    "E408": (
        "compiled resource too large",
        "A resource the config compiles to is larger than its service accepts, such as a retraining "
        "workflow whose source (the specs of the pipelines it starts) is over the 128 KB of Cloud Workflows.",
    ),
    "E409": (
        "IAM role in the wrong case",
        "A role granted under security.serviceAccounts is a predefined IAM role but for case: IAM's role "
        "ids are case-sensitive, and it would refuse the grant at apply.",
    ),
    "W301": ("unused declaration", "Something is declared but never referenced."),
    "W302": ("unused lock pin", "mlops.lock pins a value, or names a region, the config no longer has."),
    "W303": (
        "waiver matches nothing",
        "A policy waiver's path names no place in the config, or its resource pattern no resource the "
        "config compiles to, so it waives nothing.",
    ),
    "W304": (
        "overlay removes nothing",
        "An overlay sets a key to null to remove it, but the document it applies to has no such key "
        "(often a misspelt name, which leaves what was meant in place).",
    ),
    "W401": ("region not in the catalog", "Zones and accelerators of the region cannot be checked."),
    "W402": (
        "add-on version untested",
        "An add-on is pinned to another version than mlopsctl is tested with.",
    ),
    "W403": (
        "ignored on this placement",
        "A setting that the section's placement does not use, such as an endpoint's runtime on Vertex AI, "
        "which serves each model with its prebuilt container.",
    ),
    "W404": (
        "accelerator node unused",
        "A workload that uses no accelerator is placed on a GPU or TPU node pool, which it would keep "
        "scaled up.",
    ),
    "W405": (
        "role not in the catalog",
        "A role granted under security.serviceAccounts is not among the predefined IAM roles mlopsctl "
        "knows: a typo (the closest known role is suggested), or a role newer than the catalog.",
    ),
    "W406": (
        "notification not delivered",
        "An SLO monitor notifies channels while platform.metrics is in-cluster: its alert goes to the "
        "cluster's Alertmanager, whose receivers mlopsctl does not configure.",
    ),
    "W407": (
        "deprecated by Google Cloud",
        "The config asks for something Google Cloud has deprecated, such as a feature store's optimized "
        "online serving (which also cannot be encrypted with a customer-managed key).",
    ),
    "W408": (
        "policy turned off",
        "policies.levels turns a policy off: its findings are dropped everywhere, with no reason given. "
        "A waiver says why, for the resources or places it names.",
    ),
    "W409": (
        "waiver of everything",
        "A policy waiver's resource pattern matches every resource of the environments it names (such as "
        "'*'): like a level of off, it drops every finding of the policy there, whatever the reason says.",
    ),
}


def quoted(text: str, limit: int = 80) -> str:
    """``text`` quoted for a message, cut to ``limit`` characters with its length said (a value of
    thousands of characters would bury the message)."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} characters)"


def bad_scalar(text: str, tag: str) -> tuple[str, str]:
    """The message and hint of a scalar that its type (``tag``) cannot read: one a tag names (only an
    untagged integer can fail, by having more digits than Python reads, 4300)."""
    shown = tag.replace("tag:yaml.org,2002:", "!!")
    message = f"{quoted(text)} is not a valid {shown} value"
    digits = sum(c.isdigit() for c in text)
    if shown == "!!int" and re.fullmatch(r"[-+]?[0-9_]+", text) and digits > 4300:
        return (
            f"{message}: its {digits} digits are more than a number may have",
            "quote it to keep it as text",
        )
    return message, "remove the tag, or write a value of that type"


def printable(text: str) -> str:
    """``text`` with every character that is not printable (controls, line and paragraph
    separators, format characters such as bidirectional overrides) written as an escape."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode() for c in text
    )


POLICY_ID = re.compile(r"^([A-Z]{3}[0-9]{3}|[a-z][a-z0-9]*([-.][a-z0-9]+)*)$")
"""Findings of ``mlopsctl check`` carry the id of their policy as code (docs/policies.md):
three capitals and three digits, or a lowercase slug such as ``acme.owner-label``."""


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    path: Path = ()
    hint: str | None = None
    severity: Severity = Severity.ERROR
    position: Position | None = None
    address: str | None = None
    """The resource the diagnostic is about (policy findings), if any."""

    def __post_init__(self) -> None:
        if self.code not in CODES and not POLICY_ID.match(self.code):
            raise ValueError(f"unregistered diagnostic code {self.code}")
        # Messages quote the user's keys and values: what a terminal or log would act on (line
        # breaks, escape sequences, bidirectional overrides) is shown escaped, one line each.
        object.__setattr__(self, "message", printable(self.message))
        if self.hint is not None:
            object.__setattr__(self, "hint", printable(self.hint))

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def located(self, sources: SourceMap, *, key: bool = False) -> Diagnostic:
        """This diagnostic with its position taken from ``sources`` (if it has none yet)."""
        if self.position is not None:
            return self
        return replace(self, position=sources.lookup(self.path, key=key))

    def sort_key(self) -> tuple[str, int, int, str, str]:
        pos = self.position
        return (
            (pos.file, pos.line, pos.column, self.code, self.message)
            if pos
            else ("", 0, 0, self.code, self.message)
        )

    def to_text(self) -> str:
        where = f"{self.position}: " if self.position else ""
        text = f"{where}{self.severity.value} {self.code}: {self.message}"
        if self.address:
            text += f"\n  resource: {self.address}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def to_dict(self) -> dict[str, object]:
        pos = self.position
        address = {"address": self.address} if self.address else {}
        return address | {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "path": format_path(self.path),
            "hint": self.hint,
            "file": pos.file if pos else None,
            "line": pos.line if pos else None,
            "column": pos.column if pos else None,
        }


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def normalize(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Sorted by position, duplicates removed (the same mistake seen from several environments)."""
    unique: dict[tuple[object, ...], Diagnostic] = {}
    for d in diagnostics:
        unique.setdefault((d.code, d.position, d.message, d.address), d)
    return sorted(unique.values(), key=Diagnostic.sort_key)


def plural(n: int, noun: str) -> str:
    """``1 error``, ``2 errors``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _spelling(word: str) -> str:
    """``word`` without what tells ``NVIDIA_L4``, ``nvidia-l4`` and ``Nvidia_L4`` apart."""
    return word.lower().replace("_", "-")


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to ``word``, phrased as a suggestion, or None. A choice spelled
    like ``word`` but for case and ``-``/``_`` is the closest: the suggestion then names the exact
    spelling the field wants (``NVIDIA_TESLA_T4`` for ``nvidia-tesla-t4``)."""
    options = sorted(set(choices))
    same = [o for o in options if _spelling(o) == _spelling(word)]
    match = difflib.get_close_matches(word, same or options, n=1, cutoff=0 if same else 0.6)
    return f"did you mean '{match[0]}'?" if match else None


def codes_markdown() -> str:
    """The table of diagnostic codes, as kept in docs/diagnostics.md."""
    lines = [
        "# Diagnostic codes",
        "",
        "Generated from `mlopsctl.config.diagnostics.CODES` by `mlopsctl codes`; do not edit by hand.",
        "",
        "| code | title | meaning |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {code} | {title} | {text} |" for code, (title, text) in sorted(CODES.items())]
    return "\n".join(lines) + "\n"
