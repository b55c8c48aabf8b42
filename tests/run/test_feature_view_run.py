"""The sensor-anomaly example's pipeline that ingests the feature view runs on this machine: it reads
the view's columns from the sample data of the feature group's source table."""

from __future__ import annotations

import json
import pathlib

import pyarrow.parquet as pq
from conftest import ROOT
from helpers import run

EXAMPLE = ROOT / "examples" / "projects" / "sensor-anomaly" / "mlops.yaml"


def test_the_profile_pipeline_reads_the_view_from_the_sample_data(tmp_path: pathlib.Path) -> None:
    code, out, err = run(
        "run", "sensor-profile", EXAMPLE, "--env", "dev", "--local", "--out", tmp_path, "-f", "json"
    )
    assert code == 0, err[-3000:]
    result = json.loads(out)
    assert {step: s["status"] for step, s in result["steps"].items()} == dict.fromkeys(
        ["ingest", "statistics", "schema"], "succeeded"
    )
    examples = pathlib.Path(result["steps"]["ingest"]["outputs"]["examples"])
    metadata = json.loads((examples / "metadata.json").read_text())
    assert metadata["source"] == "bq://acme-sensors-dev.features_dev_europe_west1.sensor_features"
    [part, *_] = sorted((examples / "Split-train").glob("*.parquet"))
    columns = ["sensor_id", "sensor_model", "temperature_c", "pressure_kpa", "vibration_rms"]
    assert pq.read_schema(part).names == columns  # the view's features, not site_id or the timestamp
