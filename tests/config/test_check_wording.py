"""Messages that name a kind of output after an article read as English: "an artifact", "a list"."""

from __future__ import annotations

import pathlib

import pytest
from helpers import OWNED_STAGED, write

from mlopsctl.api import validate
from mlopsctl.config.source import ConfigSource


def _e309(tmp_path: pathlib.Path, steps: str) -> list[tuple[str, str | None]]:
    """The E309 messages and hints of a project whose pipeline 'p' has ``steps``."""
    text = OWNED_STAGED + "pipelines:\n  p:\n    steps:\n" + steps
    validation = validate(ConfigSource(write(tmp_path, text), "mlops.yaml", None))
    return [(d.message, d.hint) for d in validation.diagnostics if d.code == "E309"]


def _wiring(tmp_path: pathlib.Path, output_type: str, value: str) -> list[tuple[str, str | None]]:
    return _e309(
        tmp_path,
        f"      a: {{image: x, command: [run], outputs: {{o: {output_type}}}}}\n"
        f"      b: {{image: x, command: [run], when: {{output: a.o, operator: '==', value: {value}}}}}\n",
    )


@pytest.mark.parametrize(
    ("output_type", "kind"),
    [("artifact", "an artifact"), ("dataset", "a dataset"), ("model", "a model"), ("list", "a list")],
)
def test_an_output_that_cannot_be_compared(tmp_path: pathlib.Path, output_type: str, kind: str) -> None:
    [(message, _)] = _wiring(tmp_path, output_type, "x")
    assert message == f"condition compares 'a.o', {kind} output, which cannot be compared"


@pytest.mark.parametrize(
    ("output_type", "value", "hint"),
    [
        ("integer", "'3'", "compare an integer output with an integer value"),
        ("float", "'x'", "compare a float output with a float value"),
        ("boolean", "1", "compare a boolean output with a boolean value"),
        ("string", "3", "compare a string output with a string value"),
    ],
)
def test_a_value_of_another_type(tmp_path: pathlib.Path, output_type: str, value: str, hint: str) -> None:
    [(message, found)] = _wiring(tmp_path, output_type, value)
    assert message.startswith(f"condition compares {output_type} output 'a.o' with ")
    assert found == hint


TUNE = (
    "      search:\n        kind: tune\n        image: t:1\n        command: [t]\n"
    "        outputs: {best: artifact, trials: integer}\n        tuning:\n"
    "          searchSpace: {lr: {type: double, min: 0.1, max: 1}}\n          objective: {metric: auc_pr}\n"
)
DISTRIBUTED = (
    "      big:\n        kind: train\n        image: t:1\n        command: [t]\n"
    "        outputs: {model: model, epochs: integer}\n"
    "        distributed: {framework: pytorch, workers: 2}\n"
)
MISREAD = (
    "      count: {image: x, command: [c], outputs: {n: integer}}\n"
    "      infer: {kind: schema, inputs: {n: count.n}, outputs: {schema: artifact}}\n"
)
STATISTICS = "--statistics (an artifact of a statistics step)"


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (
            TUNE,
            [
                (
                    "tune step 'search' of pipeline 'p' cannot write output 'trials' (an integer): "
                    "it writes only the best hyperparameters",
                    "declare one artifact output, e.g. {best_hyperparameters: artifact}",
                )
            ],
        ),
        (
            DISTRIBUTED,
            [
                (
                    "train step 'big' of pipeline 'p' cannot write parameter output 'epochs' (an integer): "
                    "its replicas hand back artifacts only",
                    "declare 'epochs' as an artifact or metrics output, or compute it in a later step",
                )
            ],
        ),
        (
            MISREAD,
            [
                (
                    f"schema step 'infer' of pipeline 'p' has no input for {STATISTICS}",
                    "declare it under inputs, e.g. {statistics: STEP.OUTPUT}",
                ),
                (
                    "schema step 'infer' of pipeline 'p' has no use for input 'n' (an integer)",
                    f"the schema stage reads {STATISTICS}",
                ),
            ],
        ),
    ],
    ids=["tune output", "replica output", "stage input"],
)
def test_the_kind_of_an_output_a_stage_cannot_map(
    tmp_path: pathlib.Path, steps: str, expected: list[tuple[str, str]]
) -> None:
    assert _e309(tmp_path, steps) == expected
