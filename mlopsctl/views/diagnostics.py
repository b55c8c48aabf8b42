"""Diagnostics as text, JSON, GitHub Actions annotations and SARIF 2.1.0 for code scanning."""

from __future__ import annotations

import hashlib
import json
import pathlib
from collections.abc import Mapping, Sequence

from mlopsctl.config.diagnostics import CODES, Diagnostic
from mlopsctl.config.policy_catalog import HELP
from mlopsctl.config.sourcemap import Position, format_path


def render_text(diagnostics: Sequence[Diagnostic]) -> str:
    return "\n".join(d.to_text() for d in diagnostics)


def render_json(diagnostics: Sequence[Diagnostic]) -> str:
    return json.dumps({"diagnostics": [d.to_dict() for d in diagnostics]}, indent=2, sort_keys=True)


def render_github(diagnostics: Sequence[Diagnostic]) -> str:
    """GitHub Actions workflow commands: each diagnostic becomes an annotation on its line.

    GitHub attaches an annotation only to a file named relative to the checkout, so inside a Git
    repository files are named from its root, as in the SARIF log; outside one, as given."""

    def escape(text: str, *, in_property: bool = False) -> str:
        text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return text.replace(":", "%3A").replace(",", "%2C") if in_property else text

    root = _git_root()
    lines = []
    for d in diagnostics:
        where = " "
        if d.position:
            shown = d.position.file if root is None else _relative_uri(d.position.file, root)
            file = escape(shown, in_property=True)
            where = f" file={file},line={d.position.line},col={d.position.column},"
        message = d.message + (f" ({d.hint})" if d.hint else "")
        lines.append(f"::{d.severity.value}{where}title={d.code}::{escape(message)}")
    return "\n".join(lines)


DOCS_URL = "https://github.com/acme/mlopsctl/blob/main/docs/"
SRCROOT = "%SRCROOT%"


def render_sarif(
    diagnostics: Sequence[Diagnostic],
    version: str,
    rules: Mapping[str, tuple[str, str]] | None = None,
    file: str | None = None,
) -> str:
    """A SARIF 2.1.0 log, for code-scanning tools; ``rules`` adds (title, explanation) of codes
    beyond the diagnostic codes (policy ids). Locations are relative to the repository root
    (``%SRCROOT%``), the nearest folder above the working directory holding ``.git``.

    Code scanning shows only results with a file: a finding about no line (a plan-wide policy)
    is placed at the first line of ``file``, the config checked."""

    root = _repository_root()
    results = []
    for d in diagnostics:
        result: dict[str, object] = {
            "ruleId": d.code,
            "level": d.severity.value,
            "message": {"text": d.message + (f" ({d.hint})" if d.hint else "")},
            "partialFingerprints": {"mlopsctlFinding/v1": _fingerprint(d)},
        }
        location: dict[str, object] = {}
        position = d.position or (Position(file, 1, 1) if file else None)
        if position:
            region = {"startLine": position.line, "startColumn": position.column}
            artifact = {"uri": _relative_uri(position.file, root), "uriBaseId": SRCROOT}
            location["physicalLocation"] = {"artifactLocation": artifact, "region": region}
        if d.address:
            location["logicalLocations"] = [{"fullyQualifiedName": d.address, "kind": "resource"}]
        if location:
            result["locations"] = [location]
        results.append(result)
    table = {**CODES, **(rules or {})}
    sarif_rules = [_rule(code, title, text, HELP.get(code)) for code, (title, text) in sorted(table.items())]
    log = {
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [
            {
                "tool": {"driver": {"name": "mlopsctl", "version": version, "rules": sarif_rules}},
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2, sort_keys=True)


def _rule(code: str, title: str, text: str, help_: tuple[str, str] | None) -> dict[str, object]:
    """A SARIF reportingDescriptor: what the rule checks; why and how to fix; where it is documented."""
    if code in CODES:
        uri, why, fix = f"{DOCS_URL}diagnostics.md", text, "Correct the value at the reported position."
    elif help_ is not None:
        uri, (why, fix) = f"{DOCS_URL}policies.md#{code.lower()}", help_
    else:
        uri, why, fix = f"{DOCS_URL}policies.md#custom-policies", text, "See the policy's documentation."
    return {
        "id": code,
        "name": title,
        "shortDescription": {"text": title},
        "fullDescription": {"text": text},
        "help": {
            "text": f"{text}\nWhy: {why}\nFix: {fix}",
            "markdown": f"**{code} {title}**\n\n{text}\n\n**Why.** {why}\n\n**Fix.** {fix}\n\n"
            f"[Documentation]({uri})",
        },
        "helpUri": uri,
    }


def _git_root() -> pathlib.Path | None:
    """The nearest folder at or above the working directory holding ``.git``, if any."""
    cwd = pathlib.Path.cwd()
    return next((p for p in (cwd, *cwd.parents) if (p / ".git").exists()), None)


def _repository_root() -> pathlib.Path:
    """The Git repository's root, or the working directory outside one."""
    root = _git_root()
    return pathlib.Path.cwd() if root is None else root


def _relative_uri(file: str, root: pathlib.Path) -> str:
    """``file`` (as shown to the user) relative to ``root``, with forward slashes; as given if outside.
    A config read at a Git ref is shown as ``PATH@REF``: the annotation goes on ``PATH``."""
    path = pathlib.Path.cwd() / file
    if "@" in file and not path.exists() and (pathlib.Path.cwd() / file.rsplit("@", 1)[0]).exists():
        file = file.rsplit("@", 1)[0]
        path = pathlib.Path.cwd() / file
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return pathlib.PurePath(file).as_posix()


def _fingerprint(d: Diagnostic) -> str:
    """The same finding gets the same value in every run, wherever lines move: code, resource,
    config path and message, without the position."""
    key = "\0".join((d.code, d.address or "", format_path(d.path), d.message))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
