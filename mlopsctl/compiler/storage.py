"""GCS buckets: private, uniform access, versioned, with lifecycle and retention.

Besides those declared, a target with pipelines (or batch jobs) gets the bucket that
their runs write artifacts to, ``pipeline-root`` (:func:`mlopsctl.config.naming.pipeline_root`):
unversioned, run outputs deleted after 30 days. Declaring ``data.buckets.pipeline-root``
replaces it with the declared one. In either, age-based deletion applies to the run outputs
(under the pipeline root's folder) only: the bucket also holds what outlives runs, such as the
templates of pipelines on Vertex AI.
"""

from __future__ import annotations

from mlopsctl.compiler import kms
from mlopsctl.compiler.context import BuildContext
from mlopsctl.config.durations import parse_duration
from mlopsctl.config.models.data import Bucket, Lifecycle
from mlopsctl.config.naming import PIPELINE_ROOT, bucket_name, has_pipeline_root, pipeline_root
from mlopsctl.config.sourcemap import Path
from mlopsctl.graph import JSON

BUCKET = "gcp:storage/bucket:Bucket"
PIPELINE_ROOT_BUCKET = Bucket(versioning=False, lifecycle=Lifecycle(delete_after_days=30))
"""The implied pipeline root: what runs write is theirs to keep only while it is read."""


def build(ctx: BuildContext) -> None:
    for key, bucket in ctx.config.data.buckets.items():
        _bucket(ctx, key, bucket, ("data", "buckets", key))
    if has_pipeline_root(ctx.config) and PIPELINE_ROOT not in ctx.config.data.buckets:
        source: Path = ("pipelines",) if ctx.config.pipelines else ("batchJobs",)
        _bucket(ctx, PIPELINE_ROOT, PIPELINE_ROOT_BUCKET, source)


def _bucket(ctx: BuildContext, key: str, bucket: Bucket, source: Path) -> None:
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
    rules = lifecycle_rules(bucket.lifecycle, _run_outputs(ctx) if key == PIPELINE_ROOT else None)
    if rules:
        inputs["lifecycleRules"] = rules
    if bucket.retention:
        # pulumi-gcp takes the period in seconds, as a string.
        inputs["retentionPolicy"] = {"retentionPeriod": str(parse_duration(bucket.retention))}
    if key_id:
        inputs["encryption"] = {"defaultKmsKeyName": key_id}
    ctx.add(BUCKET, key, inputs, source=source, depends_on=key_deps, protect=True)


def _run_outputs(ctx: BuildContext) -> str:
    """The prefix of the objects runs write to the pipeline root (``root/``)."""
    root = pipeline_root(ctx.config, ctx.target).removeprefix("gs://")
    return root.split("/", 1)[1].rstrip("/") + "/"


def lifecycle_rules(lifecycle: Lifecycle, delete_prefix: str | None) -> list[JSON]:
    """The bucket's lifecycle rules; with ``delete_prefix``, deletion by age holds under it only."""
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
        condition: dict[str, JSON] = {"age": lifecycle.delete_after_days}
        if delete_prefix is not None:
            condition["matchesPrefixes"] = [delete_prefix]
        rules.append({"action": {"type": "Delete"}, "condition": condition})
    if lifecycle.keep_versions:
        rules.append(
            {
                "action": {"type": "Delete"},
                "condition": {"numNewerVersions": lifecycle.keep_versions, "withState": "ARCHIVED"},
            }
        )
    return rules
