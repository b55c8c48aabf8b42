from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys

import pytest
import yaml
from conftest import EXAMPLES, ROOT
from helpers import MINIMAL, WITH_DATA, graph_sizes, run, write

from mlopsctl.config.target import Target

BAD = MINIMAL + "data:\n  buckets:\n    raw: {versionning: true}\n"


def test_validate_reports_file_line_column_and_hint(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, BAD)
    code, out, err = run("validate", path)
    assert code == 1
    assert f"{path}:14:11: error E203: unknown key 'versionning' in data.buckets.raw" in err
    assert "hint: did you mean 'versioning'?" in err
    assert "Traceback" not in err + out


def test_validate_json_format(tmp_path: pathlib.Path) -> None:
    code, out, _ = run("validate", write(tmp_path, BAD), "--format", "json")
    assert code == 1
    [diagnostic] = json.loads(out)["diagnostics"]
    assert (diagnostic["code"], diagnostic["line"], diagnostic["column"]) == ("E203", 14, 11)
    assert diagnostic["hint"] == "did you mean 'versioning'?"


def test_validate_default_file_is_mlops_yaml(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run("validate")
    assert code == 1 and "cannot read mlops.yaml" in err
    write(tmp_path, WITH_DATA)
    assert run("validate")[0] == 0


def test_validate_checks_every_file_it_is_given(tmp_path: pathlib.Path) -> None:
    good, bad = write(tmp_path / "a", WITH_DATA), write(tmp_path / "b", BAD)
    code, out, err = run("validate", good, bad)
    assert code == 1
    assert f"{good} is valid" in out
    assert f"{bad}:14:11: error E203" in err
    assert run("validate", good, good)[0] == 0


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_machine_formats_take_one_file(tmp_path: pathlib.Path, fmt: str) -> None:
    good = write(tmp_path, WITH_DATA)
    code, out, err = run("validate", good, good, "--format", fmt)
    assert code == 1 and f"--format {fmt} reports on one FILE" in (out if fmt == "json" else err)


def test_the_pre_commit_hook_runs_validate_on_mlops_yaml_files() -> None:

    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["entry"] == "mlopsctl validate" and hook["pass_filenames"] is True
    pattern = re.compile(hook["files"])
    assert pattern.search("ml/mlops.yaml") and pattern.search("mlops.yaml")
    assert not pattern.search("ml/mlops.yaml.bak") and not pattern.search("notmlops.yaml")


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_examples_validate_without_any_diagnostic(example: pathlib.Path) -> None:
    code, out, err = run("validate", example)
    assert (code, err) == (0, "")
    assert "is valid" in out


def test_usage_errors_exit_1_not_2(tmp_path: pathlib.Path) -> None:
    assert run("validate", "--no-such-flag")[0] == 1
    assert run("plan", write(tmp_path, WITH_DATA), "--format", "yaml")[0] == 1
    assert run("apply", write(tmp_path, WITH_DATA))[0] == 1  # --repo is required


def test_plan_against_empty_state(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, WITH_DATA)
    code, out, _ = run("plan", path, "--env", "dev")
    assert code == 0
    assert "# dev/us-central1/gcp:storage/bucket:Bucket/raw will be created" in out
    added = graph_sizes(path)[Target("dev", "us-central1")]
    assert out.rstrip().endswith(f"Plan: {added} to add, 0 to change, 0 to destroy.")


def test_plan_detailed_exitcode(tmp_path: pathlib.Path) -> None:
    assert run("plan", write(tmp_path, WITH_DATA), "--detailed-exitcode")[0] == 2


def test_plan_json_is_one_document(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, WITH_DATA)
    code, out, _ = run("plan", path, "--format", "json", "--region", "europe-west4")
    assert code == 0
    plan = json.loads(out)
    assert plan["format_version"] == "1.0" and plan["project"] == "demo"
    assert {c["region"] for c in plan["resource_changes"]} == {"europe-west4"}
    assert all(c["change"]["actions"] == ["create"] for c in plan["resource_changes"])
    added = graph_sizes(path)[Target("prod", "europe-west4")]
    assert plan["summary"] == {"add": added, "change": 0, "destroy": 0}


def test_plan_out_records_what_it_was_computed_from(tmp_path: pathlib.Path) -> None:
    saved = tmp_path / "plan.json"
    path = write(tmp_path, WITH_DATA)
    assert run("plan", path, "--out", saved)[0] == 0
    content = json.loads(saved.read_text())
    assert set(content["config_hashes"]) == {"dev/us-central1", "prod/us-central1", "prod/europe-west4"}
    assert content["plan"]["summary"]["add"] == sum(graph_sizes(path).values())


def test_unknown_env_option_is_an_error_with_suggestion(tmp_path: pathlib.Path) -> None:
    code, _, err = run("plan", write(tmp_path, WITH_DATA), "--env", "prd")
    assert code == 1
    assert "error E307: --env prd" in err and "did you mean 'prod'?" in err


MODEL = "models:\n  m:\n    framework: onnx\n    versions: {v1: {artifactUri: gs://bkt/m}}\n"
AB = "    rollout: {strategy: ab, weights: {a: 60, b: 30}}\n"
# (config after MINIMAL, expected code, line counted from the first line after MINIMAL)
BAD_INPUTS = {
    "yaml-syntax": ("data: [\n", "E104", 2),
    "duplicate-key": ("data: {}\ndata: {}\n", "E106", 2),
    "unknown-key": ("data:\n  buckets:\n    raw: {versionning: true}\n", "E203", 3),
    "unresolved-reference": (
        MODEL + "endpoints:\n  api:\n    variants:\n      main: {model: mm, version: v1}\n",
        "E301",
        8,
    ),
    "dependency-cycle": (
        "pipelines:\n  p:\n    steps:\n      a: {image: x, dependsOn: [b]}\n"
        "      b: {image: x, dependsOn: [a]}\n",
        "E302",
        4,
    ),
    "weights": (
        MODEL + "endpoints:\n  api:\n    variants:\n      a: {model: m, version: v1}\n"
        "      b: {model: m, version: v1}\n" + AB,
        "E303",
        10,
    ),
    "cron": ("pipelines:\n  p:\n    steps: {s: {image: x}}\n    schedule: {cron: 'every day'}\n", "E305", 4),
    "gpu-not-offered": (
        "accelerators:\n  gpu:\n    type: gpu\n    accelerator: nvidia-h100-80gb\n"
        "    zones: [us-central1-f]\n",
        "E401",
        5,
    ),
    "tpu-topology": (
        "accelerators:\n  tpu:\n    type: tpu\n    version: v5e\n    topology: 3x3\n",
        "E403",
        5,
    ),
    "name-too-long": (
        "data:\n  buckets:\n    raw: {name: '${project}-${env}-${region}-" + "x" * 50 + "'}\n",
        "E404",
        3,
    ),
    "enum-value": ("data:\n  buckets:\n    raw: {storageClass: COLD}\n", "E204", 3),
    "duration": ("data:\n  buckets:\n    raw: {retention: 1 week}\n", "E306", 3),
    "gpu-count": (
        "accelerators:\n  gpu:\n    type: gpu\n    accelerator: nvidia-l4\n    count: 3\n",
        "E402",
        5,
    ),
    "machine-type": (
        "accelerators:\n  gpu:\n    type: gpu\n    accelerator: nvidia-l4\n    machineType: n1-standard-8\n",
        "E402",
        5,
    ),
    "bucket-rule": ("data:\n  buckets:\n    raw: {name: 'goog-${env}-${region}-raw'}\n", "E304", 3),
    "kubernetes-name": (
        MODEL + "endpoints:\n  a-very-long-endpoint-name-for-kserve:\n    variants:\n"
        "      an-even-longer-variant-name: {model: m, version: v1}\n",
        "E404",
        8,
    ),
    "step-pool": (
        "pipelines:\n  p:\n    steps:\n      s: {image: x, resources: {nodePool: gpu}}\n",
        "E301",
        4,
    ),
}


@pytest.mark.parametrize(("extra", "code", "line"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
@pytest.mark.parametrize("command", ["validate", "render", "apply"])
def test_bad_input_reports_code_and_line_and_writes_nothing(
    tmp_path: pathlib.Path, command: str, extra: str, code: str, line: int
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(["git", "init", "-q", str(out)], check=True)
    before = sorted(out.rglob("*"))
    path = write(tmp_path, MINIMAL + extra)
    options: dict[str, list[str | pathlib.Path]] = {
        "validate": [],
        "render": ["--out", out],
        "apply": ["--repo", out],
    }
    args = options[command]
    exit_code, stdout, stderr = run(command, path, *args)
    assert exit_code == 1
    expected_line = MINIMAL.count("\n") + line
    assert f"{path}:{expected_line}:" in stderr and f"error {code}:" in stderr, stderr
    assert "Traceback" not in stdout + stderr
    assert sorted(out.rglob("*")) == before


def test_render_writes_each_target_folder(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "out"
    assert run("render", write(tmp_path, WITH_DATA), "--out", out)[0] == 0
    for target in ("dev/us-central1", "prod/us-central1", "prod/europe-west4"):
        folder = out / target
        assert (folder / "kustomization.yaml").is_file() and (folder / "graph.json").is_file()
        assert (folder / "manifests" / "namespace-demo.yaml").is_file()


def test_render_replaces_stale_files(tmp_path: pathlib.Path) -> None:
    """What the last render wrote and this one does not is removed (a file no render wrote is refused:
    tests/output)."""
    out = tmp_path / "out"
    assert run("render", write(tmp_path, WITH_DATA), "--out", out, "--env", "dev")[0] == 0
    stale = out / "dev" / "us-central1" / "manifests" / "namespace-demo.yaml"
    assert stale.is_file()
    renamed = WITH_DATA.replace("  name: demo\n", "  name: other\n", 1)
    assert run("render", write(tmp_path, renamed), "--out", out, "--env", "dev")[0] == 0
    assert not stale.exists()
    assert (out / "dev" / "us-central1" / "manifests" / "namespace-other.yaml").is_file()


def test_schema_command_prints_the_committed_schema() -> None:
    code, out, _ = run("schema")
    assert code == 0
    root = pathlib.Path(__file__).resolve().parent.parent
    assert out == (root / "schemas" / "mlops.schema.json").read_text(encoding="utf-8")


def test_help_does_not_import_heavy_modules() -> None:
    probe = (
        "import sys; from mlopsctl.cli import app; "
        "heavy = [m for m in ('pydantic', 'kfp', 'pulumi', 'pulumi_gcp', 'kubernetes', 'jinja2')"
        " if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0 and out.startswith("mlopsctl ")


def test_unwritable_outputs_are_clear_errors(tmp_path: pathlib.Path) -> None:
    config = write(tmp_path, WITH_DATA)
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    commands: tuple[list[str | pathlib.Path], ...] = (
        ["render", config, "--out", a_file],
        ["plan", config, "--out", tmp_path],
        ["apply", config, "--repo", a_file],
    )
    for args in commands:
        code, out, err = run(*args)
        assert code == 1 and err.startswith("error: ") and "Traceback" not in out + err, args
    assert a_file.read_text() == "x"


BILLION_LAUGHS = b"a: &a [x, x, x, x, x, x, x, x, x]\n" + b"".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n".encode() for p, n in zip("abcdef", "bcdefg", strict=True)
)
UNSAFE_FILES = {
    "tab": (MINIMAL.encode() + b"data:\n\tbuckets: {}\n", "E105", 13),
    "invalid-utf8": (MINIMAL.encode() + b"# caf\xe9\n", "E103", 12),
    "non-string-key": (MINIMAL.encode() + b"data:\n  buckets:\n    1: {}\n", "E108", 14),
    "alias-expansion": (MINIMAL.encode() + BILLION_LAUGHS, "E107", 12),
    "too-large": (MINIMAL.encode() + b"#" * (1024 * 1024), "E102", 1),
}


@pytest.mark.parametrize(("raw", "code", "line"), UNSAFE_FILES.values(), ids=UNSAFE_FILES.keys())
@pytest.mark.parametrize("command", ["render", "apply"])
def test_unsafe_files_are_refused_and_nothing_is_written(
    tmp_path: pathlib.Path, command: str, raw: bytes, code: str, line: int | None
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(["git", "init", "-q", str(out)], check=True)
    path = tmp_path / "mlops.yaml"
    path.write_bytes(raw)
    exit_code, _, stderr = run(command, path, "--out" if command == "render" else "--repo", out)
    assert exit_code == 1 and f"error {code}:" in stderr and "Traceback" not in stderr
    if line is not None:
        assert f"{path}:{line}:" in stderr
    assert sorted(p.name for p in out.iterdir()) == [".git"]


def test_validate_github_annotations(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, BAD)
    code, out, _ = run("validate", path, "--format", "github")
    assert code == 1
    assert out.strip() == (
        f"::error file={path},line=14,col=11,title=E203::unknown key 'versionning' in data.buckets.raw "
        "(did you mean 'versioning'?)"
    )


def test_validate_sarif(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, BAD)
    code, out, _ = run("validate", path, "--format", "sarif")
    log = json.loads(out)
    assert code == 1 and log["version"] == "2.1.0"
    [run_] = log["runs"]
    [result] = run_["results"]
    assert result["ruleId"] == "E203" and result["level"] == "error"
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 14, "startColumn": 11}
    assert "E203" in {rule["id"] for rule in run_["tool"]["driver"]["rules"]}


@pytest.mark.parametrize(
    ("words", "expected"), [("mlopsctl pl", ["plan", "platform"]), ("mlopsctl pro", ["promote"])]
)
def test_the_shell_completes_commands(words: str, expected: list[str]) -> None:
    env = {"_MLOPSCTL_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": "1", "PATH": ""}
    program = pathlib.Path(sys.executable).parent / "mlopsctl"  # the installed console script
    done = subprocess.run([str(program)], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout.split() == expected, done.stderr


def test_render_reports_its_folders_as_one_json_document(tmp_path: pathlib.Path) -> None:
    code, out, _ = run("render", write(tmp_path, WITH_DATA), "--out", tmp_path / "out", "-f", "json")
    found = json.loads(out)
    assert code == 0 and found["diagnostics"] == []
    folder = found["targets"]["dev/us-central1"]
    assert folder["folder"] == str(tmp_path / "out" / "dev" / "us-central1")
    assert (
        "graph.json" in folder["files"]
        and (tmp_path / "out" / "dev" / "us-central1" / "graph.json").is_file()
    )


def test_render_reports_errors_as_json_and_writes_nothing(tmp_path: pathlib.Path) -> None:
    bad = write(tmp_path, WITH_DATA.replace("raw: {}", "raw: {versionning: true}"))
    code, out, _ = run("render", bad, "--out", tmp_path / "out", "-f", "json")
    assert code == 1 and [d["code"] for d in json.loads(out)["diagnostics"]] == ["E203"]
    assert not (tmp_path / "out").exists()
