"""Recreate the sensor sample data (seeded, so every run writes the same files).

- ``datasets/telemetry/readings.parquet``: April 2025 readings of 36 sensors at three plants,
  in the table's schema (mlops.yaml), with the ``failure_within_24h`` label: a sensor wearing
  out vibrates more, runs hotter and loses pressure before it fails.
- ``datasets/features/serving_baseline.jsonl``: the serving features of a reference week.
- ``datasets/features/daily_features.parquet``: yesterday's features per sensor (batch scoring).
- ``datasets/features/sensor_features.parquet``: a week of daily features per sensor, stamped with the
  end of each day: the feature group's source, which the pipeline ``sensor-profile`` ingests through
  the feature view ``sensor-latest``.
- ``datasets/serving/detector_requests.jsonl``: the detector's request log (KServe v1), with the
  shadow variant's answers to the mirrored half. It drifts on purpose: the plants in Ghent and
  Liège have replaced most of their sensors with the new VX-300, which vibrates more and runs hotter.
- ``datasets/serving/detector_predictions.jsonl``: the detector's request-response log as Vertex AI
  writes it (the ``vertex`` environment: ``logging_time``, ``request_payload`` with one JSON instance
  per element, ``response_payload``), the day before the replacement and the logged day, which
  drifts as above: Model Monitoring's drift compares a window with the one before it.
- ``buckets/landing/gateway-exports/2025-06-02/<site>.csv``: a gateway export (the new-data trigger).
- ``buckets/models/sensor-anomaly/{v7,v8}/model.json``: the registered versions the endpoint
  and the batch job serve, small XGBoost models on temperature, pressure and vibration.

Run it from anywhere: ``python examples/projects/sensor-anomaly/sample-data/generate.py``.
"""

from __future__ import annotations

import csv
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xgboost as xgb

HERE = Path(__file__).resolve().parent
SEED = 2310
SITES = ["ghent", "liege", "charleroi"]
MODELS = {"PX-100": (1.0, 61.0), "PX-200": (1.2, 64.0), "VX-300": (1.9, 70.0)}
"""Sensor model: (vibration of a healthy sensor in mm/s RMS, temperature in °C)."""
FLEET = [("PX-100", 0.6), ("PX-200", 0.4)]
"""The sensor models in service before the planted drift: the VX-300 is new."""
REPLACED = ["ghent", "liege"]
"""The plants that have replaced most of their sensors with the new VX-300 (the planted drift)."""
AFTER = [("PX-100", 0.1), ("PX-200", 0.15), ("VX-300", 0.75)]
"""The sensor models at those plants on the logged day."""
SENSORS_PER_SITE = 12
READINGS = 2000
APRIL = datetime(2025, 4, 1, tzinfo=UTC)
REFERENCE_WEEK = datetime(2025, 5, 12, tzinfo=UTC)
DAY = datetime(2025, 6, 2, tzinfo=UTC)
FEATURES = ["temperature_c", "pressure_kpa", "vibration_rms"]


def fleet(rng: np.random.Generator, mix: list[tuple[str, float]]) -> list[dict[str, str]]:
    """The sensors of every site: id, site and model."""
    names, shares = zip(*mix, strict=True)
    return [
        {"sensor_id": f"{site[:3].upper()}-{n:03d}", "site_id": site, "sensor_model": str(model)}
        for site in SITES
        for n, model in enumerate(rng.choice(names, SENSORS_PER_SITE, p=shares), start=1)
    ]


FAILING = 0.1
"""Share of readings taken less than 24 h before the sensor failed."""


def wear(rng: np.random.Generator, failing: bool) -> float:
    """How worn a sensor is, 0 (new) .. 1 (about to fail): failing sensors are far along."""
    return float(rng.beta(10, 2) if failing else rng.beta(1, 8))


def measure(rng: np.random.Generator, sensor_model: str, worn: float) -> dict[str, float]:
    """One reading of a sensor: a worn sensor vibrates more, runs hotter and loses pressure."""
    vibration, temperature = MODELS[sensor_model]
    return {
        "temperature_c": round(temperature + 14 * worn + rng.normal(0, 1.5), 2),
        "pressure_kpa": round(301.3 - 30 * worn + rng.normal(0, 5.0), 2),
        "vibration_rms": round(vibration * (1 + 1.5 * worn) * rng.lognormal(0, 0.08), 3),
        "humidity_pct": round(float(np.clip(rng.normal(45, 8), 5, 95)), 1),
    }


def any_reading(rng: np.random.Generator, sensor_model: str) -> dict[str, float]:
    return measure(rng, sensor_model, wear(rng, rng.random() < FAILING))


def write_readings(rng: np.random.Generator, sensors: list[dict[str, str]]) -> None:
    rows = []
    seconds = np.sort(rng.uniform(0, 30 * 86400, READINGS))
    for s in seconds:
        sensor = sensors[int(rng.integers(len(sensors)))]
        failing = bool(rng.random() < FAILING)
        reading = measure(rng, sensor["sensor_model"], wear(rng, failing))
        firmware = "4.2.1" if rng.random() < 0.7 else "4.3.0"
        rows.append(
            {
                "reading_time": APRIL + timedelta(seconds=float(s)),
                **sensor,
                **reading,
                "firmware": {
                    "version": firmware,
                    "updated_at": datetime(2025, 3, 3 if firmware == "4.2.1" else 24, 9, tzinfo=UTC),
                },
                "failure_within_24h": failing,
            }
        )
    schema = pa.schema(
        [
            pa.field("reading_time", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("site_id", pa.string(), nullable=False),
            pa.field("sensor_id", pa.string(), nullable=False),
            pa.field("sensor_model", pa.string()),
            pa.field("temperature_c", pa.float64()),
            pa.field("pressure_kpa", pa.float64()),
            pa.field("vibration_rms", pa.float64()),
            pa.field("humidity_pct", pa.float64()),
            pa.field(
                "firmware",
                pa.struct(
                    [pa.field("version", pa.string()), pa.field("updated_at", pa.timestamp("us", tz="UTC"))]
                ),
            ),
            pa.field("failure_within_24h", pa.bool_()),
        ]
    )
    path = HERE / "datasets" / "telemetry" / "readings.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, compression="zstd")
    registry_models(rows)


def registry_models(rows: list[dict[str, Any]]) -> None:
    """v7 and v8 of the registry: XGBoost on the three numeric serving features."""
    x = np.array([[r[f] for f in FEATURES] for r in rows])
    y = np.array([r["failure_within_24h"] for r in rows])
    for version, depth in (("v7", 2), ("v8", 3)):
        data = xgb.DMatrix(x, label=y, feature_names=FEATURES)
        params = {"objective": "binary:logistic", "max_depth": depth, "eta": 0.3, "seed": 0, "nthread": 1}
        booster = xgb.train(params, data, num_boost_round=20)
        path = HERE / "buckets" / "models" / "sensor-anomaly" / version / "model.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        booster.save_model(path)


def write_baseline(rng: np.random.Generator, sensors: list[dict[str, str]]) -> None:
    rows = []
    for _ in range(400):
        sensor = sensors[int(rng.integers(len(sensors)))]
        reading = any_reading(rng, sensor["sensor_model"])
        rows.append({"sensor_model": sensor["sensor_model"], **{f: reading[f] for f in FEATURES}})
    write_jsonl(HERE / "datasets" / "features" / "serving_baseline.jsonl", rows)


def write_daily_features(rng: np.random.Generator, sensors: list[dict[str, str]]) -> None:
    rows = []
    for sensor in sensors:
        daily = [any_reading(rng, sensor["sensor_model"]) for _ in range(24)]
        rows.append(
            {
                "feature_date": date(2025, 6, 1),
                **sensor,
                **{f: round(float(np.mean([r[f] for r in daily])), 3) for f in FEATURES},
            }
        )
    schema = pa.schema(
        [
            pa.field("feature_date", pa.date32(), nullable=False),
            pa.field("sensor_id", pa.string(), nullable=False),
            pa.field("site_id", pa.string()),
            pa.field("sensor_model", pa.string()),
            *(pa.field(f, pa.float64()) for f in FEATURES),
        ]
    )
    path = HERE / "datasets" / "features" / "daily_features.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def write_sensor_features(rng: np.random.Generator, sensors: list[dict[str, str]]) -> None:
    rows = []
    for day in range(7):
        stamp = datetime(2025, 5, 26, 23, 59, 59, tzinfo=UTC) + timedelta(days=day)
        for sensor in sensors:
            daily = [any_reading(rng, sensor["sensor_model"]) for _ in range(24)]
            means = {f: round(float(np.mean([r[f] for r in daily])), 3) for f in FEATURES}
            rows.append({"feature_timestamp": stamp, **sensor, **means})
    schema = pa.schema(
        [
            pa.field("feature_timestamp", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("sensor_id", pa.string(), nullable=False),
            pa.field("site_id", pa.string()),
            pa.field("sensor_model", pa.string()),
            *(pa.field(f, pa.float64()) for f in FEATURES),
        ]
    )
    path = HERE / "datasets" / "features" / "sensor_features.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def write_gateway_export(rng: np.random.Generator, sensors: list[dict[str, str]]) -> None:
    for site in SITES:
        path = HERE / "buckets" / "landing" / "gateway-exports" / "2025-06-02" / f"{site}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(
                ["reading_time", "site_id", "sensor_id", "sensor_model", *FEATURES, "humidity_pct"]
            )
            for sensor in (s for s in sensors if s["site_id"] == site):
                reading = any_reading(rng, sensor["sensor_model"])
                when = DAY + timedelta(seconds=float(rng.uniform(0, 3600)))
                writer.writerow(
                    [iso(when), site, sensor["sensor_id"], sensor["sensor_model"], *reading.values()]
                )


def score(features: dict[str, float]) -> float:
    """A plausible answer for the log (not the registered model's)."""
    z = 1.8 * (features["vibration_rms"] - 1.6) + 0.15 * (features["temperature_c"] - 70) - 2.5
    return round(float(1 / (1 + np.exp(-z))), 4)


def write_requests(rng: np.random.Generator, sensors: list[dict[str, str]]) -> None:
    """The logged day, after the replacement."""
    rows = []
    seconds = np.sort(rng.uniform(0, 12 * 3600, 240))
    for s in seconds:
        sensor = sensors[int(rng.integers(len(sensors)))]
        reading = any_reading(rng, sensor["sensor_model"])
        instance = {"site_id": sensor["site_id"], "sensor_model": sensor["sensor_model"], **reading}
        request_id = str(uuid.UUID(bytes=rng.bytes(16), version=4))
        when = DAY + timedelta(seconds=float(s))
        mirrored = rng.random() < 0.5  # the shadow rollout mirrors half of the traffic to v8
        for variant, version in (("main", "v7"), ("next", "v8")) if mirrored else (("main", "v7"),):
            rows.append(
                {
                    "timestamp": iso(when),
                    "request_id": request_id,
                    "endpoint": "detector",
                    "variant": variant,
                    "model": "sensor-anomaly",
                    "model_version": version,
                    "request": {"instances": [instance]},
                    "response": {"predictions": [score(reading)]},
                    "latency_ms": round(float(rng.lognormal(np.log(6.0), 0.3)), 2),
                    "status": 200,
                }
            )
    write_jsonl(HERE / "datasets" / "serving" / "detector_requests.jsonl", rows)


def write_vertex_log(
    rng: np.random.Generator, before: list[dict[str, str]], after: list[dict[str, str]]
) -> None:
    """The Vertex AI endpoint's log: 200 requests on each of the two days, the fleet replaced between."""
    rows = []
    endpoint = "projects/acme-sensors-vertex/locations/europe-west4/endpoints/623413522"  # the detector's id
    for day, fleet_of_day in ((DAY - timedelta(days=1), before), (DAY, after)):
        for s in np.sort(rng.uniform(0, 12 * 3600, 200)):
            sensor = fleet_of_day[int(rng.integers(len(fleet_of_day)))]
            reading = any_reading(rng, sensor["sensor_model"])
            instance = {"site_id": sensor["site_id"], "sensor_model": sensor["sensor_model"], **reading}
            rows.append(
                {
                    "endpoint": endpoint,
                    "deployed_model_id": "7000000000000000001",
                    "logging_time": iso(day + timedelta(seconds=float(s))),
                    "request_id": int(rng.integers(1, 2**62)),
                    "request_payload": [json.dumps(instance, separators=(",", ":"))],
                    "response_payload": [json.dumps(score(reading))],
                }
            )
    write_jsonl(HERE / "datasets" / "serving" / "detector_predictions.jsonl", rows)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows))


def main() -> None:
    rng = np.random.default_rng(SEED)
    sensors = fleet(rng, FLEET)
    write_readings(rng, sensors)
    write_baseline(rng, sensors)
    write_daily_features(rng, sensors)
    write_gateway_export(rng, sensors)
    new = fleet(rng, AFTER)
    replaced = [s for s in new if s["site_id"] in REPLACED] + [
        s for s in sensors if s["site_id"] not in REPLACED
    ]
    write_requests(rng, replaced)
    write_sensor_features(
        np.random.default_rng(SEED + 1), sensors
    )  # its own stream: the rest stay as they were
    write_vertex_log(np.random.default_rng(SEED + 2), sensors, replaced)


if __name__ == "__main__":
    main()
