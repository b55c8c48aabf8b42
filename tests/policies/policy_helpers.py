"""Inline configs that pass every built-in policy, and how to check variations of them."""

from __future__ import annotations

import datetime
import pathlib

from helpers import write

from mlopsctl.api import compile_graphs, validate
from mlopsctl.config.diagnostics import Diagnostic
from mlopsctl.config.source import ConfigSource
from mlopsctl.plan import Plan
from mlopsctl.policies import builtin_policies
from mlopsctl.policies.run import check

TODAY = datetime.date(2026, 6, 1)
PASSING = """\
apiVersion: mlopsctl.dev/v1alpha1
kind: MLOpsProject
project:
  name: demo
  stageImage: registry.example/stages:1
environments:
  dev:
    gcpProject: acme-demo-dev
    regions: [us-central1]
  prod:
    gcpProject: acme-demo-prod
    regions: [us-central1]
security:
  kms:
    data: {}
  defaultKmsKey: data
data:
  buckets:
    raw: {}
  datasets:
    serving: {}
models:
  m:
    framework: sklearn
    versions:
      v1: {artifactUri: gs://elsewhere/m/v1}
      v2: {artifactUri: gs://elsewhere/m/v2}
endpoints:
  score:
    logging: {dataset: serving}
    variants:
      main: {model: m, version: v1, minReplicas: 2}
monitors:
  score-drift:
    type: drift
    endpoint: score
    baseline: {dataset: serving, table: baseline}
    features: {x: {kind: numeric}}
    schedule: {cron: "0 * * * *"}
"""
"""A dev and a prod environment, each with an endpoint, CMEK and a drift monitor."""


def where(text: str, marker: str, offset: int = 0) -> str:
    """``mlops.yaml:line:col`` of the unique ``marker`` in ``text`` (plus ``offset`` columns)."""
    assert text.count(marker) == 1, f"{marker!r} is not unique"
    before = text[: text.index(marker)]
    line = before.count("\n") + 1
    return f"mlops.yaml:{line}:{len(before) - before.rfind(chr(10)) + offset}"


def findings(
    folder: pathlib.Path, text: str, plan: Plan | None = None, today: datetime.date = TODAY
) -> list[Diagnostic]:
    """What the built-in policies find in the config ``text`` (which must be valid)."""
    validation = validate(ConfigSource(write(folder, text), "mlops.yaml", None))
    assert validation.ok, [d.to_text() for d in validation.diagnostics]
    return check(validation, compile_graphs(validation), builtin_policies(), plan, today)


def summary(found: list[Diagnostic]) -> list[tuple[str, str, str]]:
    """(id, severity, file:line:col) of each finding."""
    return [(d.code, d.severity.value, str(d.position)) for d in found]


def edited(text: str, changes: list[tuple[str, str]]) -> str:
    """``text`` with each (old, new) replaced; every ``old`` must be there."""
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    return text


def assert_errors_at(tmp_path: pathlib.Path, text: str, expected: list[tuple[str, str]]) -> None:
    """The findings of ``text`` are exactly these (policy id, marker) errors, in order."""
    assert summary(findings(tmp_path, text)) == [(i, "error", where(text, marker)) for i, marker in expected]


TEMPLATED = PASSING.replace("  name: demo\n", "  name: demo\n  templates: ovr\n", 1)
"""PASSING, with template overrides in ``ovr/kubernetes/`` (see :func:`overridden`)."""
HEAD = """\
metadata:
  name: {{ name | tojson }}
  namespace: {{ namespace | tojson }}
  labels: {{ labels | tojson }}
"""
"""The metadata every override keeps."""
DEPLOYMENT = "apiVersion: apps/v1\nkind: Deployment\n" + HEAD
RESTRICTED_POD = """\
    spec:
      automountServiceAccountToken: false
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: app
          image: app:1
          securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
"""
"""A pod whose container takes runAsNonRoot and its seccomp profile from the pod's security context."""
TEMPLATE = """\
spec:
  selector:
    matchLabels: {{ selector | tojson }}
  template:
    metadata:
      labels: {{ pod_labels | tojson }}
"""
"""A Deployment's spec up to its pod's spec."""
RESTRICTED_DEPLOYMENT = DEPLOYMENT + TEMPLATE + RESTRICTED_POD
"""An override of the request logger's Deployment that passes the restricted standard."""


def write_overrides(folder: pathlib.Path, overrides: dict[str, str]) -> None:
    """``overrides`` (template name -> text) in ``folder/ovr/kubernetes/``, as TEMPLATED names them."""
    templates = folder / "ovr" / "kubernetes"
    templates.mkdir(parents=True, exist_ok=True)
    for name, template in overrides.items():
        (templates / f"{name}.yaml.j2").write_text(template, encoding="utf-8")


def overridden(folder: pathlib.Path, text: str, overrides: dict[str, str], policy: str) -> list[Diagnostic]:
    """``policy``'s findings in ``text`` with ``overrides`` (see :func:`write_overrides`)."""
    write_overrides(folder, overrides)
    return [d for d in findings(folder, text) if d.code == policy]
