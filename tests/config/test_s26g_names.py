"""Names and labels that Google Cloud would refuse at apply are refused by validate, at the line that made
them: a project name starting with 'goog' where Pub/Sub topics carry retraining alerts, more labels than
a resource may have with mlopsctl's own, and labels whose keys mlopsctl sets itself."""

from __future__ import annotations

import pathlib

from conftest import EXAMPLES
from helpers import DEV_ONLY, compile_text, diagnostics
from kfp_multiuser import _validation, example_graphs

from mlopsctl.compiler.provenance import LABELLED
from mlopsctl.config.checks.names import OWN_LABELS, RESERVED_LABELS

VERTEX_RETRAIN = """\
placement: {endpoints: vertex, monitors: vertex}
data:
  buckets:
    pipeline-root: {name: acme-demo-dev-root}
  datasets:
    logs: {}
    base:
      tables:
        t: {schema: [{name: f1, type: FLOAT64}]}
models:
  m:
    framework: sklearn
    versions:
      v1: {artifactUri: "gs://acme-models/m/v1"}
endpoints:
  api:
    variants:
      main: {model: m, version: v1, minReplicas: 1, maxReplicas: 2}
    logging: {dataset: logs}
monitors:
  drift:
    type: drift
    endpoint: api
    baseline: {dataset: base, table: t}
    features: {f1: {kind: numeric}}
    window: 24h
    schedule: {cron: "0 * * * *"}
    actions: {retrain: t}
pipelines:
  t:
    steps:
      ingest: {kind: ingest, source: {bigquery: {dataset: base, table: t}}, outputs: {examples: dataset}}
"""
GOOG = (DEV_ONLY + VERTEX_RETRAIN).replace("  name: demo\n", "  name: goog-ml\n  owner: ml@acme.example\n")


def _errors(found: list[tuple[str, str | None]], code: str) -> list[tuple[str, str | None]]:
    return [(first, hint) for first, hint in found if f" {code}: " in first]


def test_a_goog_project_whose_vertex_monitor_retrains_is_refused_at_its_name(tmp_path: pathlib.Path) -> None:
    found = _errors(diagnostics(tmp_path, GOOG), "E304")
    assert found == [
        (
            "4:9: error E304: the Pub/Sub topic of monitor 'drift', which carries its alerts to the "
            "retraining runs, would be named 'goog-ml-...' and Pub/Sub refuses names starting with 'goog'",
            "the topic is named <project>-<env>-<region>-monitor-<monitor>-retrain: choose a project name "
            "that does not start with 'goog'",
        )
    ]


def test_the_topic_the_refused_name_would_make_is_one_pub_sub_refuses(tmp_path: pathlib.Path) -> None:
    """Renamed, the same project compiles, and its topics start with the project name."""
    graphs = compile_text(tmp_path, GOOG.replace("goog-ml", "gml"))
    (graph,) = graphs.values()
    topics = [r.inputs["name"] for r in graph if r.type == "gcp:pubsub/topic:Topic"]
    assert topics and all(str(t).startswith("gml-dev-usc1-monitor-drift-retrain") for t in topics)


def test_a_goog_project_without_a_retraining_monitor_on_vertex_is_accepted(tmp_path: pathlib.Path) -> None:
    text = GOOG.replace("    actions: {retrain: t}\n", "")
    assert _errors(diagnostics(tmp_path, text), "E304") == []


def _labels(count: int, indent: int) -> str:
    return "".join(f"{' ' * indent}k{i:02d}: v\n" for i in range(count))


def test_more_labels_than_a_resource_takes_with_mlopsctls_own_are_refused_where_written(
    tmp_path: pathlib.Path,
) -> None:
    text = (
        DEV_ONLY.replace("  name: demo\n", "  name: demo\n  labels:\n" + _labels(50, 4))
        + "data:\n  buckets:\n    raw:\n      labels:\n"
        + "".join(f"        b{i}: v\n" for i in range(6))
        + "    small: {labels: {b0: v}}\n"
    )
    found = _errors(diagnostics(tmp_path, text), "E404")
    assert found == [
        (
            "64:9: error E404: bucket 'raw' would carry 56 labels of the config and up to 9 of mlopsctl's; "
            "Google Cloud allows 64",
            "keep project.labels, the environment's labels and the resource's own to 55 distinct keys "
            "together",
        )
    ]


def test_project_labels_that_leave_no_room_are_refused_once_at_the_project(tmp_path: pathlib.Path) -> None:
    text = DEV_ONLY.replace("  name: demo\n", "  name: demo\n  labels:\n" + _labels(56, 4))
    found = _errors(diagnostics(tmp_path, text), "E404")
    assert [first.split(" error ")[0] for first, _ in found] == ["6:5:"]
    assert "every Google Cloud resource would carry 56 labels" in found[0][0]


def test_55_labels_fit(tmp_path: pathlib.Path) -> None:
    text = DEV_ONLY.replace("  name: demo\n", "  name: demo\n  labels:\n" + _labels(55, 4))
    assert _errors(diagnostics(tmp_path, text), "E404") == []


def test_a_label_mlopsctl_sets_itself_is_refused_where_written(tmp_path: pathlib.Path) -> None:
    text = DEV_ONLY.replace("  name: demo\n", "  name: demo\n  labels: {managed-by: terraform, team: a}\n")
    text += "data:\n  datasets:\n    d: {labels: {mlops-name: x}}\n"
    found = _errors(diagnostics(tmp_path, text), "E310")
    assert [first for first, _ in found] == [
        "5:24: error E310: label 'managed-by' is one mlopsctl sets on what it creates, which would replace "
        "the config's value",
        "12:30: error E310: label 'mlops-name' is one mlopsctl sets on what it creates, which would replace "
        "the config's value",
    ]


def test_the_labels_mlopsctl_adds_are_the_reserved_ones_and_fit_the_room_left_for_them() -> None:
    """What the check reserves is what the compiler writes: every label of a compiled example that is
    not the config's is reserved, and no resource carries more than OWN_LABELS of them."""
    added: set[str] = set()
    for example in EXAMPLES:
        validation = _validation(example)
        for target, graph in example_graphs(example).items():
            config = validation.targets[target].config
            users = set(config.project.labels) | set(config.environments[target.env].labels)
            for r in graph:
                where = LABELLED.get(r.type)
                if where is None:
                    continue
                labels: object = r.inputs
                for key in where:
                    labels = labels.get(key, {}) if isinstance(labels, dict) else {}
                assert isinstance(labels, dict), r.address
                own = {k for k in labels if k.startswith(("mlops-", "managed-by"))} - users
                assert len(own) <= OWN_LABELS, (r.address, sorted(own))
                added |= own
    assert added <= RESERVED_LABELS, sorted(added - RESERVED_LABELS)
    assert {"managed-by", "mlops-type", "mlops-name", "mlops-env"} <= added
