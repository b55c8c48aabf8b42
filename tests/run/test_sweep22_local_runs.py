"""Local runs as the cluster runs them: the folders the KFP launcher prepares for a container's
outputs, steps that do not depend on a failed one, and projects that declare no data."""

from __future__ import annotations

import pathlib
import textwrap

import pytest
from api_helpers import pipeline_run, statuses
from run_projects import HEAD, project

PLAIN = (
    HEAD
    + """\
pipelines:
  plain:
    steps:
      words:
        image: reg/demo:1
        code: code
        command: [python, words.py]
        outputs:
          word: string
          words: list
          notes: artifact
      shout:
        image: reg/demo:1
        code: code
        command: [python, shout.py]
        inputs:
          word: words.word
        outputs:
          loud: string
"""
)
"""A pipeline without conditions or loops: kfp.local's plain orchestrator would run it."""

CODE = {
    # Writes each output at its path as given, creating no folder (the launcher made them).
    "words.py": """\
        import argparse, json, os
        p = argparse.ArgumentParser()
        for flag in ("--word", "--words", "--notes"):
            p.add_argument(flag)
        a = p.parse_args()
        open(a.word, "w").write("hello")
        open(a.words, "w").write(json.dumps(["a", "b"]))
        os.mkdir(a.notes)
        open(os.path.join(a.notes, "notes.txt"), "w").write("noted")
    """,
    "shout.py": """\
        import argparse
        p = argparse.ArgumentParser()
        p.add_argument("--word")
        p.add_argument("--loud")
        a = p.parse_args()
        open(a.loud, "w").write(a.word.upper())
    """,
    "fail.py": """\
        import sys
        print("no rows", file=sys.stderr)
        sys.exit(2)
    """,
}


def test_a_step_may_write_its_outputs_without_creating_their_folders(tmp_path: pathlib.Path) -> None:
    result = pipeline_run(project(tmp_path, PLAIN, CODE), "plain", tmp_path / "out")
    assert statuses(result) == {"words": "succeeded", "shout": "succeeded"}, result.steps
    words = result.steps["words"].outputs
    assert (words["word"], words["words"]) == ("hello", ["a", "b"])
    assert (pathlib.Path(str(words["notes"])) / "notes.txt").read_text() == "noted"
    assert result.steps["shout"].outputs == {"loud": "HELLO"}


INDEPENDENT = PLAIN.replace(
    "      shout:\n",
    """\
      fails:
        image: reg/demo:1
        code: code
        command: [python, fail.py]
        outputs:
          out: string
      after:
        image: reg/demo:1
        code: code
        command: [python, shout.py]
        inputs:
          word: fails.out
        outputs:
          loud: string
      shout:
""",
)


def test_steps_that_do_not_depend_on_a_failed_step_still_run(tmp_path: pathlib.Path) -> None:
    """As Argo in the cluster: a failure skips only what depends on it, also in a pipeline without
    conditions or loops (where kfp.local's plain orchestrator stopped at the first failure)."""
    result = pipeline_run(project(tmp_path, INDEPENDENT, CODE), "plain", tmp_path / "out")
    assert not result.ok
    assert statuses(result) == {
        "words": "succeeded",
        "fails": "failed",
        "after": "skipped",
        "shout": "succeeded",
    }
    assert result.steps["fails"].message == "exit code 2: no rows"


MAKING_FOLDERS = {
    name: "import os\n"
    + "def out(path):\n"
    + "    os.makedirs(os.path.dirname(path), exist_ok=True)\n"
    + "    return open(path, 'w')\n"
    + text.replace('open(a.word, "w")', "out(a.word)")
    .replace('open(a.words, "w")', "out(a.words)")
    .replace('open(a.loud, "w")', "out(a.loud)")
    .replace("os.mkdir(a.notes)", "os.makedirs(a.notes)")
    for name, text in ((name, textwrap.dedent(text)) for name, text in CODE.items())
}
"""Steps that create their outputs' folders themselves."""


@pytest.mark.parametrize("sample_data", [False, True])
def test_a_project_without_data_needs_no_sample_data(tmp_path: pathlib.Path, sample_data: bool) -> None:
    config = project(tmp_path, PLAIN, MAKING_FOLDERS)
    if not sample_data:
        (tmp_path / "sample-data").rmdir()
    result = pipeline_run(config, "plain", tmp_path / "out")
    assert result.ok, result.steps
    assert (tmp_path / "out" / "data").is_dir()


def test_a_step_leaves_no_bytecode_in_its_code_folder(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The code folder belongs to the project: a step that imports a module of it writes no
    ``__pycache__`` there, whatever the environment ``mlopsctl`` runs in says."""
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    code = {**CODE, "wordlist.py": "WORD = 'hello'\n"}
    code["words.py"] = code["words.py"].replace('write("hello")', "write(__import__('wordlist').WORD)")
    result = pipeline_run(project(tmp_path, PLAIN, code), "plain", tmp_path / "out")
    assert result.steps["words"].outputs["word"] == "hello"
    assert not list((tmp_path / "code").rglob("*.pyc"))


def test_the_seams_are_put_back(tmp_path: pathlib.Path) -> None:
    from kfp.local import executor_input_utils
    from kfp.local.orchestrator import dag_orchestrator

    before = (executor_input_utils.construct_executor_input, dag_orchestrator.run_dag)
    pipeline_run(project(tmp_path, PLAIN, CODE), "plain", tmp_path / "out")
    assert (executor_input_utils.construct_executor_input, dag_orchestrator.run_dag) == before


@pytest.mark.parametrize("no_color", ["1", None])
def test_kfp_logs_are_plain_off_a_terminal_or_with_no_color(
    tmp_path: pathlib.Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    no_color: str | None,
) -> None:
    """kfp.local colours task names and states; mlopsctl's rule decides (captured stderr is no tty)."""
    from kfp.local import logging_utils

    before = logging_utils.color_text
    if no_color:
        monkeypatch.setenv("NO_COLOR", no_color)
    pipeline_run(project(tmp_path, PLAIN, CODE), "plain", tmp_path / "out")
    err = capsys.readouterr().err
    assert "'words'" in err and "\x1b[" not in err
    assert logging_utils.color_text is before
