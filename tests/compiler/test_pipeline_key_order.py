"""The order of a step's inputs and outputs in mlops.yaml means nothing: the compiled pipeline, and so its
PipelineVersion's name, is the same whichever order they are written in."""

from __future__ import annotations

import pathlib

import pytest
from helpers import OWNED_STAGED_DATA, compile_text

PIPELINE = """\
pipelines:
  train:
    parameters: {epochs: 5}
    steps:
      ingest:
        kind: ingest
        source: {gcs: raw/labelled/}
        label: churned
        outputs: {examples: dataset}
      fit:
        image: trainer:1
        command: [python, train.py]
        inputs: {examples: ingest.examples, epochs: params.epochs}
        outputs: {model: model, report: artifact}
      evaluate:
        kind: evaluate
        inputs: {model: fit.model, examples: ingest.examples}
        outputs: {metrics: metrics, blessed: boolean}
"""
TEXT = OWNED_STAGED_DATA + PIPELINE


def _versions(folder: pathlib.Path, text: str) -> dict[str, object]:
    """PipelineVersion address -> its compiled spec, over every target."""
    return {
        r.address: r.inputs["spec"]
        for graph in compile_text(folder, text).values()
        for r in graph
        if r.type.endswith(":PipelineVersion")
    }


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            "{examples: ingest.examples, epochs: params.epochs}",
            "{epochs: params.epochs, examples: ingest.examples}",
        ),
        ("{model: model, report: artifact}", "{report: artifact, model: model}"),
        ("{model: fit.model, examples: ingest.examples}", "{examples: ingest.examples, model: fit.model}"),
        ("{metrics: metrics, blessed: boolean}", "{blessed: boolean, metrics: metrics}"),
    ],
    ids=["a container step's inputs", "its outputs", "a stage's inputs", "a stage's outputs"],
)
def test_reordered_inputs_and_outputs_compile_to_the_same_pipeline_versions(
    tmp_path: pathlib.Path, before: str, after: str
) -> None:
    assert before in TEXT
    original = _versions(tmp_path / "a", TEXT)
    assert original and _versions(tmp_path / "b", TEXT.replace(before, after, 1)) == original
