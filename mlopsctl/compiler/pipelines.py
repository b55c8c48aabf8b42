"""Pipelines as Kubeflow Pipelines objects: a Pipeline and its current PipelineVersion.

A PipelineVersion is immutable in Kubeflow, so its name carries a hash of the
compiled spec: a changed pipeline becomes a new version (and the old one is
removed), never an edit.

Kubeflow Pipelines runs multi-user: it serves a namespace that has a Kubeflow ``Profile``
(kubeflow.org/v1, cluster-scoped, named like the namespace). The project's namespace gets one
as soon as it publishes a pipeline, owned by ``project.owner`` (an email, required then by
``config.checks.kfp``). mlopsctl keeps owning the Namespace itself: the Profile depends on it,
so the Namespace exists first, and the Namespace carries the ``owner`` annotation that the
profile controller asks of an existing namespace before it adopts it (it then only adds its
labels and RBAC, and sets no owner reference on the Namespace, so deleting the Profile never
deletes the namespace).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace

from mlopsctl.compiler import training
from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.iam import external_table
from mlopsctl.compiler.identity import NAMESPACE, identity_of
from mlopsctl.compiler.kfp_dag import Launcher, StepSettings, compile_pipeline, config_argument
from mlopsctl.compiler.kfp_internals import CompiledPipeline, manifest_specs
from mlopsctl.compiler.kms import default_key
from mlopsctl.compiler.pods import NodePool, placement
from mlopsctl.compiler.vertex_models import on_gpus, serving_container
from mlopsctl.compiler.vertex_tracking import EXPERIMENT_ENV, RUN_ID, grant_aiplatform_user, tracking_env
from mlopsctl.config.checks.kfp import profile_owner
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.models.compute import SYSTEM_POOL, SYSTEM_POOL_SPEC, CpuPool, hosts_system_workloads
from mlopsctl.config.models.pipelines import OUTPUT_REF, Pipeline, Step
from mlopsctl.config.models.placement import Runtime
from mlopsctl.config.models.roles import launcher_stage, stage_roles
from mlopsctl.config.models.stages import IngestSource, Split
from mlopsctl.config.naming import (
    bucket_name,
    dataset_id,
    model_id,
    namespace,
    pipeline_root,
    registry_folder,
)
from mlopsctl.config.sourcemap import Path
from mlopsctl.graph import JSON, Resource, canonical_json

PIPELINE_VERSION = "kubernetes:pipelines.kubeflow.org/v2beta1:PipelineVersion"
PIPELINE_LABEL = "pipelines.kubeflow.org/pipeline"
"""The label that names the pipeline of a PipelineVersion: what mlopsctl finds its versions by."""
PROFILE = "kubernetes:kubeflow.org/v1:Profile"
_EXTERNAL_FORMATS = {"JSON": "jsonl"}
"""Formats of data.external whose stage name is not their lowercase name."""


def build(ctx: BuildContext) -> None:
    for name, pipeline in ctx.config.pipelines.items():
        publish(ctx, name, pipeline, source=("pipelines", name), component="pipeline")


def profile(ctx: BuildContext) -> Resource | None:
    """The Profile that lets multi-user Kubeflow Pipelines serve the project's namespace (added once)."""
    owner = profile_owner(ctx.config)
    if owner is None:
        return None
    ns = namespace(ctx.config)
    found = ctx.graph.resources.get(ctx.address(PROFILE, ns))
    if found is not None:
        return found
    return ctx.add_manifest(
        "profile",
        source=("project", "owner"),
        depends_on=(ctx.address(NAMESPACE, ns),),
        name=ns,
        labels=ctx.k8s_labels("pipeline"),
        owner=owner,
    )


def publish(
    ctx: BuildContext, name: str, pipeline: Pipeline, *, source: Path, component: str, in_mesh: bool = False
) -> Resource:
    """Compile ``pipeline`` with kfp and add its Pipeline and current PipelineVersion (returned).

    The version is named ``<name>-<hash of the compiled spec>``. With ``in_mesh`` its steps run
    with a mesh sidecar (they call services of the mesh).
    """
    ns = namespace(ctx.config)
    settings = step_settings(ctx, name, pipeline, in_mesh)
    compiled = compile_for_target(name, ns, pipeline, settings, pipeline_root(ctx.config, ctx.target))
    # The SDK version is left out: a kfp release that compiles the same spec makes no new version.
    content = {k: v for k, v in compiled.pipeline_spec.items() if k != "sdkVersion"}
    digest = hashlib.sha256(canonical_json([content, compiled.platform_spec]).encode())
    labels = ctx.k8s_labels(component)
    pipeline_spec, version_spec = manifest_specs(compiled, name)
    served = profile(ctx)
    parent = ctx.add_manifest(
        "pipeline",
        source=source,
        depends_on=(ctx.address(NAMESPACE, ns), *((served.address,) if served else ())),
        name=name,
        namespace=ns,
        labels=labels,
        spec=pipeline_spec,
    )
    version = ctx.add_manifest(
        "pipelineversion",
        source=source,
        depends_on=(parent.address,),
        name=f"{name}-{digest.hexdigest()[:10]}",
        namespace=ns,
        labels={**labels, PIPELINE_LABEL: name},
        spec=version_spec,
    )
    ctx.expect(
        version, ("metadata", "labels", PIPELINE_LABEL), name, "mlopsctl finds a pipeline's version by it"
    )
    ctx.expect(
        version, ("spec", "pipelineName"), name, "Kubeflow Pipelines files the version under that Pipeline"
    )
    use = "mlopsctl writes and runs the compiled pipeline it holds"
    ctx.read(version, ("spec", "platformSpec"), dict, use)
    if ctx.read(version, ("spec", "pipelineSpec"), dict, use) is None:
        hint = "render spec.pipelineSpec, as the built-in template does"
        raise ctx.located(version, ("spec", "pipelineSpec"), f"leaves out spec.pipelineSpec: {use}", hint)
    return version


_SUBSTITUTED = "mlopsctl-substituted"
"""Marks, in a pipeline compiled for every target, the values that differ between targets."""
_TEMPLATES: dict[str, CompiledPipeline] = {}
"""Pipelines compiled for every target, by what they were compiled from (most recently used last)."""
_TEMPLATES_KEPT = 128
"""How many pipelines ``_TEMPLATES`` keeps (a process may compile many configs)."""


def compile_for_target(
    name: str, namespace: str, pipeline: Pipeline, settings: Mapping[str, StepSettings], root: str
) -> CompiledPipeline:
    """What ``compile_pipeline`` gives, compiled once for all the targets that differ only in what kfp
    copies verbatim: the pipeline root, the ``--config`` argument of each stage and the values of
    its tracking variables.

    Those are compiled as markers, then substituted in a copy of the result. A pipeline whose
    config holds the marker itself is compiled as it is.
    """
    steps = {k: compiled_from(pipeline.steps[k], s) for k, s in settings.items()}
    # In the config's order: a key blind to it would hand one order's compilation to another.
    key = json.dumps([name, namespace, pipeline.model_dump(mode="json"), steps])
    if _SUBSTITUTED in key:
        return compile_pipeline(name, pipeline, settings, root)
    markers = {step: {_SUBSTITUTED: step} for step in settings}
    tracking = {step: {k: f"{_SUBSTITUTED}:{step}:{k}" for k in s.tracking} for step, s in settings.items()}
    generic = {
        step: replace(s, stage_config=markers[step], tracking=tracking[step]) for step, s in settings.items()
    }
    root_marker = f"{_SUBSTITUTED}:pipeline-root"
    template = _TEMPLATES.pop(key, None) or compile_pipeline(name, pipeline, generic, root_marker)
    _TEMPLATES[key] = template
    if len(_TEMPLATES) > _TEMPLATES_KEPT:
        del _TEMPLATES[next(iter(_TEMPLATES))]
    values = {config_argument(markers[k]): config_argument(s.stage_config) for k, s in settings.items()}
    for step, s in settings.items():
        values.update({tracking[step][k]: value for k, value in s.tracking.items()})
    values[root_marker] = root
    return replace(
        template,
        pipeline_spec=_substituted(template.pipeline_spec, values),
        platform_spec=_substituted(template.platform_spec, values),
    )


def compiled_from(step: Step, settings: StepSettings) -> dict[str, JSON]:
    """What the compiled ``step`` depends on besides the step itself, its stage config and the values of
    its tracking variables: its settings, with each pool as where it places a pod (a pool's size does
    not matter)."""
    launcher = settings.launcher
    general = replace(
        settings, stage_config=None, pool=None, launcher=launcher and replace(launcher, pool=None)
    )
    where = placement(settings.pool_name, settings.pool, step.resources.accelerators)
    launcher_where = launcher and placement(launcher.pool_name, launcher.pool, 0)
    return {
        **dataclasses.asdict(general),
        "placement": dataclasses.asdict(where),
        "launcher_placement": launcher_where and dataclasses.asdict(launcher_where),
        "tracking": sorted(settings.tracking),
    }


def _substituted(value: JSON, values: Mapping[str, str]) -> JSON:
    """A copy of ``value`` with each string that is a key of ``values`` replaced by its value."""
    if isinstance(value, str):
        return values.get(value, value)
    if isinstance(value, dict):
        return {k: _substituted(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_substituted(v, values) for v in value]
    return value


def published_version(ctx: BuildContext, pipeline: str) -> Resource:
    """The PipelineVersion that runs of ``pipeline`` start from (built by this step)."""
    for resource in ctx.graph.of_type(PIPELINE_VERSION):
        if ctx.read(resource, ("metadata", "labels", PIPELINE_LABEL), str, "") == pipeline:
            return resource
    raise KeyError(f"pipeline {pipeline!r} has no published version in {ctx.target}")


def cpu_pool(config: MLOpsConfig, preferred: str | None) -> tuple[str, NodePool]:
    """Where a pod that needs no accelerator runs (a launcher, a batch client): ``preferred`` if it
    is a CPU pool, else the first pool that hosts system workloads, else the one the cluster adds."""
    pools = config.accelerators
    chosen = pools.get(preferred or "")
    if preferred and isinstance(chosen, CpuPool):
        return preferred, chosen
    return next(
        ((n, p) for n, p in pools.items() if hosts_system_workloads(p)), (SYSTEM_POOL, SYSTEM_POOL_SPEC)
    )


def step_settings(
    ctx: BuildContext, name: str, pipeline: Pipeline, in_mesh: bool, runtime: Runtime = "gke"
) -> dict[str, StepSettings]:
    """What each step of ``pipeline`` needs from the rest of the config, resolved for the target, where
    the pipeline runs on ``runtime``."""
    return {
        key: _settings(ctx, name, pipeline, key, step, in_mesh=in_mesh, runtime=runtime)
        for key, step in pipeline.steps.items()
    }


def _settings(
    ctx: BuildContext,
    name: str,
    pipeline: Pipeline,
    step_name: str,
    step: Step,
    *,
    in_mesh: bool,
    runtime: Runtime,
) -> StepSettings:
    pool_name = step.resources.node_pool or pipeline.node_pool
    tracking = tracking_env(ctx, name, step)
    settings = StepSettings(
        image=step.image or ctx.config.project.stage_image,
        stage_config=None,
        pool_name=pool_name,
        pool=ctx.config.accelerators.get(pool_name) if pool_name else None,
        in_mesh=in_mesh,
        runtime=runtime,
        tracking=tracking,
        run_id=RUN_ID if EXPERIMENT_ENV in tracking else None,
    )
    if launcher_stage(step):
        stage_image = ctx.config.project.stage_image
        settings = replace(
            settings, launcher=Launcher(stage_image, *cpu_pool(ctx.config, pipeline.node_pool))
        )
    at = training.StepAt(name, step_name, step, settings)
    return replace(settings, stage_config=_stage_config(ctx, pipeline, at))


def _stage_config(ctx: BuildContext, pipeline: Pipeline, at: training.StepAt) -> dict[str, JSON] | None:
    """The ``--config`` of a built-in stage or launcher (docs/stages.md), resolved for the target."""
    step = at.step
    if step.kind == "ingest" and step.source is not None:
        split = step.split or Split()
        source = _source(ctx, step.source, step.label)
        return {"source": source, "split": split.model_dump(), "label": step.label}
    if step.kind == "transform":
        transforms = {k: t.model_dump(mode="json", exclude_none=True) for k, t in step.transforms.items()}
        return {"transforms": transforms, "label": _examples_label(at.pipeline, pipeline, at.name)}
    if step.kind == "evaluate":
        thresholds = {k: t.model_dump(mode="json", exclude_none=True) for k, t in step.thresholds.items()}
        return {"thresholds": thresholds, "label": step.label}
    if step.kind == "push" and step.model is not None:
        return _push_config(ctx, pipeline, at, step.model)
    if launcher_stage(step):
        return training.launcher_config(ctx, at)
    return {} if step.kind in ("statistics", "schema", "validate") else None


def _push_config(ctx: BuildContext, pipeline: Pipeline, at: training.StepAt, name: str) -> dict[str, JSON]:
    """``push``'s config. Where endpoints are on Vertex AI, the Model Registry is the registry: the
    ``vertex`` block names the registered model the stage adds each pushed folder to as a version,
    with the serving container a ModelVersion of it gets, and the pipeline's account may do so. A
    model whose framework has no prebuilt container (none of the target's endpoints serves it) is
    only copied."""
    model = ctx.config.models[name]
    found: dict[str, JSON] = {
        "model": name,
        "framework": model.framework,
        "registry": registry_folder(v.artifact_uri for v in model.versions.values()),
    }
    gpu = any(m == name for m, _ in on_gpus(ctx.config))  # the versions it pushes serve as the others do
    container = serving_container(model.framework, ctx.target.region, gpu=gpu)
    if ctx.config.placement.endpoints != "vertex" or container is None:
        return found
    who = identity_of(ctx, "pipeline", at.pipeline, pipeline.service_account)
    grant_aiplatform_user(ctx, who, ("pipelines", at.pipeline, "steps", at.name))
    found["vertex"] = {
        "project": ctx.gcp_project,
        "location": ctx.target.region,
        "modelId": model_id(ctx.config, name),
        "displayName": name,
        "container": container,
        "labels": ctx.gcp_labels({"mlops-pipeline": at.pipeline, "mlops-model": name}),
        **default_key(ctx, "aiplatform", "kmsKeyName")[0],  # as ModelVersions are (vertex_models)
    }
    return found


def _examples_label(pipeline_name: str, pipeline: Pipeline, name: str) -> str | None:
    """The label column of the examples a step reads, as their ingest step declares it."""
    step = pipeline.steps[name]
    if step.kind == "ingest":
        return step.label
    roles = stage_roles(pipeline_name, pipeline, name)
    for key, role in roles.inputs.items():
        match = OUTPUT_REF.match(str(step.inputs[key]))
        if role.flag == "examples" and match is not None:
            return _examples_label(pipeline_name, pipeline, match[1])
    return None


def _source(ctx: BuildContext, source: IngestSource, label: str | None) -> dict[str, JSON]:
    if source.feature_view is not None:
        group = ctx.config.features.groups[ctx.config.features.views[source.feature_view].group]
        table = bigquery_name(ctx, group.source.dataset, group.source.table)
        return {
            "bigquery": {
                "table": table,
                "columns": feature_view_columns(ctx.config, source.feature_view, label),
            }
        }
    if source.bigquery is not None:
        bq = source.bigquery
        if bq.table:
            return {"bigquery": {"table": bigquery_name(ctx, bq.dataset, bq.table)}}
        return {"bigquery": {"query": bq.query, "project": ctx.gcp_project}}
    if source.gcs is not None:
        found: dict[str, JSON] = {"gcs": gcs_uri(ctx, source.gcs)}
        if source.format is not None:
            found["format"] = source.format
        return found
    assert source.external is not None
    external = ctx.config.data.external[source.external]
    found = {"uri": external.uri, "format": _EXTERNAL_FORMATS.get(external.format, external.format.lower())}
    if external_table(external):  # read in a session of this project, whichever project has the table
        found["project"] = ctx.gcp_project
    return found


def feature_view_columns(config: MLOpsConfig, view: str, label: str | None = None) -> list[JSON]:
    """The columns an ingest of feature view ``view`` reads from its group's source table: the
    entity id columns, the view's features (all of the group's when it lists none) and ``label``."""
    spec = config.features.views[view]
    group = config.features.groups[spec.group]
    columns = [*group.entity_id_columns, *(spec.features or group.features), *([label] if label else [])]
    return list(dict.fromkeys(columns))


def bigquery_name(ctx: BuildContext, dataset: str, table: str | None = None) -> str:
    """``project.dataset`` (or ``project.dataset.table``) of a dataset key under data.datasets."""
    found = f"{ctx.gcp_project}.{dataset_id(ctx.target, dataset, ctx.config.data.datasets[dataset])}"
    return f"{found}.{table}" if table else found


def gcs_uri(ctx: BuildContext, location: str) -> str:
    """``gs://`` URI of ``bucket-key/optional/path`` (a bucket under data.buckets)."""
    key, _, path = location.partition("/")
    return f"gs://{bucket_name(ctx.config, ctx.target, key, ctx.config.data.buckets[key])}/{path}"
