"""GCS buckets: private, uniform access, versioned, with lifecycle and retention."""

from __future__ import annotations

from mlopsctl.build import kms
from mlopsctl.build.context import BuildContext
from mlopsctl.config.models.data import Lifecycle
from mlopsctl.durations import parse_duration
from mlopsctl.graph import JSON
from mlopsctl.naming import bucket_name

BUCKET = "gcp:storage/bucket:Bucket"


def build(ctx: BuildContext) -> None:
    for key, bucket in ctx.config.data.buckets.items():
        key_id, key_deps = kms.key_reference(ctx, bucket.kms_key, "storage")
        inputs: dict[str, JSON] = {
            "name": bucket_name(ctx.config, ctx.target, key, bucket),
            "project": ctx.gcp_project,
            "location": (bucket.location or ctx.target.region).upper(),
            "storageClass": bucket.storage_class,
            "uniformBucketLevelAccess": True,
            "publicAccessPrevention": "enforced",
            "versioning": {"enabled": bucket.versioning},
            "forceDestroy": False,
            "labels": ctx.gcp_labels(bucket.labels),
        }
        rules = lifecycle_rules(bucket.lifecycle)
        if rules:
            inputs["lifecycleRules"] = rules
        if bucket.retention:
            # pulumi-gcp takes the period in seconds, as a string.
            inputs["retentionPolicy"] = {"retentionPeriod": str(parse_duration(bucket.retention))}
        if key_id:
            inputs["encryption"] = {"defaultKmsKeyName": key_id}
        ctx.add(BUCKET, key, inputs, source=("data", "buckets", key), depends_on=key_deps, protect=True)


def lifecycle_rules(lifecycle: Lifecycle) -> list[JSON]:
    rules: list[JSON] = []
    for storage_class, age in (
        ("NEARLINE", lifecycle.nearline_after_days),
        ("COLDLINE", lifecycle.coldline_after_days),
        ("ARCHIVE", lifecycle.archive_after_days),
    ):
        if age:
            rules.append(
                {
                    "action": {"type": "SetStorageClass", "storageClass": storage_class},
                    "condition": {"age": age},
                }
            )
    if lifecycle.delete_after_days:
        rules.append({"action": {"type": "Delete"}, "condition": {"age": lifecycle.delete_after_days}})
    if lifecycle.keep_versions:
        rules.append(
            {
                "action": {"type": "Delete"},
                "condition": {"numNewerVersions": lifecycle.keep_versions, "withState": "ARCHIVED"},
            }
        )
    return rules
