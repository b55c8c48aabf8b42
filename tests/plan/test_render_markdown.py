from __future__ import annotations

from typing import Any

import pytest
from helpers import PROD, make_change

from mlopsctl.graph import JSON, Target
from mlopsctl.plan import Action, Plan, ResourceChange, TargetPlan
from mlopsctl.plan.render_markdown import render_markdown

DEV = Target("dev", "us-central1")
STAGING = Target("staging", "us-central1")


def change(
    name: str,
    actions: tuple[Action, ...],
    before: dict[str, JSON] | None,
    after: dict[str, JSON] | None,
    **options: Any,
) -> ResourceChange:
    return make_change(actions, before, after, name=name, **options)


def test_full_comment() -> None:
    create = change("raw", (Action.CREATE,), None, {"name": "r"})
    delete = change("old", (Action.DELETE,), {"name": "o"}, None, protect=True)
    update = change("logs", (Action.UPDATE,), {"n": 1}, {"n": 2}, target=STAGING)
    plan = Plan(
        "acme",
        (TargetPlan(DEV, unchanged=2), TargetPlan(PROD, (create, delete)), TargetPlan(STAGING, (update,))),
    )
    assert render_markdown(plan) == (
        """\
## Plan for acme

> [!WARNING]
> **1 destructive change:**
> - <code>prod/us-central1/gcp:storage/bucket:Bucket/old</code> will be destroyed \
(protected: needs `--allow-destroy`)

| Environment | Region | Add | Change | Destroy |
|---|---|--:|--:|--:|
| prod | us-central1 | 1 | 0 | 1 |
| staging | us-central1 | 0 | 1 | 0 |

No changes: dev/us-central1

### prod/us-central1

<details><summary><code>prod/us-central1/gcp:storage/bucket:Bucket/raw</code> will be created</summary>

```diff
  # prod/us-central1/gcp:storage/bucket:Bucket/raw will be created
+  resource "gcp:storage/bucket:Bucket" "raw" {
+      name = "r"
    }
```

</details>

<details><summary><code>prod/us-central1/gcp:storage/bucket:Bucket/old</code> will be destroyed</summary>

```diff
  # prod/us-central1/gcp:storage/bucket:Bucket/old will be destroyed
  # (protected: destroying needs --allow-destroy)
-  resource "gcp:storage/bucket:Bucket" "old" {
-      name = "o"
    }
```

</details>

### staging/us-central1

<details><summary><code>staging/us-central1/gcp:storage/bucket:Bucket/logs</code> \
will be updated in-place</summary>

```diff
  # staging/us-central1/gcp:storage/bucket:Bucket/logs will be updated in-place
  ~ resource "gcp:storage/bucket:Bucket" "logs" {
      ~ n = 1 -> 2
    }
```

</details>

**Plan: 1 to add, 1 to change, 1 to destroy.**
"""
    )


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        (
            Plan("acme"),
            "## Plan for acme\n\n**No changes. Your infrastructure matches the configuration.**\n",
        ),
        (
            Plan("acme", (TargetPlan(DEV), TargetPlan(PROD))),
            "## Plan for acme\n\nNo changes: dev/us-central1, prod/us-central1\n\n"
            "**No changes. Your infrastructure matches the configuration.**\n",
        ),
    ],
    ids=["no targets", "unchanged targets"],
)
def test_no_changes(plan: Plan, expected: str) -> None:
    assert render_markdown(plan) == expected


def test_replacement_is_flagged_without_protection_note() -> None:
    replace = change(
        "raw", (Action.DELETE, Action.CREATE), {"name": "a"}, {"name": "b"}, replace_paths=("name",)
    )
    text = render_markdown(Plan("acme", (TargetPlan(PROD, (replace,)),)))
    assert "> - <code>prod/us-central1/gcp:storage/bucket:Bucket/raw</code> must be replaced\n" in text
    assert "-/+ resource" in text
    assert '~ name = "a" -> "b" # forces replacement' in text


def test_user_strings_are_escaped() -> None:
    odd = Target("a|b", "<r>")
    create = change("x<y", (Action.CREATE,), None, {"v": "```"}, target=odd)
    text = render_markdown(Plan("p<q", (TargetPlan(odd, (create,)),)))
    assert "## Plan for p&lt;q" in text
    assert "| a\\|b | &lt;r&gt; | 1 | 0 | 0 |" in text
    assert (
        "<summary><code>a|b/&lt;r&gt;/gcp:storage/bucket:Bucket/x&lt;y</code> will be created</summary>"
        in text
    )
    # A value holding a code fence cannot close the block early.
    assert "\n````diff\n" in text and text.count("\n````\n") == 1
