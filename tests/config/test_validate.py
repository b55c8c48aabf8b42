from __future__ import annotations

import json
import pathlib

import pytest
from helpers import MINIMAL, OWNED, WITH_DATA, write

from mlopsctl.api import ALL, Selection, validate
from mlopsctl.config.source import ConfigSource

GPU_POOL = """\
accelerators:
  gpu:
    type: gpu
    accelerator: nvidia-l4
    zones: [us-central1-a]
"""


def _diagnostics(tmp_path: pathlib.Path, text: str, selection: Selection = ALL) -> list[tuple[str, int, str]]:
    path = write(tmp_path, text)
    result = validate(ConfigSource(path, "mlops.yaml", None), selection)
    return [(d.code, d.position.line if d.position else 0, d.to_text()) for d in result.diagnostics]


def test_minimal_config_is_valid(tmp_path: pathlib.Path) -> None:
    assert _diagnostics(tmp_path, MINIMAL) == []


@pytest.mark.parametrize(
    ("extra", "code", "line", "fragment"),
    [
        ("data:\n  buckets:\n    raw: {versionning: true}\n", "E203", 3, "did you mean 'versioning'?"),
        ("unknownSection: {}\n", "E203", 1, "unknown key 'unknownSection'"),
        (GPU_POOL.replace("nvidia-l4", "nvidia-l5"), "E204", 4, "did you mean 'nvidia-l4'?"),
        (GPU_POOL.replace("type: gpu", "type: gpus"), "E204", 3, "did you mean 'gpu'?"),
        (GPU_POOL.replace("    type: gpu\n", ""), "E201", 3, "missing required field 'type'"),
        (GPU_POOL + "    count: lots\n", "E202", 6, "must be an integer"),
        (GPU_POOL + "    count: 99\n", "E205", 6, "less than or equal to 16"),
        (GPU_POOL + "    autoscaling: {minNodes: 5, maxNodes: 2}\n", "E205", 6, "greater than maxNodes"),
        (
            "pipelines:\n  p:\n    steps: {s: {image: x}}\n    schedule: {cron: '61 * * * *'}\n",
            "E305",
            4,
            "invalid cron expression",
        ),
        (
            "pipelines:\n  p:\n    steps: {s: {image: x}}\n"
            "    schedule: {cron: '0 3 * * *', timeZone: Mars/Base}\n",
            "E305",
            4,
            "unknown time zone",
        ),
        ("pipelines:\n  p:\n    steps: {s: {image: x, timeout: 5 minutes}}\n", "E306", 3, "invalid duration"),
        (
            "pipelines:\n  p:\n    steps: {s: {image: x, timeout: 0s}}\n",
            "E205",
            3,
            "a timeout of 0s is no time limit",
        ),
        ("endpoints:\n  Fraud_Model: {variants: {}}\n", "E205", 2, "invalid name 'Fraud_Model'"),
        (  # the tag 'shadow' is also a key of the Shadow rollout: the error names the stray key
            "endpoints:\n  e:\n    rollout:\n      strategy: shadow\n      shadow: b\n      steps: [10]\n",
            "E203",
            6,
            "unknown key 'steps' in endpoints.e.rollout",
        ),
    ],
)
def test_schema_errors_have_code_line_and_hint(
    tmp_path: pathlib.Path, extra: str, code: str, line: int, fragment: str
) -> None:
    """``line`` counts from the first line of ``extra``."""
    found = _diagnostics(tmp_path, MINIMAL + extra)
    line += MINIMAL.count("\n")
    assert any(c == code and ln == line and fragment in text for c, ln, text in found), found


def test_wrong_api_version(tmp_path: pathlib.Path) -> None:
    found = _diagnostics(tmp_path, MINIMAL.replace("mlopsctl.dev/v1alpha1", "mlopsctl.dev/v2"))
    assert [(c, ln) for c, ln, _ in found] == [("E206", 1)]


def test_error_in_overlay_points_at_overlay_line(tmp_path: pathlib.Path) -> None:
    text = WITH_DATA.replace(
        "    regions: [us-central1, europe-west4]\n",
        "    regions: [us-central1, europe-west4]\n    overrides:\n      data:\n        buckets:\n"
        "          raw: {storageClass: COLD}\n",
    )
    found = _diagnostics(tmp_path, text)
    assert [(c, ln) for c, ln, _ in found] == [("E204", 15)]
    assert "did you mean 'COLDLINE'?" in found[0][2]


def test_same_mistake_in_every_target_is_reported_once(tmp_path: pathlib.Path) -> None:
    found = _diagnostics(tmp_path, MINIMAL + "data:\n  buckets:\n    raw: {versionning: true}\n")
    assert len(found) == 1


def test_all_errors_are_reported_sorted(tmp_path: pathlib.Path) -> None:
    found = _diagnostics(tmp_path, MINIMAL + "models:\n  m: {framework: tf}\nendpoints:\n  e: {runtime: x}\n")
    lines = [ln for _, ln, _ in found]
    assert lines == sorted(lines) and len(found) >= 3


def test_unknown_environment_selection(tmp_path: pathlib.Path) -> None:
    found = _diagnostics(tmp_path, MINIMAL, Selection(envs=("prd",)))
    assert [c for c, _, _ in found] == ["E307"]
    assert "did you mean 'prod'?" in found[0][2]


def test_broken_environments_still_report_other_errors(tmp_path: pathlib.Path) -> None:
    text = (
        WITH_DATA.replace("    regions: [us-central1]\n", "").replace(
            "    regions: [us-central1, europe-west4]\n", ""
        )
        + "models:\n  m: {framework: tf}\n"
    )
    codes = {c for c, _, _ in _diagnostics(tmp_path, text)}
    assert {"E201", "E204"} <= codes


SCHEMA_TABLE = """\
data:
  datasets:
    events:
      tables:
        log: {schemaFile: schemas/log.json}
"""


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "not found"),
        ("{not json", "is not valid JSON"),
        ('{"name": "x"}', "non-empty JSON list"),
        ('[{"name": "x"}]', "needs a 'name' and a 'type'"),
        ('[{"name": "x", "type": "STRING", "nullable": true}]', "unknown column field 'nullable'"),
    ],
)
def test_schema_file_problems(tmp_path: pathlib.Path, content: str | None, fragment: str) -> None:
    if content is not None:
        write(tmp_path, content, "schemas/log.json")
    found = _diagnostics(tmp_path, MINIMAL + SCHEMA_TABLE)
    line = MINIMAL.count("\n") + 5
    assert [(c, ln) for c, ln, _ in found] == [("E311", line)]
    assert fragment in found[0][2]


def test_valid_schema_file(tmp_path: pathlib.Path) -> None:
    write(tmp_path, '[{"name": "ts", "type": "TIMESTAMP", "mode": "REQUIRED"}]', "schemas/log.json")
    assert _diagnostics(tmp_path, MINIMAL + SCHEMA_TABLE) == []


def test_missing_template_folder(tmp_path: pathlib.Path) -> None:
    found = _diagnostics(tmp_path, MINIMAL.replace("  name: demo\n", "  name: demo\n  templates: nowhere\n"))
    assert [(c, ln) for c, ln, _ in found] == [("E311", 5)]


def test_a_mistake_in_some_targets_names_them(tmp_path: pathlib.Path) -> None:
    text = WITH_DATA.replace(
        "    regions: [us-central1, europe-west4]\n",
        "    regions: [us-central1, europe-west4]\n    regionOverrides:\n      europe-west4:\n"
        "        data: {buckets: {raw: {storageClass: COLD}}}\n",
    )
    [(code, _, text_)] = _diagnostics(tmp_path, text)
    assert code == "E204" and "(in prod/europe-west4)" in text_


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (MINIMAL + "x: .nan\n", "unknown key 'x'"),
        (
            MINIMAL + "accelerators:\n  g: {type: gpu, accelerator: nvidia-l4, count: .inf}\n",
            "accelerators.g.count",
        ),
        (
            MINIMAL.replace("regions: [us-central1]", "regions: [[us-central1]]"),
            "environments.dev.regions[0]",
        ),
        (
            MINIMAL.replace("  name: demo\n", "  name: demo\n").replace(
                "    regions: [us-central1]\n",
                "    regions: [us-central1]\n    overrides: {project: {name: other}}\n",
            ),
            "project.name cannot be overridden",
        ),
        (MINIMAL.replace("  dev:", "  Dev:"), "environment names are lowercase"),
        (MINIMAL + "data: null\n", "must be a mapping, not null"),
    ],
)
def test_odd_values_are_diagnostics_not_crashes(tmp_path: pathlib.Path, text: str, fragment: str) -> None:
    found = _diagnostics(tmp_path, text)
    assert any(fragment in t for _, _, t in found), found


def test_deep_nesting_is_refused(tmp_path: pathlib.Path) -> None:
    found = _diagnostics(tmp_path, MINIMAL + "x: " + "[" * 500 + "]" * 500 + "\n")
    assert [c for c, _, _ in found] == ["E107"]


def test_duplicate_keys_do_not_hide_schema_errors(tmp_path: pathlib.Path) -> None:
    found = _diagnostics(tmp_path, MINIMAL + "data:\n  buckets: {raw: {versionning: true}}\n  buckets: {}\n")
    assert sorted(c for c, _, _ in found) == ["E106", "E203"]


def test_names_shared_by_targets_are_located_in_the_file(tmp_path: pathlib.Path) -> None:
    text = WITH_DATA.replace("    raw: {}\n", "    raw: {name: 'acme-raw-${env}'}\n")
    found = _diagnostics(tmp_path, text)
    assert [(c, ln) for c, ln, _ in found] == [("E310", 14)]
    assert "used by prod/us-central1 and prod/europe-west4" in found[0][2]


def test_whole_object_errors_point_at_the_field_they_name(tmp_path: pathlib.Path) -> None:
    text = (
        MINIMAL.replace(
            "    regions: [us-central1, europe-west4]\n",
            "    regions: [us-central1, europe-west4]\n    overrides:\n      accelerators:\n"
            "        cpu: {autoscaling: {minNodes: 9}}\n",
        )
        + "accelerators:\n  cpu:\n    type: cpu\n    autoscaling: {minNodes: 1, maxNodes: 4}\n"
    )
    [(code, line, text_)] = _diagnostics(tmp_path, text)
    assert (code, line) == ("E205", 14) and "minNodes (9) is greater than maxNodes (4)" in text_


def test_a_collision_with_an_unselected_target_is_still_reported(tmp_path: pathlib.Path) -> None:
    text = WITH_DATA.replace("    raw: {}\n", "    raw: {name: 'acme-raw-${region}'}\n")
    found = _diagnostics(tmp_path, text, Selection(envs=("dev",)))
    assert [(c, ln) for c, ln, _ in found] == [("E310", 14)]
    assert "used by dev/us-central1 and prod/us-central1" in found[0][2]


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ("data:\n  buckets:\n    raw: {versioning: 'true'}\n", "must be true or false, not 'true'"),
        ("data:\n  buckets:\n    raw: {versioning: yes}\n", "must be true or false, not 'yes'"),
        (
            "accelerators:\n  g: {type: gpu, accelerator: nvidia-l4, count: '2'}\n",
            "must be an integer, not '2'",
        ),
    ],
)
def test_values_are_not_coerced(tmp_path: pathlib.Path, extra: str, fragment: str) -> None:
    found = _diagnostics(tmp_path, MINIMAL + extra)
    assert [c for c, _, _ in found] == ["E202"] and fragment in found[0][2]


SCHEDULE = "pipelines:\n  p:\n    steps: {s: {image: x}}\n    schedule: "


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (MINIMAL + SCHEDULE + "{cron: '0 25 * * 1'}\n", "the hour field '25' is not valid (0-23)"),
        (MINIMAL + SCHEDULE + "{cron: '0 3 * *'}\n", "it needs five fields"),
        (
            MINIMAL + SCHEDULE + "{cron: '0 3 * * *', timeZone: Europe/Berln}\n",
            "did you mean 'Europe/Berlin'?",
        ),
        (MINIMAL + "overrides: {}\n", "move it under environments.<env>"),
        (MINIMAL.replace("[us-central1]", "[us-central]"), "is not a region name such as"),
    ],
)
def test_messages_say_how_to_fix_it(tmp_path: pathlib.Path, text: str, fragment: str) -> None:
    found = _diagnostics(tmp_path, text)
    assert any(fragment in t for _, _, t in found), found


def test_an_unused_kms_key_is_a_warning(tmp_path: pathlib.Path) -> None:
    found = _diagnostics(tmp_path, WITH_DATA + "security:\n  kms:\n    spare: {}\n")
    assert [(c, ln) for c, ln, _ in found] == [("W301", 19)]
    assert "KMS key 'spare' is declared but never used" in found[0][2]


STEP = "pipelines:\n  p:\n    steps:\n      a: {image: x, command: [run], "


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [
        (OWNED + STEP + "resources: {cpu: 1Gi}}\n", "E205", "is not a CPU amount"),
        (OWNED + STEP + "resources: {memory: 1.5Gi}}\n", "E205", "is not a memory amount"),
        (OWNED + STEP + "parallelFor: {items: []}}\n", "E205", "at least 1 item"),
        (
            OWNED + STEP + "parallelFor: {items: [1, 2.5]}}\n",
            "E205",
            "mixes float and int values",
        ),
        (
            OWNED + STEP + "parallelFor: {items: [1], parallelism: 3000000000}}\n",
            "E205",
            "10000",
        ),
        (
            OWNED + STEP + "inputs: {x: [1]}}\n",
            "E202",
            "must be a string, an integer, a number or",
        ),
        (MINIMAL.replace("name: demo", "name: '${env}'"), "E205", "'${env}' is not a name"),
        (
            MINIMAL.replace("name: demo", "{name: demo, templates: '" + "a" * 300 + "'}"),
            "E311",
            "cannot be read",
        ),
        (MINIMAL.replace("name: demo", "{name: demo, templates: /etc}"), "E311", "not a folder inside"),
    ],
)
def test_inputs_found_by_fuzzing_are_diagnostics(
    tmp_path: pathlib.Path, text: str, code: str, fragment: str
) -> None:
    found = _diagnostics(tmp_path, text)
    assert [c for c, _, _ in found] == [code] and fragment in found[0][2], found


def test_schema_files_that_nest_too_deeply(tmp_path: pathlib.Path) -> None:
    deep = {"name": "x", "type": "RECORD", "fields": []}
    node = deep
    for _ in range(20):
        child = {"name": "x", "type": "RECORD", "fields": []}
        node["fields"] = [child]  # type: ignore[assignment]
        node = child
    node.update(type="STRING", fields=[])  # the innermost column is a leaf
    write(tmp_path, json.dumps([deep]), "schemas/log.json")
    [(code, _, text)] = _diagnostics(tmp_path, MINIMAL + SCHEMA_TABLE)
    assert code == "E311" and "deeper than 15 levels" in text


def test_a_broken_override_template_is_found_by_validate(tmp_path: pathlib.Path) -> None:
    write(
        tmp_path,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: {{ name | tojson }\n",
        "t/kubernetes/namespace.yaml.j2",
    )
    found = _diagnostics(tmp_path, MINIMAL.replace("name: demo", "{name: demo, templates: t}"))
    assert [text.splitlines()[0] for _, _, text in found] == [
        "t/kubernetes/namespace.yaml.j2:3:18: error E314: template 'kubernetes/namespace.yaml.j2' in 't' "
        "does not parse: unexpected '}'"
    ]


def test_an_override_that_replaces_nothing_is_an_error(tmp_path: pathlib.Path) -> None:
    write(tmp_path, "kind: x\n", "t/kubernetes/namespaces.yaml.j2")
    [(code, line, text)] = _diagnostics(tmp_path, MINIMAL.replace("name: demo", "{name: demo, templates: t}"))
    assert (code, line) == ("E314", 4)
    assert "'kubernetes/namespaces.yaml.j2' in 't' replaces no built-in template" in text
    assert "did you mean 'kubernetes/namespace.yaml.j2'?" in text


ONE_ROUND = """\
models:
  m:
    framework: sklearn
    versions:
      v1: {artifactUri: gs://models-bucket/m/v1}
endpoints:
  e:
    runtime: sklearn
    variants:
      v: {model: m, version: v1, minReplicas: one}
  f:
    runtime: sklearn
    variants:
      v: {model: n, version: v1}
"""


def test_schema_and_reference_errors_come_in_one_run(tmp_path: pathlib.Path) -> None:
    found = _diagnostics(tmp_path, MINIMAL + ONE_ROUND)
    assert [(c, ln) for c, ln, _ in found] == [("E202", 21), ("E301", 25)]
    assert "model 'n' is not declared under models" in found[1][2]


def test_nothing_is_reported_about_a_part_that_was_cut(tmp_path: pathlib.Path) -> None:
    """Endpoint e is cut for its invalid runtime: model m, which only e serves, is not reported
    as unused, and a reference to e would not be reported as unresolved."""
    text = ONE_ROUND.replace("runtime: sklearn\n", "runtime: sklaern\n", 1)
    text = text.replace("minReplicas: one", "minReplicas: 1")
    text += "monitors:\n  slow: {type: latency, endpoint: e, objective: 200}\n"
    found = _diagnostics(tmp_path, MINIMAL + text)
    assert [c for c, _, _ in found] == ["E204", "E301"]
    assert "did you mean 'sklearn'?" in found[0][2]
