"""The CI workflow shipped under examples/ runs commands and options that exist."""

from __future__ import annotations

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
