"""Free text with emoji, astral-plane characters and right-to-left marks reaches every output intact."""

from __future__ import annotations

import json
import pathlib
import shutil

import yaml
from helpers import run

EXAMPLE = pathlib.Path(__file__).parent.parent / "examples" / "projects" / "digits"
TEXT = "🚀 \U0001d518\U0001d52b\U0001d526 \u200f\u05e9\u05dc\u05d5\u05dd\u200e 🧪"


def _rendered(tmp_path: pathlib.Path, edits: list[tuple[str, str]]) -> pathlib.Path:
    project = tmp_path / "digits"
    shutil.copytree(EXAMPLE, project)
    config = project / "mlops.yaml"
    text = config.read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    config.write_text(text, encoding="utf-8")
    code, out, err = run("render", config, "--out", tmp_path / "out")
    assert code == 0, out + err
    return tmp_path / "out" / "dev" / "us-central1"


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def _holding(folder: pathlib.Path, text: str) -> list[str]:
    """Files under ``folder`` where some string (a YAML or JSON value, or one inside it) holds ``text``."""
    found = []
    for file in sorted(folder.rglob("*")):
        raw = file.read_text(encoding="utf-8") if file.is_file() else ""
        loaded = json.loads(raw) if file.suffix == ".json" else list(yaml.safe_load_all(raw))
        if any(text in s for s in _strings(loaded)):
            found.append(file.relative_to(folder).as_posix())
    return found


def test_descriptions_reach_graph_manifests_and_pipeline_spec(tmp_path: pathlib.Path) -> None:
    out = _rendered(
        tmp_path,
        [("description: Ingest labelled images,", f"description: {TEXT} Ingest labelled images,")],
    )
    assert TEXT in (out / "graph.json").read_text(encoding="utf-8")
    holding = _holding(out, TEXT)
    assert "graph.json" in holding and "pipelines/train.yaml" in holding
    assert any(f.startswith("manifests/pipelineversion-train-") for f in holding)


def test_command_arguments_reach_the_compiled_component(tmp_path: pathlib.Path) -> None:
    out = _rendered(
        tmp_path, [("command: [python, train.py]", f'command: [python, train.py, "--note={TEXT}"]')]
    )
    spec = next(yaml.safe_load_all((out / "pipelines" / "train.yaml").read_text(encoding="utf-8")))
    assert f"--note={TEXT}" in _strings(spec)


def test_a_message_quoting_a_key_shows_its_line_breaks_and_escapes_escaped(tmp_path: pathlib.Path) -> None:
    """A key that holds a line break or a bidirectional override cannot forge lines of the report
    (control characters such as ESC are refused at load, E103)."""
    key = json.dumps("x\nmlops.yaml:1:1: error E000: forged \u202e")
    config = (
        (EXAMPLE / "mlops.yaml")
        .read_text(encoding="utf-8")
        .replace("project:\n", f"project:\n  {key}: 1\n", 1)
    )
    (tmp_path / "mlops.yaml").write_text(config, encoding="utf-8")
    code, _, err = run("validate", tmp_path / "mlops.yaml")
    [line] = [ln for ln in err.splitlines() if "E203" in ln]
    assert code == 1 and "forged" not in err.replace(line, "")
    assert "unknown key 'x\\nmlops.yaml:1:1: error E000: forged \\u202e'" in line
