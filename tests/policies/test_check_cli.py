"""``check``: the policies' findings over a config (``api.check``), with the state to compare with,
in SARIF for code scanning, over the examples; and what ``mlopsctl check`` prints and exits with."""

from __future__ import annotations

import json
import pathlib

import pytest
from api_helpers import checked, refusal, sarif
from conftest import EXAMPLES, ROOT
from gitrepos import git_init_and_commit
from helpers import WITH_DATA, applied, run, selected, write
from policy_helpers import PASSING, where
from sarif_github import github_problems

from mlopsctl import __version__, api
from mlopsctl.config.diagnostics import Diagnostic
from mlopsctl.views.diagnostics import render_sarif

ONE_REPLICA = PASSING.replace("minReplicas: 2}", "minReplicas: 1}")
ISVC = "prod/us-central1/kubernetes:serving.kserve.io/v1beta1:InferenceService/score-main"
WARNED = ONE_REPLICA + "policies: {levels: {MLP001: warning}}\n"
"""ONE_REPLICA with MLP001's finding lowered to a warning."""
FINDING = (
    f"{where(ONE_REPLICA, 'minReplicas: 1')}: error MLP001: endpoint 'score' (main) keeps 1 replica "
    "in prod; production needs at least 2\n"
    f"  resource: {ISVC}\n"
    "  hint: set minReplicas: 2 (e.g. in environments.prod.overrides)"
)
"""ONE_REPLICA's finding, as text."""
INVALID = ONE_REPLICA.replace("minReplicas: 1}", "minReplicas: 1, replicas: 2}")


@pytest.fixture
def here(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("text", "found"),
    [(PASSING, []), (ONE_REPLICA, [("MLP001", "error")]), (WARNED, [("MLP001", "warning")])],
)
def test_findings_and_their_levels(here: pathlib.Path, text: str, found: list[tuple[str, str]]) -> None:
    result = checked(write(here, text))
    assert [(d.code, d.severity.value) for d in result.findings] == found
    assert result.errors == found.count(("MLP001", "error"))


def test_a_finding_names_id_position_resource_path_and_hint(here: pathlib.Path) -> None:
    [found] = checked(write(here, ONE_REPLICA).relative_to(here)).findings
    assert (found.code, found.address, found.path) == (
        "MLP001",
        ISVC,
        ("endpoints", "score", "variants", "main", "minReplicas"),
    )
    assert found.to_text() == FINDING


def test_sarif_describes_every_rule_as_code_scanning_reads_it(here: pathlib.Path) -> None:
    log = json.loads(sarif(write(here, WARNED).relative_to(here)))
    assert log["version"] == "2.1.0"
    [sarif_run] = log["runs"]
    rules = {r["id"]: r for r in sarif_run["tool"]["driver"]["rules"]}
    assert {f"MLP{n:03}" for n in range(16)} | {"E203", "W301"} <= rules.keys()
    assert rules["MLP001"]["name"] == "production replicas"
    docs = (ROOT / "docs" / "policies.md").read_text(encoding="utf-8")
    for code, rule in rules.items():
        # The properties SARIF 2.1.0 requires, and those GitHub code scanning reads (checked by hand:
        # no package on PyPI that is widely used ships the SARIF JSON schema).
        assert set(rule) >= {"id", "shortDescription", "fullDescription", "help", "helpUri"}, code
        assert "Why" in rule["help"]["text"] and "Fix" in rule["help"]["text"], code
        assert "**Why.**" in rule["help"]["markdown"] and "**Fix.**" in rule["help"]["markdown"], code
        if code.startswith("MLP"):
            assert rule["helpUri"].endswith(f"docs/policies.md#{code.lower()}")
            assert f"\n### {code}\n" in docs
    [result] = sarif_run["results"]
    assert result["ruleId"] in rules and result["level"] == "warning"
    assert set(result) >= {"ruleId", "message", "locations", "partialFingerprints"}
    [location] = result["locations"]
    region = location["physicalLocation"]["region"]
    assert location["physicalLocation"]["artifactLocation"] == {"uri": "mlops.yaml", "uriBaseId": "%SRCROOT%"}
    assert f"mlops.yaml:{region['startLine']}:{region['startColumn']}" == where(ONE_REPLICA, "minReplicas: 1")
    assert location["logicalLocations"] == [{"fullyQualifiedName": ISVC, "kind": "resource"}]


def test_base_reports_destroyed_protected_resources(source: pathlib.Path) -> None:
    source.write_text(WITH_DATA.replace("    raw: {}\n", "    raw: {location: US}\n"), encoding="utf-8")
    git_init_and_commit(source.parent, "move the bucket")
    found = "\n".join(d.to_text() for d in checked(source, selected(["dev"]), base="HEAD~1").findings)
    assert "error MLP010: the plan replaces protected Bucket 'raw' (changed: location)" in found
    assert "error MLP006: Bucket 'raw' is located in US" in found
    waived = (
        "policies:\n  levels: {MLP006: 'off'}\n"
        "  waivers: [{policy: MLP010, path: data.buckets.raw, reason: the bucket is empty}]\n"
    )
    source.write_text(source.read_text(encoding="utf-8") + waived, encoding="utf-8")
    assert checked(source, selected(["dev"]), base="HEAD~1").errors == 0


def test_a_finding_about_no_line_is_placed_on_the_config_in_sarif(here: pathlib.Path) -> None:
    """Code scanning drops results without a file: one about no line points at the config."""
    (here / ".git").mkdir()
    found = [Diagnostic("E307", "the --env and --region options select no environment/region")]
    [result] = json.loads(render_sarif(found, "1", file="ml/mlops.yaml"))["runs"][0]["results"]
    assert result["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": "ml/mlops.yaml", "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 1, "startColumn": 1},
            }
        }
    ]


def test_repo_reports_protected_resources_of_a_removed_region(
    source: pathlib.Path, deploy: pathlib.Path
) -> None:
    assert applied(source, api.TargetSpec(repo=deploy)).outcome.changed
    assert checked(source, selected(["dev"]), repo=deploy).findings == []
    regions = "    regions: [us-central1, europe-west4]"
    source.write_text(
        WITH_DATA.replace(regions, "    regions: [us-central1]") + "policies: {levels: {MLP005: 'off'}}\n"
    )
    found = checked(source, selected(["prod"]), repo=deploy).findings
    assert {d.code for d in found} == {"MLP010", "W408"}  # W408: the config turns MLP005 off
    found = [d for d in found if d.code == "MLP010"]
    assert all(d.is_error for d in found)
    assert "prod/europe-west4/gcp:storage/bucket:Bucket/raw" in {d.address for d in found}
    assert all((d.address or "").startswith("prod/europe-west4/") for d in found)


def test_repo_and_base_exclude_each_other(here: pathlib.Path) -> None:
    config = write(here, PASSING)
    assert refusal(lambda: checked(config, repo=here, base="HEAD")) == "give --repo or --base, not both"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_examples_pass_check(example: pathlib.Path) -> None:
    result = checked(example)
    assert (result.findings, result.notes) == ([], ())


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_github_accepts_the_sarif_of_every_example(example: pathlib.Path, here: pathlib.Path) -> None:
    assert github_problems(sarif(example)) == []


def test_github_accepts_the_sarif_of_findings_and_errors(here: pathlib.Path) -> None:
    assert github_problems(sarif(write(here, ONE_REPLICA).relative_to(here))) == []
    with api.open_config(write(here, INVALID).relative_to(here)) as validation:
        log = render_sarif(validation.diagnostics, __version__, file=validation.source.display)
    assert json.loads(log)["runs"][0]["results"] and github_problems(log) == []


def test_the_github_rules_catch_what_github_refuses() -> None:
    found = [Diagnostic("E307", "no position")]
    assert "needs 1 to 1,000 locations" in " ".join(github_problems(render_sarif(found, "1")))
    log = json.loads(render_sarif(found, "1", file="mlops.yaml"))
    log["runs"][0]["results"][0]["ruleId"] = "X999"
    assert "names no rule of the run" in " ".join(github_problems(json.dumps(log)))


# The CLI: exit codes, and each format on its stream.


@pytest.mark.parametrize(
    ("text", "code", "tail"),
    [
        (PASSING, 0, "mlops.yaml: 0 errors, 0 warnings.\n"),
        (ONE_REPLICA, 1, "mlops.yaml: 1 error, 0 warnings.\n"),
        (WARNED, 0, "mlops.yaml: 0 errors, 1 warning.\n"),
    ],
)
def test_cli_exit_codes(here: pathlib.Path, text: str, code: int, tail: str) -> None:
    write(here, text)
    assert run("check")[:2] == (code, tail)


def test_cli_text_is_each_finding_on_stderr(here: pathlib.Path) -> None:
    write(here, ONE_REPLICA)
    code, _, err = run("check", "mlops.yaml")
    assert code == 1
    assert err == FINDING + "\n"


def test_cli_invalid_config_reports_validation_only(here: pathlib.Path) -> None:
    write(here, INVALID)
    code, out, _ = run("check", "--format", "json")
    assert code == 1
    assert [d["code"] for d in json.loads(out)["diagnostics"]] == ["E203"]


def test_cli_json(here: pathlib.Path) -> None:
    write(here, ONE_REPLICA)
    code, out, _ = run("check", "--format", "json")
    [found] = json.loads(out)["diagnostics"]
    assert code == 1
    assert found["code"] == "MLP001" and found["severity"] == "error" and found["address"] == ISVC
    assert f"mlops.yaml:{found['line']}:{found['column']}" == where(ONE_REPLICA, "minReplicas: 1")
    assert found["path"] == "endpoints.score.variants.main.minReplicas"


def test_cli_github(here: pathlib.Path) -> None:
    write(here, ONE_REPLICA)
    code, out, _ = run("check", "--format", "github")
    _, line, col = where(ONE_REPLICA, "minReplicas: 1").split(":")
    assert code == 1
    assert out.startswith(
        f"::error file=mlops.yaml,line={line},col={col},title=MLP001::endpoint 'score' (main)"
    )


def test_cli_sarif_locations_are_relative_to_the_repository_and_fingerprints_stable(
    here: pathlib.Path,
) -> None:
    (here / ".git").mkdir()
    write(here / "ml", ONE_REPLICA)
    outputs = [run("check", "ml/mlops.yaml", "--format", "sarif")[1] for _ in range(2)]
    first, second = (json.loads(out)["runs"][0]["results"] for out in outputs)
    [result] = first
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "ml/mlops.yaml"
    assert result["partialFingerprints"] == second[0]["partialFingerprints"]
    moved = "# a comment moves every line\n" + ONE_REPLICA
    write(here / "ml", moved)
    [after] = json.loads(run("check", "ml/mlops.yaml", "--format", "sarif")[1])["runs"][0]["results"]
    assert after["partialFingerprints"] == result["partialFingerprints"]
    assert after["locations"] != result["locations"]
