"""No plaintext credentials (MLP017): a secret written in mlops.yaml is copied into the plan, graph.json,
the manifests and the deploy repository, where everyone who reads them can use it.

The policy reads what the config compiles to, template overrides and launchers' JSON ``--config``
included: container environment variables named like credentials that are given a literal value
(``valueFrom`` is how a Kubernetes Secret is read), URIs with a password in their userinfo or a
credential in their query, and strings shaped like well-known tokens and private keys. Each finding is
placed where mlops.yaml holds the value when it does (a step's ``env``, a ``data.external`` URI), and
never shows the value itself.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from mlopsctl.config.sourcemap import Path
from mlopsctl.graph import JSON, Resource
from mlopsctl.policies import Finding, PolicyContext, policy

CREDENTIAL_NAME = re.compile(
    r"(^|[^A-Z0-9])(PASSWORD|PASSWD|SECRET|SECRET_KEY|TOKEN|API_?KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIALS?)$",
    re.IGNORECASE,
)
"""Names of environment variables and query parameters whose value is a credential: DB_PASSWORD,
CLIENT_SECRET, GITHUB_TOKEN, OPENAI_API_KEY, AWS_SECRET_ACCESS_KEY (but not ..._FILE, ..._PATH, ..._ID)."""
USERINFO = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*)://([^/\s:@]*):([^/\s@]+)@([^/\s?#]+)")
"""scheme://user:password@host."""
TOKENS: tuple[tuple[str, int, re.Pattern[str]], ...] = (
    ("an AWS access key", 4, re.compile(r"\bAKIA[0-9A-Z]{16}\b")),
    ("a GitHub token", 4, re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}")),
    ("a GitHub token", 11, re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,}")),
    ("a Slack token", 5, re.compile(r"\bxox[abpers]-[A-Za-z0-9-]{10,}")),
    ("a Google API key", 4, re.compile(r"\bAIza[0-9A-Za-z_-]{35}")),
    ("a private key", 0, re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")),
)
"""(what, length of the prefix it may be shown by, shape) of tokens recognisable by their form alone."""
PLACEHOLDER = re.compile(r"^(\$[({].*[)}]|<.*>|\[.*\])$")
"""A value that only stands for one: $(VAR) that Kubernetes expands, ${VAR}, <...>, [PAD]."""


@dataclass(frozen=True)
class Leak:
    what: str
    """What is in plain text, for the message: ``DB_PASSWORD (a 14-character value)``."""
    secret: str
    """The secret itself, to find where mlops.yaml holds it (never shown)."""
    name: str | None = None
    """The environment variable that holds it, if it is one."""


@policy("MLP017")
def plaintext_credentials(ctx: PolicyContext) -> Iterator[Finding]:
    """What mlops.yaml itself holds (a light install outlines pipelines, without their steps' env), then
    what only the compiled objects hold (template overrides, files the config reads)."""
    config = ctx.config.model_dump(by_alias=True)
    written = list(leaks(config))
    holders = [(r, json.dumps(r.inputs, ensure_ascii=False)) for r in ctx.graph] if written else []
    found: list[tuple[Path, Leak, Resource | None]] = [
        (p, leak, _holder(holders, leak)) for p, leak in written
    ]
    places = list(_strings(config))
    for resource in ctx.graph:
        for _, leak in leaks(resource.inputs):
            found.append((_written(places, leak) or resource.source, leak, resource))
    seen: set[tuple[Path, str]] = set()
    for path, leak, holder in found:
        if (path, leak.what) in seen:
            continue  # the same value, copied into several objects: one finding where it is written
        seen.add((path, leak.what))
        yield Finding(
            f"{leak.what} is written in plain text, and copied into the plan, graph.json and the "
            f"manifests in {ctx.target.env}",
            hint=_hint(path),
            address=holder.address if holder else None,
            path=path,
        )


def leaks(value: JSON, path: Path = ()) -> Iterator[tuple[Path, Leak]]:
    """(where, what) of each credential in plain text within ``value``: environment variables (the
    items of ``env`` lists, or ``env`` mappings of names to values), and strings, JSON documents held in
    strings included (placed at the string)."""
    key = next((part for part in reversed(path) if isinstance(part, str)), "")
    if isinstance(value, dict):
        told: set[str] = set()  # variables found by name: their values are not read again
        if key == "env" and "name" in value:  # an item of a container's env list
            found = _env_leak(value)
            if found is not None:
                yield path, found
                return
        elif path[-1:] == ("env",):  # a mapping of names to values
            for name, text in value.items():
                found = _env_leak({"name": name, "value": text})
                if found is not None:
                    told.add(name)
                    yield (*path, name), found
        for child_key, child in value.items():
            if child_key not in told:
                yield from leaks(child, (*path, child_key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from leaks(child, (*path, i))
    elif isinstance(value, str):
        yield from ((path, leak) for leak in _string_leaks(value))


def _env_leak(var: Mapping[str, JSON]) -> Leak | None:
    name, value = var.get("name"), var.get("value")
    if not isinstance(name, str) or not isinstance(value, str) or "valueFrom" in var:
        return None
    if not CREDENTIAL_NAME.search(name) or len(value) < 6 or PLACEHOLDER.match(value):
        return None
    return Leak(f"environment variable {name} ({_size(value)})", value, name)


def _string_leaks(text: str) -> Iterator[Leak]:
    if text[:1] in ("{", "["):
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            pass
        else:
            yield from (leak for _, leak in leaks(document))
            return
    for match in USERINFO.finditer(text):
        scheme, user, password, host = match.groups()
        if not password.startswith("$"):
            yield Leak(f"the password of {scheme}://{user}:****@{host} ({_size(password)})", password)
    for uri in re.finditer(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"']+", text):
        try:
            query = urllib.parse.urlsplit(uri.group()).query
        except ValueError:  # no URI after all (an unclosed '[' of an IPv6 host): nothing to read in it
            continue
        for name, value in urllib.parse.parse_qsl(query):
            if CREDENTIAL_NAME.search(name) and len(value) >= 6 and not value.startswith("$"):
                yield Leak(f"the query parameter {name} of a URI ({_size(value)})", value)
    for what, shown, shape in TOKENS:
        for match in shape.finditer(text):
            token = match.group()
            yield Leak(f"{what} ({token[:shown]}****)" if shown else f"{what} (a PEM block)", token)


def _size(value: str) -> str:
    return f"a {len(value)}-character value"


def _strings(value: object, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """(path, text) of every string of a dumped config, keys' paths included (an env var's name)."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _strings(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _strings(child, (*path, i))
    elif isinstance(value, str):
        yield path, value


def _holder(holders: list[tuple[Resource, str]], leak: Leak) -> Resource | None:
    """The first compiled object that carries the leaked value (none: an outline, without kfp)."""
    shown = json.dumps(leak.secret, ensure_ascii=False)[1:-1]
    return next((resource for resource, text in holders if shown in text), None)


def _written(places: list[tuple[Path, str]], leak: Leak) -> Path:
    """Where mlops.yaml holds the leaked value: the environment variable of that name first."""
    holding = [path for path, text in places if leak.secret in text]
    named = [path for path in holding if leak.name is not None and path[-1:] == (leak.name,)]
    return (named or holding or [()])[0]


def _hint(path: Path) -> str:
    if path[:1] == ("pipelines",) and len(path) == 6 and path[2:3] == ("steps",) and path[4:5] == ("env",):
        setting = ".".join(map(str, (*path[:4], "secrets")))
        return (
            f"keep the value in Secret Manager and name it under {setting} ({path[5]}: <secret>) instead "
            "of env; then rotate it, as it has been committed"
        )
    if path[:2] == ("data", "external"):
        return (
            "take the credential out of the URI: a data.external URI is copied as written, so serve the data "
            "where the ingest step's own identity reads it (gs://, bq://), or from a URL that needs no "
            "secret; then rotate it, as it has been committed"
        )
    return (
        "keep credentials in Secret Manager and give them to the steps that use them under "
        "pipelines.<name>.steps.<step>.secrets; then rotate it, as it has been committed"
    )
