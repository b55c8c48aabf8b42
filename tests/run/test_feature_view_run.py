"""The sensor-anomaly example's pipeline that ingests the feature view runs on this machine: it reads
the view's columns from the sample data of the feature group's source table."""

from __future__ import annotations

import json
import pathlib

import pyarrow.parquet as pq
from api_helpers import pipeline_run, statuses
from conftest import ROOT

EXAMPLE = ROOT / "examples" / "projects" / "sensor-anomaly" / "mlops.yaml"


def test_the_profile_pipeline_reads_the_view_from_the_sample_data(tmp_path: pathlib.Path) -> None:
    result = pipeline_run(EXAMPLE, "sensor-profile", tmp_path)
    assert statuses(result) == dict.fromkeys(["ingest", "statistics", "schema"], "succeeded")
    examples = result.steps["ingest"].outputs["examples"]
    assert isinstance(examples, str)
    metadata = json.loads((pathlib.Path(examples) / "metadata.json").read_text())
    assert metadata["source"] == "bq://acme-sensors-dev.features_dev_europe_west1.sensor_features"
    [part, *_] = sorted((pathlib.Path(examples) / "Split-train").glob("*.parquet"))
    columns = ["sensor_id", "sensor_model", "temperature_c", "pressure_kpa", "vibration_rms"]
    assert pq.read_schema(part).names == columns  # the view's features, not site_id or the timestamp
