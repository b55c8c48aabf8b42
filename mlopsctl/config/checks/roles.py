"""The IAM roles a config grants are Google Cloud's predefined roles, so that a misspelt one is
caught at validate rather than refused by IAM at apply.

The catalog of predefined roles is ``mlopsctl/data/iam_roles.json``, with the date it was taken.
A role that is one of it but for case is refused (E409: IAM's role ids are case-sensitive). Any
other role not in it is warned about (W405), with the closest predefined role if one is close: it
may be a typo, or a role newer than the catalog, which cannot be told apart.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterator
from importlib import resources

from mlopsctl.config.checks import CheckContext, check
from mlopsctl.config.diagnostics import Diagnostic, Severity

CLOSE = 0.85
"""How alike (difflib's ratio) a role and a predefined one are for the first to be a likely typo."""
ROLES_PAGE = "https://cloud.google.com/iam/docs/roles-permissions"


@functools.cache
def predefined_roles() -> tuple[str, frozenset[str]]:
    """The date of the catalog, and the ids of the predefined roles in it."""
    text = resources.files("mlopsctl").joinpath("data/iam_roles.json").read_text(encoding="utf-8")
    raw = json.loads(text)
    return str(raw["date"]), frozenset(raw["roles"])


def meant(role: str, known: frozenset[str]) -> str | None:
    """The predefined role closest to ``role``: of its service's, or of all when the service is
    misspelt too; None when none is close."""
    service = role.removeprefix("roles/").split(".", 1)[0]
    same = sorted(r for r in known if r.startswith(f"roles/{service}."))
    found = difflib.get_close_matches(role, same or sorted(known), n=1, cutoff=CLOSE)
    return found[0] if found else None


@check
def iam_roles(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Each role under ``security.serviceAccounts.*.roles`` is a predefined role."""
    accounts = ctx.config.security.service_accounts
    if not any(account.roles for account in accounts.values()):
        return
    date, known = predefined_roles()
    by_case = {r.lower(): r for r in known}
    for name, account in accounts.items():
        for index, role in enumerate(account.roles):
            if role in known:
                continue
            path = ("security", "serviceAccounts", name, "roles", index)
            exact = by_case.get(role.lower())
            if exact is not None:
                yield Diagnostic(
                    "E409",
                    f"'{role}' is not a predefined IAM role: role ids are case-sensitive, and IAM would "
                    "refuse the grant at apply",
                    path=path,
                    hint=f"write it '{exact}'",
                )
                continue
            typo = meant(role, known)
            yield Diagnostic(
                "W405",
                f"'{role}' is not among the predefined IAM roles of {date}: unless it is newer, IAM "
                "will refuse the grant at apply",
                path=path,
                hint=f"did you mean '{typo}'? (else check its id at {ROLES_PAGE})"
                if typo
                else f"check its id at {ROLES_PAGE}",
                severity=Severity.WARNING,
            )
