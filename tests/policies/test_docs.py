from __future__ import annotations

from conftest import ROOT

from mlopsctl.policies import policies_markdown


def test_docs_list_every_built_in_policy() -> None:
    docs = (ROOT / "docs" / "policies.md").read_text(encoding="utf-8")
    assert policies_markdown() in docs, "docs/policies.md is stale: paste policies_markdown() into it"
