"""What GitHub code scanning requires of an uploaded SARIF file, from its documentation
("SARIF support for code scanning"): the properties it reads, and its upload limits. The SARIF
JSON schema itself ships in no widely used Python package, so the rules are written out here."""

from __future__ import annotations

import gzip
import json
import re
from typing import Any

MAX_GZIPPED = 10 * 1024 * 1024
MAX_RUNS, MAX_RESULTS, MAX_RULES, MAX_LOCATIONS, MAX_TAGS = 20, 25_000, 25_000, 1_000, 20
MAX_DESCRIPTION = 1024
LEVELS = {"none", "note", "warning", "error"}
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def github_problems(text: str) -> list[str]:
    """Why GitHub would refuse, or drop parts of, the SARIF log ``text`` (empty when it accepts it)."""
    problems = []
    if len(gzip.compress(text.encode())) > MAX_GZIPPED:
        problems.append("larger than 10 MB gzipped")
    log = json.loads(text)
    if log.get("version") != "2.1.0":
        problems.append("version is not 2.1.0")
    runs = log.get("runs")
    if not isinstance(runs, list) or not 0 < len(runs) <= MAX_RUNS:
        return [*problems, "runs must be a list of 1 to 20 runs"]
    for r, run in enumerate(runs):
        problems += [f"runs[{r}]: {p}" for p in _run_problems(run)]
    return problems


def _run_problems(run: dict[str, Any]) -> list[str]:
    driver = run.get("tool", {}).get("driver", {})
    problems = [] if driver.get("name") else ["tool.driver.name is required"]
    rules = driver.get("rules", [])
    ids = [rule.get("id") for rule in rules]
    if len(rules) > MAX_RULES:
        problems.append("more than 25,000 rules")
    if None in ids or len(set(ids)) != len(ids):
        problems.append("every rule needs a unique id")
    for rule in rules:
        for field in ("shortDescription", "fullDescription"):
            if len(rule.get(field, {}).get("text", "")) > MAX_DESCRIPTION:
                problems.append(f"rule {rule.get('id')}: {field} longer than 1024 characters")
        if len(rule.get("properties", {}).get("tags", [])) > MAX_TAGS:
            problems.append(f"rule {rule.get('id')}: more than 20 tags")
    results = run.get("results", [])
    if len(results) > MAX_RESULTS:
        problems.append("more than 25,000 results")
    for i, result in enumerate(results):
        problems += [f"results[{i}]: {p}" for p in _result_problems(result, set(ids))]
    return problems


def _result_problems(result: dict[str, Any], rule_ids: set[str]) -> list[str]:
    problems = []
    if result.get("ruleId") not in rule_ids:
        problems.append(f"ruleId {result.get('ruleId')!r} names no rule of the run")
    if result.get("level", "warning") not in LEVELS:
        problems.append(f"level {result.get('level')!r} is not one of {sorted(LEVELS)}")
    if not result.get("message", {}).get("text"):
        problems.append("message.text is required")
    locations = result.get("locations") or []
    if not 0 < len(locations) <= MAX_LOCATIONS:
        return [*problems, "needs 1 to 1,000 locations (code scanning drops a result without one)"]
    physical = locations[0].get("physicalLocation", {})
    uri = physical.get("artifactLocation", {}).get("uri", "")
    if not uri or (_SCHEME.match(uri) and not uri.startswith("file:")):
        problems.append(f"the first location's uri {uri!r} is not a relative path or file: URI")
    region = physical.get("region", {})
    if not isinstance(region.get("startLine"), int) or region["startLine"] < 1:
        problems.append("the first location needs region.startLine >= 1")
    if not result.get("partialFingerprints"):
        problems.append("no partialFingerprints: alerts would not be matched across runs")
    return problems
