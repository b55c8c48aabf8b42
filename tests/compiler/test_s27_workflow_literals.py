"""Workflows evaluates ``${...}`` in every string of a workflow's source, so a literal the config
escaped as ``$${`` reaches the PipelineJob a retraining workflow starts as an expression that decodes
it, never as ``${...}`` that Workflows would read as a variable; a local run reads the literal back."""

from __future__ import annotations

import pathlib
import re

import yaml
from helpers import compile_text
from vertex_retrain_cases import RETRAINING

from mlopsctl.compiler.vertex_retrain import WORKFLOW, data_of, workflow_data
from mlopsctl.config.target import Target

DEV = Target("dev", "us-central1")
LITERAL = RETRAINING.replace(
    "parameters: {lr: 0.1, epochs: 3}", 'parameters: {lr: 0.1, epochs: 3, tag: "$${release}"}'
)


def test_a_literal_reaches_the_workflow_as_data(tmp_path: pathlib.Path) -> None:
    assert LITERAL != RETRAINING
    graph = compile_text(tmp_path, LITERAL)[DEV]
    sources = [str(r.inputs["sourceContents"]) for r in graph.of_type(WORKFLOW)]
    assert sources
    for source in sources:
        expressions = re.findall(r"\$\{[^}]*\}", source)
        assert "${release}" not in expressions, expressions
        jobs = [
            s["args"]["job"]
            for step in yaml.safe_load(source)["main"]["steps"]
            for s in step.values()
            if s.get("call") == "start_once"
        ]
        assert jobs and all(
            data_of(job)["runtimeConfig"]["parameterValues"]["tag"] == "${release}" for job in jobs
        )


def test_data_round_trips_and_plain_strings_stay_readable() -> None:
    value = {"a": ["${x} and $(y)", "plain"], "b": 1, "c": "ünï ${z}"}
    written = workflow_data(value)
    assert written["a"][1] == "plain" and written["b"] == 1
    assert all("${x}" not in str(v) and "${z}" not in str(v) for v in (written["a"][0], written["c"]))
    assert data_of(written) == value
