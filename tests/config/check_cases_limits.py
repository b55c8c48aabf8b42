"""Overstepped cloud limits and serving options: edits of checks_base.base_config and their diagnostics."""

from __future__ import annotations

from checks_base import GPU, SCORING, STEPS, TPU, Case, put

LIMIT_CASES: dict[str, Case] = {
    # cloud limits
    "zone of another region": (put(((*GPU, "zones"), ["us-east1-b"])), [("E401", (*GPU, "zones", 0))]),
    "zone without the gpu": (put(((*GPU, "zones"), ["us-central1-f"])), [("E401", (*GPU, "zones", 0))]),
    "cpu pool zone": (
        put((("accelerators", "cpu", "zones"), ["us-central1-z"])),
        [("E401", ("accelerators", "cpu", "zones", 0))],
    ),
    "gpu machine type": (put(((*GPU, "machineType"), "n1-standard-4")), [("E402", (*GPU, "machineType"))]),
    "gpu count for machine type": (
        put(((*GPU, "machineType"), "g2-standard-4"), ((*GPU, "count"), 2)),
        [("E402", (*GPU, "count"))],
    ),
    "gpu count": (put(((*GPU, "count"), 3)), [("E402", (*GPU, "count"))]),
    "tpu version not in region": (
        put(((*TPU, "version"), "v4"), ((*TPU, "topology"), "2x2x1")),
        [("E401", (*TPU, "version"))],
    ),
    "tpu zone": (put(((*TPU, "zones"), ["us-central1-b"])), [("E401", (*TPU, "zones", 0))]),
    "tpu topology": (put(((*TPU, "topology"), "3x3")), [("E403", (*TPU, "topology"))]),
    "tpu machine type": (put(((*TPU, "machineType"), "ct5lp-hightpu-8t")), [("E402", (*TPU, "machineType"))]),
    "step gpus per node": (
        put(((*STEPS, "train", "resources", "accelerators"), 2)),
        [("E402", (*STEPS, "train", "resources", "accelerators"))],
    ),
    "variant on cpu pool": (
        put(
            ((*SCORING, "variants", "blue", "nodePool"), "cpu"),
            ((*SCORING, "variants", "blue", "accelerators"), 1),
        ),
        [("E402", (*SCORING, "variants", "blue", "accelerators"))],
    ),
    "variant without pool": (
        put(((*SCORING, "variants", "blue", "accelerators"), 1)),
        [("E402", (*SCORING, "variants", "blue", "accelerators"))],
    ),
    "batch tpu chips per node": (
        put((("batchJobs", "nightly", "accelerators"), 8)),
        [
            ("E205", ("batchJobs", "nightly", "accelerators")),  # it only calls the endpoint
            ("E402", ("batchJobs", "nightly", "accelerators")),
        ],
    ),
    "gpu machine type of another family": (
        put(((*GPU, "machineType"), "a2-highgpu-1g")),
        [("E402", (*GPU, "machineType"))],
    ),
    "tpu zone listed twice": (
        put(
            ((*TPU, "topology"), "2x4"),
            ((*TPU, "machineType"), "ct5lp-hightpu-4t"),
            ((*TPU, "zones"), ["us-central1-a", "us-central1-a"]),
        ),
        # The step on the pool asks for one host of what is now a slice of two.
        [("E205", (*TPU, "zones", 1)), ("E403", (*STEPS, "embed", "resources", "nodePool"))],
    ),
    "cluster name": (
        put((("project", "name"), "fraud-detection-for-card-payments-ab")),
        [("E404", ("project", "name")), ("E404", ("project", "name"))],  # and the pipeline root bucket
    ),
    "pool named like the system pool": (
        put((("accelerators", "system"), {"type": "cpu", "spot": True})),
        [("E310", ("accelerators", "system"))],
    ),
    "cmek registry key location": (
        put((("security", "kms", "main", "location"), "europe-west4")),
        [
            ("E405", ("data", "buckets", "raw")),
            ("E405", ("data", "datasets", "features")),
            ("E405", ("data", "datasets", "requests")),
            ("E405", ("security", "defaultKmsKey")),
        ],
    ),
    "cmek key location": (
        put(
            (("data", "buckets", "raw", "kmsKey"), "eu"),
            (("security", "kms", "eu"), {"location": "europe-west4"}),
        ),
        [("E405", ("data", "buckets", "raw", "kmsKey"))],
    ),
    "cmek default key location": (
        put(
            (("data", "datasets", "features", "location"), "EU"),
            (("security", "kms", "main", "location"), "US"),
        ),
        [
            ("E405", ("data", "datasets", "features")),
            ("E405", ("data", "datasets", "requests")),
            ("E405", ("data", "buckets", "raw")),
            ("E405", ("security", "defaultKmsKey")),
        ],
    ),
    "cmek existing key": (
        put((("security", "kms", "main", "key"), "projects/p/locations/us-east1/keyRings/r/cryptoKeys/k")),
        [
            ("E405", ("data", "buckets", "raw")),
            ("E405", ("data", "datasets", "features")),
            ("E405", ("data", "datasets", "requests")),
            ("E405", ("security", "defaultKmsKey")),
        ],
    ),
    # serving
    "inference graph over gRPC": (
        put(
            (
                ("endpoints", "triage"),
                {
                    "protocols": ["http", "grpc"],
                    "graph": {
                        "steps": {
                            "first": {"model": "fraud", "version": "v1"},
                            "second": {"model": "fraud", "version": "v1"},
                        }
                    },
                },
            )
        ),
        [("E204", ("endpoints", "triage", "protocols"))],
    ),
    "runtime without the model's format": (
        put(((*SCORING, "runtime"), "triton")),
        [("E204", (*SCORING, "runtime"))],
    ),
    "protocol the runtime does not serve": (
        put(
            ((*SCORING, "runtime"), "triton"),
            (("models", "fraud", "framework"), "onnx"),
            ((*SCORING, "protocolVersion"), "v1"),
        ),
        [("E204", (*SCORING, "protocolVersion"))],
    ),
    "grpc only in a version its grpc does not serve": (
        put(((*SCORING, "protocols"), ["grpc"])),
        [
            ("E204", (*SCORING, "logging")),
            ("E204", (*SCORING, "protocols")),
            ("E301", ("batchJobs", "nightly", "version")),
        ],
    ),
}
