"""Local runs of loops and conditions as the cluster runs them: a loop over another step's list output
runs once per item, and a looped step's inputs from other steps' outputs get those outputs' values
(kfp.local alone fails the first and gives the loop item to the second)."""

from __future__ import annotations

import json
import pathlib

from api_helpers import pipeline_run, statuses
from run_projects import HEAD, project

LOOPS = (
    HEAD
    + """\
pipelines:
  loops:
    parameters:
      label: nightly
    steps:
      shards:
        image: reg/demo:1
        code: code
        command: [python, shards.py]
        outputs:
          shards: list
          cutoff: string
      each-shard:
        image: reg/demo:1
        code: code
        command: [python, seen.py]
        parallelFor: {fromOutput: shards.shards, parallelism: 2}
        inputs:
          cutoff: shards.cutoff
          label: params.label
        outputs:
          seen: string
      each-literal:
        image: reg/demo:1
        code: code
        command: [python, seen.py]
        parallelFor: {items: [alpha, beta]}
        inputs:
          cutoff: shards.cutoff
        outputs:
          seen: string
      guarded:
        image: reg/demo:1
        code: code
        command: [python, seen.py]
        parallelFor: {fromOutput: shards.shards}
        when: {output: shards.cutoff, value: "0.42"}
        inputs:
          cutoff: shards.cutoff
        outputs:
          seen: string
"""
)

CODE = {
    "shards.py": """\
        import argparse, json
        p = argparse.ArgumentParser()
        p.add_argument("--shards")
        p.add_argument("--cutoff")
        a = p.parse_args()
        open(a.shards, "w").write(json.dumps(["s0", "s1", "s2"]))
        open(a.cutoff, "w").write("0.42")
    """,
    "seen.py": """\
        import argparse, json
        p = argparse.ArgumentParser()
        for flag in ("--item", "--cutoff", "--label", "--seen"):
            p.add_argument(flag)
        a = p.parse_args()
        open(a.seen, "w").write(json.dumps([a.item, a.cutoff, a.label]))
    """,
}


def test_a_loop_over_a_step_output_gets_each_item_and_the_other_outputs(tmp_path: pathlib.Path) -> None:
    result = pipeline_run(project(tmp_path, LOOPS, CODE), "loops", tmp_path / "out")
    assert statuses(result) == {
        "shards": "succeeded",
        "each-shard": "succeeded",
        "each-literal": "succeeded",
        "guarded": "succeeded",
    }
    seen = {
        name: [json.loads(v) for v in step.outputs["seen"]]
        for name, step in result.steps.items()
        if name != "shards"
    }
    assert seen["each-shard"] == [
        ["s0", "0.42", "nightly"],
        ["s1", "0.42", "nightly"],
        ["s2", "0.42", "nightly"],
    ]
    assert seen["each-literal"] == [["alpha", "0.42", None], ["beta", "0.42", None]]
    assert seen["guarded"] == [["s0", "0.42", None], ["s1", "0.42", None], ["s2", "0.42", None]]


CONDITIONS = (
    HEAD
    + """\
pipelines:
  gates:
    steps:
      score:
        image: reg/demo:1
        code: code
        command: [python, score.py]
        outputs:
          mae: float
          rows: integer
      below:
        image: reg/demo:1
        code: code
        command: [python, seen.py]
        when: {output: score.mae, operator: "<", value: 1000000}
      above:
        image: reg/demo:1
        code: code
        command: [python, seen.py]
        when: {output: score.mae, operator: ">", value: 1000000}
      enough:
        image: reg/demo:1
        code: code
        command: [python, seen.py]
        when: {output: score.rows, operator: ">=", value: 3}
"""
)


def test_a_float_output_compared_with_an_integer_gates_as_in_the_cluster(tmp_path: pathlib.Path) -> None:
    # kfp compiles the first two with CEL's double(1000000); kfp.local knew no double.
    code = {
        **CODE,
        "score.py": """\
            import argparse
            p = argparse.ArgumentParser()
            p.add_argument("--mae")
            p.add_argument("--rows")
            a = p.parse_args()
            open(a.mae, "w").write("265292.9")
            open(a.rows, "w").write("3")
        """,
        "seen.py": "print('ran')\n",
    }
    result = pipeline_run(project(tmp_path, CONDITIONS, code), "gates", tmp_path / "out")
    assert statuses(result) == {
        "score": "succeeded",
        "below": "succeeded",
        "above": "skipped",
        "enough": "succeeded",
    }


def test_casts_are_rewritten_outside_quoted_text_only() -> None:
    from mlopsctl.run.seams import python_casts

    quoted = "inputs.parameter_values['s'] == 'double(1) \\' double(2)'"
    condition = f"double(int(inputs.parameter_values['n'])) > 0.5 && {quoted}"
    assert python_casts(condition) == f"float(int(inputs.parameter_values['n'])) > 0.5 && {quoted}"
