"""The CI workflow shipped under examples/ runs commands and options that exist."""

from __future__ import annotations

import json
import re
import shlex

import pytest
import yaml
from conftest import ROOT
from helpers import run

WORKFLOW = ROOT / "examples" / "ci" / "github-workflow.yml"


def _invocations() -> list[list[str]]:
    """Every 'mlopsctl ...' command line of the workflow's run steps, split like a shell."""
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    found = []
    for job in jobs.values():
        for step in job["steps"]:
            for line in step.get("run", "").splitlines():
                words = shlex.split(line.strip().replace("$", ""))
                if words and words[0] == "mlopsctl":
                    found.append(words[1:])
    return found


def test_the_workflow_reviews_pull_requests_and_applies_merges() -> None:
    commands = [words[0] for words in _invocations()]
    assert commands == ["validate", "check", "check", "plan", "plan", "apply"]


def test_findings_reach_code_scanning_and_forks_get_no_comment() -> None:
    review = yaml.safe_load(WORKFLOW.read_text())["jobs"]["review"]
    assert review["permissions"]["security-events"] == "write"
    steps = review["steps"]
    [upload] = [s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif@")]
    assert upload["with"]["sarif_file"] == "mlopsctl.sarif"
    assert any("--format sarif > mlopsctl.sarif" in s.get("run", "") for s in steps)
    [comment] = [s for s in steps if s.get("uses", "").startswith("actions/github-script@")]
    assert comment["if"] == "github.event.pull_request.head.repo.full_name == github.repository"


@pytest.mark.parametrize("words", _invocations(), ids=lambda w: " ".join(w[:2]))
def test_each_command_and_option_exists(words: list[str]) -> None:
    code, help_text, _ = run(words[0], "--help")
    assert code == 0
    for option in (w for w in words[1:] if w.startswith("--")):
        assert option in help_text, f"mlopsctl {words[0]} has no option {option}"


def test_every_action_is_pinned_by_commit_sha() -> None:
    """A tag can be moved to other code; a commit cannot. The comment names the release."""
    uses = [
        line.split("uses:", 1)[1].strip() for line in WORKFLOW.read_text().splitlines() if "uses:" in line
    ]
    assert len(uses) == 8
    for use in uses:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+.*", use), use


def test_checkouts_leave_no_token_behind() -> None:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    checkouts = [
        s for job in jobs.values() for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")
    ]
    assert checkouts and all(s["with"]["persist-credentials"] is False for s in checkouts)


def test_the_workflow_is_valid_for_github_actions() -> None:
    """Checked against SchemaStore's GitHub workflow schema, as check-jsonschema ships it."""
    import importlib.resources

    import jsonschema

    schema_file = (
        importlib.resources.files("check_jsonschema.builtin_schemas.vendor") / "github-workflows.json"
    )
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    workflow = yaml.safe_load(WORKFLOW.read_text())
    workflow["on"] = workflow.pop(True)  # YAML 1.1 reads the key 'on' as true
    errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(workflow)]
    assert errors == []
