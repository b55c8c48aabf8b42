"""What the compiler reads back from objects a project's template overrides rendered: a valid other
form is handled (a custom predictor's containers), any other shape is a located E314, never a
traceback, and nothing is written."""

from __future__ import annotations

import pathlib

import pytest
from helpers import CLF_API, DEV_ONLY, compile_text, run
from override_projects import assert_located_error, with_overrides

from mlopsctl.compiler.metrics import PODMONITORING
from mlopsctl.config.target import Target

DEV = Target("dev", "us-central1")
PROJECT = DEV_ONLY.replace(
    "  name: demo\n",
    "  name: demo\n  stageImage: registry.example/stages:1\n  templates: overrides\n",
    1,
) + ("data:\n  datasets:\n    logs: {}\n" + CLF_API + "    logging: {dataset: logs}\n")
"""A scikit-learn endpoint with a request logger, its templates overridden from 'overrides'."""
ISVC = """\
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: {{ name | tojson }}
  namespace: {{ namespace | tojson }}
  labels: {{ labels | tojson }}
  annotations: ANNOTATIONS
spec:
  predictor: PREDICTOR
"""
"""The built-in InferenceService template with its predictor (line 9) and annotations (line 7) to fill."""
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ name | tojson }}
  namespace: {{ namespace | tojson }}
  labels: {{ labels | tojson }}
spec:
  selector:
    matchLabels: {{ selector | tojson }}
  template:
    metadata:
      labels: {{ pod_labels | tojson }}
      annotations: {{ pod_annotations | tojson }}
    spec: {{ {"containers": ["logger"]} | tojson }}
"""
"""A Deployment template whose pod's containers are not mappings (line 14: ``spec``)."""
CUSTOM = '{{ {"containers": [{"name": "kserve-container", "image": "registry.example/scorer:1"}]} | tojson }}'
"""A custom predictor: KServe runs the container as it is, with no serving runtime."""


def _project(folder: pathlib.Path, templates: dict[str, str]) -> pathlib.Path:
    return with_overrides(folder, PROJECT, templates)


def _isvc(
    predictor: str = "{{ predictor | tojson }}", annotations: str = "{{ annotations | tojson }}"
) -> str:
    return ISVC.replace("PREDICTOR", predictor).replace("ANNOTATIONS", annotations)


def _kept_series(folder: pathlib.Path) -> str:
    graph = compile_text(folder, PROJECT)[DEV]
    collector = graph.resources[f"{DEV}/{PODMONITORING}/istio-proxies"].inputs
    [endpoint] = collector["spec"]["endpoints"]
    return str(endpoint["metricRelabeling"][0]["regex"])


def test_a_custom_predictor_compiles_and_its_pods_are_scraped_for_the_mesh_series(
    tmp_path: pathlib.Path,
) -> None:
    _project(tmp_path / "builtin", {})
    builtin = _kept_series(tmp_path / "builtin")
    _project(tmp_path / "custom", {"inferenceservice": _isvc(CUSTOM)})
    custom = _kept_series(tmp_path / "custom")
    graph = compile_text(tmp_path / "custom", PROJECT)[DEV]
    [isvc] = [r for r in graph if r.inputs.get("kind") == "InferenceService"]
    assert isvc.inputs["spec"]["predictor"] == {
        "containers": [{"name": "kserve-container", "image": "registry.example/scorer:1"}]
    }
    # The scikit-learn server's series are kept for its runtime only; the mesh's and the request
    # logger's series for both.
    assert "request_predict_seconds" in builtin
    assert "request_predict_seconds" not in custom
    for series in ("istio_requests_total", "request_logger_events_total"):
        assert series in builtin and series in custom


@pytest.mark.parametrize(
    ("templates", "error"),
    [
        (
            {"inferenceservice": _isvc("{{ [[1], [1]] | tojson }}")},
            "inferenceservice.yaml.j2:9:3: error E314: template renders spec.predictor as a list, "
            "not a mapping",
        ),
        (
            {"inferenceservice": _isvc('{{ {"model": "clf"} | tojson }}')},
            "inferenceservice.yaml.j2:9:3: error E314: template renders spec.predictor.model as a string, "
            "not a mapping",
        ),
        (
            {
                "inferenceservice": _isvc(
                    "{{ dict(predictor, model=dict(predictor.model, runtime=7)) | tojson }}"
                )
            },
            "inferenceservice.yaml.j2:9:3: error E314: template renders spec.predictor.model.runtime as a "
            "number, not a string",
        ),
        (
            {"inferenceservice": _isvc(annotations='{{ {"a": 1} | tojson }}')},
            "inferenceservice.yaml.j2:7:3: error E314: template renders metadata.annotations.a as a number, "
            "not a string",
        ),
        (
            {"inferenceservice": _isvc(annotations="[]")},
            "inferenceservice.yaml.j2:7:3: error E314: template renders metadata.annotations as a list, "
            "not a mapping",
        ),
        (
            {"deployment": DEPLOYMENT},
            "deployment.yaml.j2:14:5: error E314: template renders spec.template.spec.containers[0] as a "
            "string, not a mapping",
        ),
    ],
    ids=[
        "predictor-list",
        "model-string",
        "runtime-number",
        "annotation-number",
        "annotations-list",
        "containers",
    ],
)
def test_an_override_of_another_shape_is_a_located_error(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, templates: dict[str, str], error: str
) -> None:
    monkeypatch.chdir(tmp_path)
    _project(tmp_path, templates)
    assert_located_error(tmp_path, error)


def test_labels_and_annotations_rendered_empty_compile(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A map with no entries renders as null (``annotations:`` alone): it is an empty map, not E314."""
    monkeypatch.chdir(tmp_path)
    _project(tmp_path, {"inferenceservice": _isvc(annotations="null")})
    code, _, err = run("render", "mlops.yaml", "--out", "out")
    assert code == 0, err
