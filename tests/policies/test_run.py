"""Levels, waivers, custom policies from entry points, and the policies section's own checks."""

from __future__ import annotations

import pathlib
import textwrap

import pytest
from helpers import write
from policy_helpers import PASSING, findings, summary, where

from mlopsctl.api import compile_graphs, validate
from mlopsctl.config.source import ConfigSource
from mlopsctl.policies.run import all_policies, check

ONE_REPLICA = PASSING.replace("minReplicas: 2}", "minReplicas: 1}")
TARGETS = ("dev/us-central1", "prod/us-central1")
ISVC = "prod/us-central1/kubernetes:serving.kserve.io/v1beta1:InferenceService/score-main"


def with_policies(section: str) -> str:
    return ONE_REPLICA + "policies:\n" + textwrap.indent(textwrap.dedent(section), "  ")


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("levels: {MLP009: off}\n", [("MLP001", "error", "minReplicas: 1")]),
        ("levels: {MLP001: warning}\n", [("MLP001", "warning", "minReplicas: 1")]),
        ("levels: {MLP001: 'off'}\n", []),
        (f"waivers: [{{policy: MLP001, resource: '{ISVC}', reason: r}}]\n", []),
        ("waivers: [{policy: MLP001, resource: 'prod/*/*InferenceService/score-*', reason: r}]\n", []),
        ("waivers: [{policy: MLP001, path: endpoints.score, reason: r}]\n", []),
        ("waivers: [{policy: MLP001, path: endpoints.score.variants.main, reason: r}]\n", []),
        (
            "waivers: [{policy: MLP001, path: endpoints.sc, reason: r}]\n",
            [("MLP001", "error", "minReplicas: 1")],
        ),
        (
            "waivers: [{policy: MLP009, path: endpoints.score, reason: r}]\n",
            [("MLP001", "error", "minReplicas: 1")],
        ),
        (  # every resource of dev: a level of off there, warned of
            "waivers: [{policy: MLP001, resource: 'dev/*', reason: r}]\n",
            [("MLP001", "error", "minReplicas: 1"), ("W409", "warning", "'dev/*'")],
        ),
        ("waivers: [{policy: MLP001, path: endpoints.score, reason: r, expires: 2026-06-01}]\n", []),
        (
            "waivers: [{policy: MLP001, path: endpoints.score, reason: r, expires: 2026-05-31}]\n",
            [("MLP001", "error", "minReplicas: 1"), ("MLP000", "warning", "expires")],
        ),
    ],
)
def test_levels_and_waivers(
    tmp_path: pathlib.Path, section: str, expected: list[tuple[str, str, str]]
) -> None:
    text = with_policies(section)
    assert summary(findings(tmp_path, text)) == [(i, s, where(text, m)) for i, s, m in expected]


def test_an_expired_waiver_says_so(tmp_path: pathlib.Path) -> None:
    text = with_policies(
        "waivers: [{policy: MLP001, path: endpoints.score, reason: r, expires: 2026-05-31}]\n"
    )
    warning = findings(tmp_path, text)[-1]
    assert (
        warning.message
        == "the waiver of MLP001 for endpoints.score expired on 2026-05-31: it no longer applies"
    )


@pytest.mark.parametrize(
    ("section", "code", "marker", "message", "hint"),
    [
        (
            "levels: {MLP018: warning}\n",
            "E301",
            "warning}",
            "unknown policy 'MLP018' in policies.levels",
            "did you mean 'MLP017'?",
        ),
        (
            "waivers: [{policy: drift-monitor, path: endpoints.score, reason: r}]\n",
            "E301",
            "drift-monitor",
            "unknown policy 'drift-monitor' in policies.waivers",
            "known: " + ", ".join(f"MLP{n:03}" for n in range(1, 18)),
        ),
        (
            "production: [prd]\n",
            "E307",
            "prd",
            "unknown environment 'prd' in policies.production",
            "did you mean 'prod'?",
        ),
    ],
)
def test_unknown_names_are_validation_errors(
    tmp_path: pathlib.Path, section: str, code: str, marker: str, message: str, hint: str
) -> None:
    text = with_policies(section)
    validation = validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None))
    [found] = validation.diagnostics
    assert (found.code, str(found.position), found.message, found.hint) == (
        code,
        where(text, marker),
        message,
        hint,
    )


@pytest.mark.parametrize(
    ("waiver", "fragment"),
    [
        ("{policy: MLP001, path: endpoints.score}", "missing required field 'reason'"),
        ("{policy: MLP001, reason: r}", "give exactly one of 'resource' or 'path'"),
        ("{policy: MLP001, path: a, resource: b, reason: r}", "give exactly one of 'resource' or 'path'"),
        ("{policy: MLP001, path: a, reason: ''}", "at least 1 character"),
        ("{policy: MLP001, path: a, reason: ' '}", "a waiver's reason is blank: say why"),
        ('{policy: MLP001, path: a, reason: "\\t"}', "a waiver's reason is blank: say why"),
    ],
)
def test_malformed_waivers(tmp_path: pathlib.Path, waiver: str, fragment: str) -> None:
    validation = validate(
        ConfigSource(write(tmp_path, with_policies(f"waivers: [{waiver}]\n")), "mlops.yaml", None)
    )
    assert not validation.ok
    assert any(fragment in d.message for d in validation.diagnostics), [
        d.to_text() for d in validation.diagnostics
    ]


PLUGIN = '''\
from mlopsctl.compiler.storage import BUCKET
from mlopsctl.policies import Finding


def owner_label(ctx):
    """Every bucket names its owner."""
    for bucket in ctx.of_type(BUCKET):
        if "owner" not in bucket.inputs["labels"]:
            yield Finding("bucket has no owner label", hint="label it", address=bucket.address)


def broken(ctx):
    raise RuntimeError("boom")
'''
ENTRY_POINTS = """\
[mlopsctl.policies]
acme.owner-label = acme_policies:owner_label
acme.broken = acme_policies:broken
acme.missing = acme_policies_gone:check
Bad_Name = acme_policies:owner_label
"""


@pytest.fixture
def plugin(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A distribution installed on sys.path with custom policies in the mlopsctl.policies group."""
    site = tmp_path / "site"
    info = site / "acme_policies-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-policies\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    (site / "acme_policies.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(site))


def custom_findings(folder: pathlib.Path, text: str) -> list[tuple[str, str, str, str | None]]:
    validation = validate(ConfigSource(write(folder, text), "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    found = check(validation, compile_graphs(validation), all_policies())
    return [(d.code, d.severity.value, d.message, str(d.position) if d.position else None) for d in found]


@pytest.mark.usefixtures("plugin")
def test_custom_policies_from_entry_points(tmp_path: pathlib.Path) -> None:
    found = custom_findings(tmp_path / "cfg", PASSING)
    bucket = where(PASSING, "raw: {}")
    origin = "entry point 'acme.broken = acme_policies:broken'"
    missing = "entry point 'acme.missing = acme_policies_gone:check'"
    assert found == [
        (
            "MLP000",
            "error",
            "the custom policy of entry point 'Bad_Name = acme_policies:owner_label' is ignored: "
            "its name is not a valid policy id",
            "mlops.yaml:1:1",
        ),
        (
            "acme.broken",
            "error",
            f"policy acme.broken ({origin}) failed: RuntimeError: boom",
            "mlops.yaml:1:1",
        ),
        (
            "acme.missing",
            "error",
            f"policy acme.missing ({missing}) failed: "
            "ModuleNotFoundError: No module named 'acme_policies_gone'",
            "mlops.yaml:1:1",
        ),
        # the same line from each target, told apart by naming it
        *(("acme.owner-label", "error", f"bucket has no owner label (in {t})", bucket) for t in TARGETS),
    ]


@pytest.mark.usefixtures("plugin")
def test_custom_policies_take_levels_and_waivers(tmp_path: pathlib.Path) -> None:
    text = PASSING + textwrap.dedent(
        """\
        policies:
          levels: {acme.broken: 'off', acme.missing: 'off', MLP000: 'off', acme.owner-label: warning}
          waivers:
            - policy: acme.owner-label
              resource: 'prod/*'
              reason: the platform labels buckets in production
        """
    )
    assert custom_findings(tmp_path / "cfg", text) == [
        (
            "acme.owner-label",
            "warning",
            "bucket has no owner label",
            where(text, "raw: {}"),
        ),
        (
            "W409",
            "warning",
            "the waiver of acme.owner-label for resource 'prod/*' matches every resource of "
            "prod/us-central1: it drops every finding of acme.owner-label there, as a level of off would",
            where(text, "'prod/*'"),
        ),
    ]


def test_a_policy_turned_off_is_a_warning_at_its_level(tmp_path: pathlib.Path) -> None:
    """Unlike a waiver, a level of off needs no reason: validation says so where it is written."""
    text = with_policies("levels: {MLP001: 'off', MLP009: warning}\n")
    validation = validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None))
    [warning] = [d for d in validation.diagnostics if d.code == "W408"]
    assert not warning.is_error and str(warning.position) == where(text, "'off'")
    assert warning.message.startswith("policy MLP001 is off: its findings are dropped in every environment")
