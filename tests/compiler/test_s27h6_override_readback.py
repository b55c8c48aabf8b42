"""Every part of a rendered object that mlopsctl reads back, from a project's template override:
an RBAC Role's rules, a PipelineVersion's pipeline label and spec, an InferenceService's replicas
(read by policy MLP001). Another shape is a located E314, a valid other form compiles; never a
traceback, and nothing is written."""

from __future__ import annotations

import pathlib

import pytest
from helpers import CLF_API, DEV_ONLY, run
from override_projects import assert_located_error, with_overrides

ROLE = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ name | tojson }}
  namespace: {{ namespace | tojson }}
  labels: {{ labels | tojson }}
rules: RULES
"""
"""The built-in Role template with its rules (line 7) to fill."""
VERSION = """\
apiVersion: pipelines.kubeflow.org/v2beta1
kind: PipelineVersion
metadata:
  name: {{ name | tojson }}
  namespace: {{ namespace | tojson }}
  labels: LABELS
spec: SPEC
"""
"""The built-in PipelineVersion template with its labels (line 6) and spec (line 7) to fill."""
SCHEDULED = DEV_ONLY.replace(
    "  name: demo\n",
    "  name: demo\n  owner: ml-team@acme.example\n  stageImage: registry.example/stages:1\n"
    "  templates: overrides\n",
    1,
) + (
    """\
pipelines:
  train:
    steps:
      fit: {image: "trainer:1", command: [python, fit.py]}
    schedule:
      cron: "0 3 * * *"
"""
)
"""A scheduled pipeline on Kubeflow Pipelines: Roles, a PipelineVersion and the CronJob that starts it."""


def _role(rules: str) -> str:
    return ROLE.replace("RULES", rules)


def _version(labels: str = "{{ labels | tojson }}", spec: str = "{{ spec | tojson }}") -> str:
    return VERSION.replace("LABELS", labels).replace("SPEC", spec)


@pytest.mark.parametrize(
    ("templates", "error"),
    [
        (
            {"role": _role('{{ ["x"] | tojson }}')},
            "role.yaml.j2:7:1: error E314: template renders rules[0] as a string, not a mapping",
        ),
        (
            {"role": _role("{{ 7 | tojson }}")},
            "role.yaml.j2:7:1: error E314: template renders rules as a number, not a list",
        ),
        (
            {"role": _role('{{ [{"verbs": "create"}] | tojson }}')},
            "role.yaml.j2:7:1: error E314: template renders rules[0].verbs as a string, not a list",
        ),
        (
            {"pipelineversion": _version(labels="{}")},
            "pipelineversion.yaml.j2:6:3: error E314: template leaves out "
            "metadata.labels.pipelines.kubeflow.org/pipeline ('train')",
        ),
        (
            {
                "pipelineversion": _version(
                    labels='{{ dict(labels, **{"pipelines.kubeflow.org/pipeline": "x"}) | tojson }}'
                )
            },
            "pipelineversion.yaml.j2:6:3: error E314: template renders "
            "metadata.labels.pipelines.kubeflow.org/pipeline as 'x', not 'train'",
        ),
        (
            {
                "pipelineversion": VERSION.replace("  labels: LABELS\n", "").replace(
                    "SPEC", "{{ spec | tojson }}"
                )
            },
            "pipelineversion.yaml.j2:3:1: error E314: template leaves out "
            "metadata.labels.pipelines.kubeflow.org/pipeline ('train')",
        ),
        (
            {"pipelineversion": _version(spec='{{ dict(spec, pipelineName="../../x") | tojson }}')},
            "pipelineversion.yaml.j2:7:1: error E314: template renders spec.pipelineName as '../../x', "
            "not 'train'",
        ),
        (
            {"pipelineversion": _version(spec='{{ {"pipelineName": "train"} | tojson }}')},
            "pipelineversion.yaml.j2:7:1: error E314: template leaves out spec.pipelineSpec",
        ),
        (
            {"pipelineversion": _version(spec="{{ dict(spec, pipelineSpec=[1]) | tojson }}")},
            "pipelineversion.yaml.j2:7:1: error E314: template renders spec.pipelineSpec as a list, "
            "not a mapping",
        ),
    ],
    ids=[
        "rules-strings",
        "rules-number",
        "verbs-string",
        "label-dropped",
        "label-changed",
        "labels-dropped",
        "pipeline-name",
        "spec-dropped",
        "spec-list",
    ],
)
def test_an_override_of_another_shape_is_a_located_error(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, templates: dict[str, str], error: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with_overrides(tmp_path, SCHEDULED, templates)
    assert_located_error(tmp_path, error)


def test_a_role_with_no_rules_compiles(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with_overrides(tmp_path, SCHEDULED, {"role": _role("{{ none | tojson }}")})
    code, _, err = run("render", "mlops.yaml", "--out", "out")
    assert code == 0, err
    assert (
        "rules: null"
        in (tmp_path / "out/dev/us-central1/manifests/role-pipeline-train-dev-usc1-runs.yaml").read_text()
    )


SERVED = """\
apiVersion: mlopsctl.dev/v1alpha1
kind: MLOpsProject
project:
  name: demo
  templates: overrides
environments:
  prod:
    gcpProject: acme-demo-prod
    regions: [us-central1]
""" + CLF_API.replace("version: v1}", "version: v1, minReplicas: MIN}")
"""An endpoint in production (policy MLP001 wants at least 2 replicas there)."""
CUSTOM = """\
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: {{ name | tojson }}
  namespace: {{ namespace | tojson }}
  labels: {{ labels | tojson }}
  annotations: {{ annotations | tojson }}
spec:
  predictor: {{ {"containers": [{"name": "kserve-container", "image": "scorer:1"}]} | tojson }}
"""
"""A custom predictor that sets no minReplicas (KServe then keeps 1)."""


@pytest.mark.parametrize("template", [None, CUSTOM], ids=["builtin", "custom"])
def test_the_replica_policy_reads_a_custom_predictor(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, template: str | None
) -> None:
    monkeypatch.chdir(tmp_path)
    with_overrides(tmp_path, SERVED.replace("MIN", "3"), {"inferenceservice": template} if template else {})
    code, out, err = run("check", "mlops.yaml")
    found = out + err
    assert "Traceback" not in found and "failed:" not in found, found
    if template is None:
        assert "MLP001" not in found, found
    else:  # the template leaves minReplicas out: KServe's default of 1 is what production would keep
        assert code == 1
        assert (
            "error MLP001: endpoint 'api' (main) keeps 1 replica (its InferenceService template leaves "
            in found
        )
        assert "hint: render spec.predictor.minReplicas in the template override" in found
