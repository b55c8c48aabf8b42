from __future__ import annotations

import re
from typing import Any

import pytest
from helpers import PROD, make_change

from mlopsctl.config.target import Target
from mlopsctl.graph import JSON
from mlopsctl.plan import Action, Plan, ResourceChange, TargetPlan
from mlopsctl.views.plan_markdown import render_markdown

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


def large_plan(targets: int = 3, per_target: int = 40, size: int = 1_000) -> Plan:
    """Replacements with big inputs, like a plan that changes many pipeline versions."""

    def replaced(target: Target, i: int) -> ResourceChange:
        before: dict[str, JSON] = {"name": f"old-{i}", "spec": "a" * size}
        after: dict[str, JSON] = {"name": f"new-{i}", "spec": "b" * size}
        actions = (Action.DELETE, Action.CREATE)
        return change(f"r{i}", actions, before, after, target=target, replace_paths=("name",))

    envs = [Target(f"env{n}", "us-central1") for n in range(targets)]
    return Plan("acme", tuple(TargetPlan(t, tuple(replaced(t, i) for i in range(per_target))) for t in envs))


def assert_well_formed(text: str) -> None:
    assert text.count("<details>") == text.count("</details>")
    fences = re.findall(r"^(`{3,})(diff)?$", text, re.MULTILINE)
    assert [bool(info) for _, info in fences] == [True, False] * (len(fences) // 2)
    assert len(fences) % 2 == 0
    assert text.endswith("**Plan: 120 to add, 0 to change, 120 to destroy.**\n")


@pytest.mark.parametrize("limit", [60_000, 30_000, 15_000])
def test_a_large_plan_stays_within_the_limit(limit: int) -> None:
    plan = large_plan()
    text = render_markdown(plan, limit=limit)
    assert len(text) <= limit
    assert_well_formed(text)
    assert text.startswith("## Plan for acme\n\n> [!WARNING]\n> **120 destructive changes:**\n")
    assert "| env2 | us-central1 | 40 | 0 | 40 |" in text
    shown = text.count("<details>")
    left_out = [int(n) for n in re.findall(r"^_(\d+) resource details? left out", text, re.MULTILINE)]
    assert 0 < shown < 120
    assert shown + sum(left_out) == 120
    assert text.count("(`mlopsctl plan`)") == len(left_out)
    kept = re.findall(r"<summary><code>(env\d)/us-central1/gcp:storage/bucket:Bucket/r(\d+)</code>", text)
    assert kept == [(f"env{n}", str(i)) for n in range(3) for i in range(40)][:shown]


def test_every_target_says_what_it_left_out() -> None:
    text = render_markdown(large_plan(), limit=20_000)
    sections = text.split("\n### ")[1:]
    assert [s.split("\n", 1)[0] for s in sections] == [f"env{n}/us-central1" for n in range(3)]
    assert all("<details>" in s or "left out" in s for s in sections)
    assert "_40 resource details left out to keep this comment short; " in sections[2]


def test_the_fixed_parts_stay_when_no_block_fits() -> None:
    text = render_markdown(large_plan(per_target=2), limit=1)
    assert "<details>" not in text
    assert text.count("_2 resource details left out") == 3
    assert text.endswith("**Plan: 6 to add, 0 to change, 6 to destroy.**\n")


def test_a_plan_within_the_limit_is_unchanged() -> None:
    plan = large_plan(targets=2, per_target=2, size=10)
    full = render_markdown(plan)
    assert render_markdown(plan, limit=len(full)) == full
    assert "left out" not in full and full.count("<details>") == 4
    shorter = render_markdown(plan, limit=len(full) - 1)
    assert len(shorter) < len(full) and shorter.count("<details>") == 3
    assert "_1 resource detail left out to keep this comment short; " in shorter
