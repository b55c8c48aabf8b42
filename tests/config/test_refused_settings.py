"""Settings Google Cloud would refuse are errors at their line."""

from __future__ import annotations

import pathlib

import pytest
from helpers import MINIMAL, compile_text, write

from mlopsctl.api import validate
from mlopsctl.config.source import ConfigSource
from mlopsctl.config.target import Target


@pytest.mark.parametrize(
    ("section", "fragment"),
    [
        (
            "data:\n  buckets:\n    raw: {retention: 7d}\n",
            "cannot have both a retention policy and object versioning",
        ),
        (
            "data:\n  buckets:\n    raw: {versioning: false, lifecycle: {keepVersions: 3}}\n",
            "lifecycle.keepVersions needs 'versioning: true'",
        ),
        (
            "security:\n  kms:\n    raw: {rotation: 1h}\n",
            "rotation 1h is shorter than 1d, the shortest Cloud KMS allows",
        ),
    ],
)
def test_refused_settings(tmp_path: pathlib.Path, section: str, fragment: str) -> None:
    path = write(tmp_path, MINIMAL + section)
    [found] = validate(ConfigSource(path, "mlops.yaml", None)).diagnostics
    assert (found.code, found.position.line if found.position else 0) == ("E205", 14)
    assert fragment in found.message


def test_retention_is_sent_in_seconds_as_pulumi_gcp_types_it(tmp_path: pathlib.Path) -> None:
    graph = compile_text(
        tmp_path, MINIMAL + "data:\n  buckets:\n    raw: {retention: 7d, versioning: false}\n"
    )
    bucket = graph[Target("dev", "us-central1")].resources["dev/us-central1/gcp:storage/bucket:Bucket/raw"]
    assert bucket.inputs["retentionPolicy"] == {"retentionPeriod": "604800"}
    assert bucket.inputs["versioning"] == {"enabled": False}
