"""Every drift or skew monitor on Vertex AI gets a Model Monitoring id of its own, however long its project
and monitor names are (the id is made from the display name and is at most 63 characters). Environments
on Vertex AI cannot share a GCP project and region (E310: their registry models would collide)."""

from __future__ import annotations

import pathlib

from helpers import compile_text

from mlopsctl.config.target import Target
from mlopsctl.pulumi.vertex.monitor import monitor_id

MONITOR = "mlopsctl:vertex/modelMonitor:ModelMonitor"
LONG_PROJECT = "customer-lifetime-value-prediction-pl"
LONG_A = "customer-lifetime-value-drift-checks-a"
LONG_B = "customer-lifetime-value-drift-checks-b"


def _config(project: str, monitors: tuple[str, ...]) -> str:
    blocks = "".join(
        f"""\
  {name}:
    type: drift
    endpoint: api
    baseline: {{dataset: logs, table: train}}
    features: {{amount: {{kind: numeric}}}}
    schedule: {{cron: "0 3 * * *"}}
"""
        for name in monitors
    )
    return f"""\
apiVersion: mlopsctl.dev/v1alpha1
kind: MLOpsProject
project:
  name: {project}
environments:
  dev:
    gcpProject: acme-shared
    regions: [us-central1]
  prod:
    gcpProject: acme-prod
    regions: [us-central1]
data:
  datasets:
    logs: {{}}
models:
  clf:
    framework: sklearn
    versions:
      v1: {{artifactUri: "gs://acme-models/clf/v1"}}
endpoints:
  api:
    variants:
      main: {{model: clf, version: v1, minReplicas: 2}}
    logging: {{dataset: logs}}
monitors:
{blocks}placement: {{endpoints: vertex, monitors: vertex}}
"""


def _ids(tmp_path: pathlib.Path, project: str, monitors: tuple[str, ...]) -> dict[tuple[str, str], str]:
    graphs = compile_text(tmp_path, _config(project, monitors))
    return {
        (target.env, r.name): monitor_id(str(r.inputs["displayName"]))
        for target, graph in graphs.items()
        for r in graph.of_type(MONITOR)
    }


def test_long_names_get_distinct_monitor_ids(tmp_path: pathlib.Path) -> None:
    ids = _ids(tmp_path, LONG_PROJECT, (LONG_A, LONG_B))
    assert len(ids) == 4
    assert len(set(ids.values())) == 4, ids
    assert all(len(i) <= 63 for i in ids.values())


def test_a_shortened_display_name_is_its_own_id(tmp_path: pathlib.Path) -> None:
    graph = compile_text(tmp_path, _config(LONG_PROJECT, (LONG_A,)))[Target("dev", "us-central1")]
    (monitor,) = graph.of_type(MONITOR)
    display = str(monitor.inputs["displayName"])
    assert monitor_id(display) == display
    assert display.startswith(f"{LONG_PROJECT}-customer-lifetime")


def test_short_names_keep_their_readable_display_name(tmp_path: pathlib.Path) -> None:
    graph = compile_text(tmp_path, _config("demo", ("api-drift",)))[Target("prod", "us-central1")]
    (monitor,) = graph.of_type(MONITOR)
    assert monitor.inputs["displayName"] == "demo api-drift (prod)"
