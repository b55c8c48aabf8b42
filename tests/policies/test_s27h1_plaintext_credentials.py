"""MLP017: a credential written in mlops.yaml reaches the plan, graph.json and the manifests. Each is an
error at the place it is written, which says what it is without showing it, and points at ``secrets``."""

from __future__ import annotations

import json
import pathlib

import pytest
from conftest import EXAMPLES
from helpers import run, write
from light_install import light
from policy_helpers import RESTRICTED_DEPLOYMENT, TEMPLATED, findings, where, write_overrides

LEAKY = """\
apiVersion: mlopsctl.dev/v1alpha1
kind: MLOpsProject
project:
  name: demo
  owner: team@acme.example
  stageImage: registry.example/stages:1
environments:
  dev:
    gcpProject: acme-demo-dev
    regions: [us-central1]
data:
  external:
    partner:
      uri: https://svc:Sup3rS3cretPassw0rd@partner.example.com/data.csv?token=tok_live_abcdef123456
      format: CSV
pipelines:
  p:
    steps:
      ingest: {kind: ingest, source: {external: partner}, outputs: {examples: dataset}}
      fit:
        image: trainer:1
        command: [python, fit.py]
        inputs: {examples: ingest.examples}
        env:
          DB_PASSWORD: hunter2hunter2
          AWS_SECRET_ACCESS_KEY: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
          GITHUB_TOKEN: ghp_0123456789abcdefghijklmnopqrstuvwxyzAB
          NOTES: "deploy with xoxb-1234567890-abcdefghij"
          PAD_TOKEN: "[PAD]"
          DB_PASSWORD_FILE: /var/run/secrets/db/password
          AWS_ACCESS_KEY_PATH: /var/run/aws/key
          DSN: postgresql://app:$(DB_PASS)@db:5432/app
          MAX_TOKENS: "4096"
        secrets:
          API_KEY: partner-api-key
"""
"""The audit's repro (/tmp/s27sec/p2), with names that only look like credentials, a password that
Kubernetes fills in from another variable, and a credential read from Secret Manager."""
SECRETS = (
    "Sup3rS3cretPassw0rd",
    "tok_live_abcdef123456",
    "hunter2hunter2",
    "wJalrXUtnFEMI",
    "0123456789abcdefghij",
    "1234567890-abcdefghij",
)
TAIL = "is written in plain text, and copied into the plan, graph.json and the manifests in dev"
EXPECTED = [
    ("uri: https", f"the password of https://svc:****@partner.example.com (a 19-character value) {TAIL}"),
    ("uri: https", f"the query parameter token of a URI (a 21-character value) {TAIL}"),
    ("DB_PASSWORD:", f"environment variable DB_PASSWORD (a 14-character value) {TAIL}"),
    ("AWS_SECRET_ACCESS_KEY:", f"environment variable AWS_SECRET_ACCESS_KEY (a 40-character value) {TAIL}"),
    ("GITHUB_TOKEN:", f"environment variable GITHUB_TOKEN (a 42-character value) {TAIL}"),
    ("NOTES:", f"a Slack token (xoxb-****) {TAIL}"),
]


def mlp017(folder: pathlib.Path, text: str) -> list[tuple[str, str, str]]:
    return [
        (d.severity.value, str(d.position), d.message) for d in findings(folder, text) if d.code == "MLP017"
    ]


def test_each_credential_is_an_error_where_it_is_written(tmp_path: pathlib.Path) -> None:
    assert mlp017(tmp_path, LEAKY) == [("error", where(LEAKY, m), message) for m, message in EXPECTED]


def test_the_hints_name_the_setting_and_nothing_shows_a_secret(tmp_path: pathlib.Path) -> None:
    found = [d for d in findings(tmp_path, LEAKY) if d.code == "MLP017"]
    hints = {d.message.split(" (")[0]: d.hint for d in found}
    assert hints["environment variable DB_PASSWORD"] == (
        "keep the value in Secret Manager and name it under pipelines.p.steps.fit.secrets "
        "(DB_PASSWORD: <secret>) instead of env; then rotate it, as it has been committed"
    )
    assert "data.external URI" in str(hints["the password of https://svc:****@partner.example.com"])
    shown = json.dumps([d.to_dict() for d in found])
    assert not [s for s in SECRETS if s in shown]
    code, out, _ = run("check", write(tmp_path, LEAKY), "--format", "sarif")
    assert code == 1 and out.count('"ruleId": "MLP017"') == len(EXPECTED)


def test_a_template_override_that_writes_a_credential(tmp_path: pathlib.Path) -> None:
    """Found in the compiled object, placed at its source: the endpoint's logging."""
    env = "          env: [{name: OPENAI_API_KEY, value: sk-0123456789abcdef}, {name: LEVEL, value: debug}]\n"
    write_overrides(tmp_path, {"deployment": RESTRICTED_DEPLOYMENT + env})
    found = mlp017(tmp_path, TEMPLATED)
    assert {(s, at) for s, at, _ in found} == {("error", where(TEMPLATED, "logging: {"))}
    assert {m.split(" is written")[0] for _, _, m in found} == {
        "environment variable OPENAI_API_KEY (a 19-character value)"
    }


@pytest.mark.parametrize(
    "waiver",
    [
        "{policy: MLP017, path: pipelines.p.steps.fit.env, reason: r}",
        "{policy: MLP017, path: data, reason: r}",
    ],
)
def test_findings_are_waivable(tmp_path: pathlib.Path, waiver: str) -> None:
    text = LEAKY + f"policies:\n  waivers:\n    - {waiver}\n"
    kept = [m for _, _, m in mlp017(tmp_path, text)]
    waived = "environment variable" if "steps" in waiver else "URI"
    assert kept and not [m for m in kept if waived in m]


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.parent.name for e in EXAMPLES])
def test_the_examples_hold_no_credential(example: pathlib.Path) -> None:
    code, _, out = run("check", example)
    assert code == 0 and "MLP017" not in out


def test_check_without_kfp_finds_the_steps_credentials(tmp_path: pathlib.Path) -> None:
    """Without kfp the pipelines are outlined, without their steps: the config itself is read."""
    done = light("check", write(tmp_path, LEAKY))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "error MLP017: environment variable DB_PASSWORD (a 14-character value)" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout


def test_a_string_that_only_looks_like_a_uri_is_read_past(tmp_path: pathlib.Path) -> None:
    """An unclosed IPv6 bracket is no URI urllib can split: the credentials beside it are still found."""
    text = LEAKY.replace(
        '          MAX_TOKENS: "4096"\n', '          MAX_TOKENS: "4096"\n          PEER: "http://[::1"\n'
    )
    assert mlp017(tmp_path, text) == [("error", where(text, m), message) for m, message in EXPECTED]
