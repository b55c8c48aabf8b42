"""Names that clash or do not fit: edits of checks_base.base_config and their diagnostics."""

from __future__ import annotations

from checks_base import DELETE, LONG_BUCKET, LONG_VARIANT, ROLLOUT, SCORING, Case, put

NAME_CASES: dict[str, Case] = {
    # names
    "bucket uppercase": (
        put((("data", "buckets", "raw", "name"), "Fraud-Raw")),
        [("E304", ("data", "buckets", "raw", "name"))],
    ),
    "bucket google": (
        put((("data", "buckets", "raw", "name"), "my-google-data")),
        [("E304", ("data", "buckets", "raw", "name"))],
    ),
    "bucket ip address": (
        put((("data", "buckets", "raw", "name"), "192.168.1.1")),
        [("E304", ("data", "buckets", "raw", "name"))],
    ),
    "bucket too long": (
        put((("data", "buckets", "raw", "name"), "b" * 64)),
        [("E404", ("data", "buckets", "raw", "name"))],
    ),
    "generated bucket too long": (
        put((("project", "name"), "fraud-detection-platform"), (("data", "buckets", LONG_BUCKET), {})),
        [("E404", ("data", "buckets", LONG_BUCKET))],
    ),
    "bucket name clash": (
        put((("data", "buckets", "copy"), {"name": "fraud-prod-us-central1-raw"})),
        [("E310", ("data", "buckets", "copy", "name"))],
    ),
    "dataset id": (
        put((("data", "datasets", "features", "datasetId"), "features-prod")),
        [("E304", ("data", "datasets", "features", "datasetId"))],
    ),
    "dataset id clash": (
        put(
            (("data", "datasets", "features", "datasetId"), "events"),
            (("data", "datasets", "requests", "datasetId"), "events"),
        ),
        [("E310", ("data", "datasets", "requests", "datasetId"))],
    ),
    "inference service name": (
        put(
            ((*SCORING, "variants", LONG_VARIANT), {"model": "fraud", "version": "v2"}),
            ((*SCORING, "variants", "green"), DELETE),
            ((*ROLLOUT, "candidate"), LONG_VARIANT),
        ),
        [("E404", (*SCORING, "variants", LONG_VARIANT))],
    ),
    "project id": (
        put((("environments", "prod", "gcpProject"), "google-fraud-prod")),
        [("E304", ("environments", "prod", "gcpProject"))],
    ),
}
