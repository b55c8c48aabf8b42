"""Pipelines as Kubeflow Pipelines objects: a Pipeline and its current PipelineVersion.

A PipelineVersion is immutable in Kubeflow, so its name carries a hash of the
compiled spec: a changed pipeline becomes a new version (and the old one is
removed), never an edit.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import replace

from mlopsctl.build import training
from mlopsctl.build.context import BuildContext
from mlopsctl.build.identity import NAMESPACE
from mlopsctl.build.kfp_dag import StepSettings, compile_pipeline
from mlopsctl.config.models.pipelines import IngestSource, Pipeline, Step
from mlopsctl.graph import JSON, Resource
from mlopsctl.naming import bucket_name, dataset_id, namespace
from mlopsctl.sourcemap import Path
from mlopsctl.state import canonical_json

PIPELINE_VERSION = "kubernetes:pipelines.kubeflow.org/v2beta1:PipelineVersion"
STAGE_KINDS = ("ingest", "statistics", "schema", "validate", "transform", "train", "tune", "evaluate", "push")


def build(ctx: BuildContext) -> None:
    for name, pipeline in ctx.config.pipelines.items():
        publish(ctx, name, pipeline, source=("pipelines", name), component="pipeline")


def publish(ctx: BuildContext, name: str, pipeline: Pipeline, *, source: Path, component: str) -> Resource:
    """Compile ``pipeline`` with kfp and add its Pipeline and current PipelineVersion (returned).

    The version is named ``<name>-<hash of the compiled spec>``.
    """
    ns = namespace(ctx.config)
    compiled = compile_pipeline(name, name, ns, pipeline, functools.partial(_settings, ctx, name, pipeline))
    spec = compiled.version["spec"]
    content = {k: v for k, v in spec["pipelineSpec"].items() if k != "sdkVersion"}  # same across kfp releases
    digest = hashlib.sha256(canonical_json([content, spec.get("platformSpec")]).encode())
    labels = ctx.k8s_labels(component)
    pipeline_object = _labelled(compiled.pipeline, labels)
    version_object = _labelled(compiled.version, {**labels, "pipelines.kubeflow.org/pipeline": name})
    version_object["metadata"]["name"] = f"{name}-{digest.hexdigest()[:10]}"
    parent = ctx.add(
        _token(pipeline_object),
        name,
        pipeline_object,
        source=source,
        depends_on=(ctx.address(NAMESPACE, ns),),
    )
    return ctx.add(
        _token(version_object),
        version_object["metadata"]["name"],
        version_object,
        source=source,
        depends_on=(parent.address,),
    )


def published_version(ctx: BuildContext, pipeline: str) -> Resource:
    """The PipelineVersion that runs of ``pipeline`` start from (built by this step)."""
    for resource in ctx.graph:
        if (
            resource.type == PIPELINE_VERSION
            and resource.inputs["metadata"]["labels"].get("pipelines.kubeflow.org/pipeline") == pipeline
        ):
            return resource
    raise KeyError(f"pipeline {pipeline!r} has no published version in {ctx.target}")


def _token(obj: dict[str, JSON]) -> str:
    from mlopsctl.build.context import kubernetes_type

    return kubernetes_type(obj["apiVersion"], obj["kind"])


def _labelled(obj: dict[str, JSON], labels: dict[str, str]) -> dict[str, JSON]:
    return {**obj, "metadata": {**obj["metadata"], "labels": labels}}


def _settings(ctx: BuildContext, name: str, pipeline: Pipeline, step_name: str, step: Step) -> StepSettings:
    pool_name = step.resources.node_pool or pipeline.node_pool
    image = step.image or ctx.config.project.stage_image
    assert image is not None, "checked by config.checks.pipelines"
    settings = StepSettings(
        image=image,
        stage_config=None,
        pool_name=pool_name,
        pool=ctx.config.accelerators.get(pool_name) if pool_name else None,
    )
    if step.kind not in STAGE_KINDS:
        return settings
    return replace(
        settings, stage_config=_stage_config(ctx, training.StepAt(name, step_name, step, settings))
    )


def _stage_config(ctx: BuildContext, at: training.StepAt) -> dict[str, JSON]:
    """The parameters a built-in stage receives as ``--config``, with names resolved for the target."""
    step = at.step
    if step.kind == "ingest" and step.source is not None:
        return {"source": _source(ctx, step.source)}
    if step.kind == "tune" and step.tuning is not None:
        return {"experiment": training.experiment(ctx, at)}
    if step.kind == "train" and step.distributed is not None:
        return {"job": training.training_job(ctx, at)}
    if step.kind == "evaluate":
        return {
            "thresholds": {
                k: t.model_dump(mode="json", exclude_none=True) for k, t in step.thresholds.items()
            }
        }
    if step.kind == "push" and step.model is not None:
        return {"model": step.model, "framework": ctx.config.models[step.model].framework}
    return {}


def _source(ctx: BuildContext, source: IngestSource) -> dict[str, JSON]:
    if source.bigquery is not None:
        bq = source.bigquery
        found: dict[str, JSON] = {"dataset": bigquery_name(ctx, bq.dataset)}
        if bq.table:
            found["table"] = bigquery_name(ctx, bq.dataset, bq.table)
        if bq.query:
            found["query"] = bq.query
        return {"bigquery": found}
    if source.gcs is not None:
        return {"gcs": gcs_uri(ctx, source.gcs)}
    assert source.external is not None
    external = ctx.config.data.external[source.external]
    return {"uri": external.uri, "format": external.format}


def bigquery_name(ctx: BuildContext, dataset: str, table: str | None = None) -> str:
    """``project.dataset`` (or ``project.dataset.table``) of a dataset key under data.datasets."""
    found = f"{ctx.gcp_project}.{dataset_id(ctx.target, dataset, ctx.config.data.datasets[dataset])}"
    return f"{found}.{table}" if table else found


def gcs_uri(ctx: BuildContext, location: str) -> str:
    """``gs://`` URI of ``bucket-key/optional/path`` (a bucket under data.buckets)."""
    key, _, path = location.partition("/")
    return f"gs://{bucket_name(ctx.config, ctx.target, key, ctx.config.data.buckets[key])}/{path}"
