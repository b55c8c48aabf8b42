"""The sandbox sizes a call by what it can make: a call that only gathers its arguments (``dict``,
``get``, ``dictsort``) by the sum of their sizes, one that may repeat one argument
by another (``center``, ``join``, ``format``, ``*``) by their product."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from mlopsctl.config.templates import TemplateError, render_object

ISVC = """\
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: {{ name | tojson }}
  namespace: {{ namespace | tojson }}
spec:
  predictor: EXPRESSION
"""
PREDICTOR = {
    "model": {
        "modelFormat": {"name": "sklearn"},
        "runtime": "kserve-sklearnserver",
        "storageUri": "gs://models/clf/v1",
        "args": [f"--option-{i}=value-{i}" for i in range(40)],
        "resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "2Gi"}},
    },
    "minReplicas": 1,
    "maxReplicas": 3,
    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
}
WIDE = {f"key-{i}": "v" * 40 for i in range(5000)}
"""A mapping of about 240,000 characters: two of it pass no limit, their product every one."""
MOUNTED = (
    'dict(predictor, model=dict(predictor.model, volumeMounts=[{"name": "tmp", "mountPath": "/tmp"}]), '
    'volumes=[{"name": "tmp", "emptyDir": {}}])'
)


def _predictor(tmp_path: pathlib.Path, expression: str, **values: Any) -> Any:
    """What ``expression`` renders as the predictor of an InferenceService override, from the values
    the built-in template is given and ``values``."""
    values.setdefault("predictor", PREDICTOR)
    folder = tmp_path / "overrides"
    (folder / "kubernetes").mkdir(parents=True)
    text = ISVC.replace("EXPRESSION", "{{ (" + expression + ") | tojson }}")
    (folder / "kubernetes" / "inferenceservice.yaml.j2").write_text(text)
    obj = render_object(
        "inferenceservice", folder, name="clf", namespace="demo", labels={}, annotations={}, **values
    )
    return obj["spec"]["predictor"]


def test_a_predictor_merged_with_a_volume_renders(tmp_path: pathlib.Path) -> None:
    predictor = _predictor(tmp_path, MOUNTED)
    assert predictor == {
        **PREDICTOR,
        "model": {**PREDICTOR["model"], "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}]},
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("dict(wide, extra=wide) | length", 5001),
        ("wide.get('missing', wide) | length", 5000),
        ("(wide | dictsort | first)[0]", "key-0"),
    ],
    ids=["dict", "get", "dictsort"],
)
def test_gathering_calls_are_sized_by_the_sum(
    tmp_path: pathlib.Path, expression: str, expected: object
) -> None:
    assert _predictor(tmp_path, expression, wide=WIDE) == expected


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("dict(wide, a=wide, b=wide, c=wide, d=wide) | length", "'dict' would make about 1,"),
        ("wide | dictsort | map('join', wide) | list | length", "would make"),
        ("(wide | string) | center(5000000)", "'center' would make"),
        ("'{:>9999999}'.format(1)", "width or precision"),
    ],
    ids=["dict-past-the-limit", "repeated-by-another", "padded", "format-width"],
)
def test_what_passes_the_limits_is_still_refused(
    tmp_path: pathlib.Path, expression: str, reason: str
) -> None:
    with pytest.raises(TemplateError) as caught:
        _predictor(tmp_path, expression, wide=WIDE)
    assert (caught.value.line, caught.value.column) == (7, 14)
    assert "cannot be computed" in caught.value.message
    assert reason in caught.value.message
