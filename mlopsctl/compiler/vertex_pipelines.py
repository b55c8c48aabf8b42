"""Pipelines placed on Vertex AI (``placement.pipelines: vertex``): templates, schedules, new-data triggers.

Each pipeline is compiled with kfp as for Kubeflow Pipelines (``pipelines.compile_for_target``), but
with each step's machine as Vertex AI reads it (CPU and memory limits, accelerators by their Vertex AI
type) and no Kubernetes setting (``kfp_dag``). Its PipelineSpec is stored as a versioned template: the
object ``pipelines/<pipeline>/<hash of the content>.json`` of the pipeline-root bucket (outside the
run outputs that the bucket forgets, ``storage``), so a changed pipeline is a new object (never an
edited one) and runs name the exact spec they start. Vertex AI Pipelines needs no Kubernetes object:
the ``pipelines`` step emits none for these pipelines.

Runs execute as the pipeline's Google service account, which gets ``roles/aiplatform.user`` on the
project (what creating a PipelineJob and recording its metadata takes; Vertex AI has no narrower
predefined role) besides the data access ``iam`` grants every pipeline (``objectUser`` on the
pipeline root covers reading the templates). The Vertex AI service agent needs nothing for
pipelines of its own project.

- A ``schedule`` is a Cloud Scheduler job that POSTs the PipelineJob (spec inline, as the
  ``templateUri`` of the API takes no ``gs://`` object) to the Vertex AI API with an OAuth token
  of the pipeline's account, which therefore may act as itself (``roles/iam.serviceAccountUser``
  on itself). Cloud Scheduler starts each run whatever runs before it do: ``concurrencyPolicy``
  holds on GKE only.
- A ``newData`` trigger must look before it starts a run, which Cloud Scheduler cannot: it is a
  Cloud Run job running ``mlopsctl-stage start-run`` with the ``backend: vertex`` config and
  ``whenNewData`` (docs/stages.md), as the pipeline's account, which a Cloud Scheduler job runs
  every 10 minutes through the Cloud Run API (the account may invoke that job only).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from dataclasses import dataclass

from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.identity import GSA_IAM_MEMBER, Identity, identity_of
from mlopsctl.compiler.kfp_dag import STAGE_PROGRAM
from mlopsctl.compiler.kms import default_key
from mlopsctl.compiler.pipelines import bigquery_name, compile_for_target, gcs_uri, step_settings
from mlopsctl.compiler.registry import agent_image_reader
from mlopsctl.compiler.schedules import POLL_SCHEDULE
from mlopsctl.compiler.storage import BUCKET
from mlopsctl.compiler.vertex_tracking import grant_aiplatform_user
from mlopsctl.config.models.pipelines import NewData, Pipeline, Schedule
from mlopsctl.config.naming import PIPELINE_ROOT, bucket_of, namespace, pipeline_root, shorten
from mlopsctl.config.sourcemap import Path
from mlopsctl.graph import JSON, Resource, canonical_json

BUCKET_OBJECT = "gcp:storage/bucketObject:BucketObject"
SCHEDULER_JOB = "gcp:cloudscheduler/job:Job"
RUN_JOB = "gcp:cloudrunv2/job:Job"
RUN_JOB_IAM_MEMBER = "gcp:cloudrunv2/jobIamMember:JobIamMember"
SERVICE_ACCOUNT_USER = "roles/iam.serviceAccountUser"
RUN_INVOKER = "roles/run.invoker"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
RUN_JOB_NAME_LIMIT = 63
"""Cloud Run job names: lowercase letters, digits and '-', at most 63 characters."""
STARTER_RETRIES = 2
STARTER_TIMEOUT = "600s"
"""As the CronJobs of GKE: a failed look is retried; a new-data look is idempotent (the last run is
the marker), so a retry after a run started starts no second one."""


@dataclass(frozen=True)
class Template:
    """The stored PipelineSpec of a pipeline: the object resource, and the spec it holds (read from
    the object's content when first asked for: most callers need only its address or URI)."""

    resource: Resource

    @functools.cached_property
    def spec(self) -> dict[str, JSON]:
        spec: dict[str, JSON] = json.loads(self.resource.inputs["content"])
        return spec

    @property
    def uri(self) -> str:
        return f"gs://{self.resource.inputs['bucket']}/{self.resource.inputs['name']}"


def build(ctx: BuildContext) -> None:
    if ctx.config.placement.pipelines != "vertex":
        return
    for name, pipeline in ctx.config.pipelines.items():
        template = publish(ctx, name, pipeline)
        who = identity_of(ctx, "pipeline", name, pipeline.service_account)
        source: Path = ("pipelines", name)
        runs = grant_aiplatform_user(ctx, who, source)
        if pipeline.schedule is None and not any(t.new_data for t in pipeline.triggers):
            continue
        acts = grant_act_as(ctx, who, who, source)
        if pipeline.schedule is not None:
            _schedule(ctx, name, pipeline, pipeline.schedule, template, (runs, acts))
        for i, trigger in enumerate(pipeline.triggers):
            if trigger.new_data is not None:
                _new_data_trigger(ctx, name, pipeline, trigger.new_data, i, template, (runs, acts))


def _compact(value: JSON) -> str:
    """JSON text with sorted keys and no spaces: templates and request bodies have size limits."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def template_name(pipeline: str) -> str:
    """The graph name of a pipeline's template object."""
    return f"pipeline-{pipeline}"


def publish(ctx: BuildContext, name: str, pipeline: Pipeline) -> Template:
    """Compile ``pipeline`` and add its template object, named for a hash of its content."""
    settings = step_settings(ctx, name, pipeline, in_mesh=False, runtime="vertex")
    root = pipeline_root(ctx.config, ctx.target)
    compiled = compile_for_target(name, namespace(ctx.config), pipeline, settings, root)
    spec: dict[str, JSON] = compiled.pipeline_spec
    content = _compact(spec)
    digest = hashlib.sha256(content.encode()).hexdigest()[:16]
    inputs: dict[str, JSON] = {
        "bucket": bucket_of(ctx.config, ctx.target, PIPELINE_ROOT),
        "name": f"pipelines/{name}/{digest}.json",
        "content": content,
        "contentType": "application/json",
    }
    resource = ctx.add(
        BUCKET_OBJECT,
        template_name(name),
        inputs,
        source=("pipelines", name),
        depends_on=(ctx.address(BUCKET, PIPELINE_ROOT),),
    )
    return Template(resource)


def template_of(ctx: BuildContext, pipeline: str) -> Template:
    """The template of ``pipeline`` that this step added (runs started elsewhere name it)."""
    resource = ctx.graph.resources[ctx.address(BUCKET_OBJECT, template_name(pipeline))]
    return Template(resource)


def run_labels(ctx: BuildContext, pipeline: str) -> dict[str, str]:
    """The labels of every run of ``pipeline`` in the target: what a new-data trigger's last run carries."""
    return ctx.gcp_labels({"mlops-pipeline": pipeline})


def run_config(ctx: BuildContext, pipeline: str, parameters: dict[str, JSON]) -> dict[str, JSON]:
    """The ``start-run`` config (``backend: vertex``, docs/stages.md) that starts a run of ``pipeline``:
    also a drift or skew monitor's ``retrain`` entry."""
    declared = ctx.config.pipelines[pipeline].service_account
    return {
        "backend": "vertex",
        "project": ctx.gcp_project,
        "location": ctx.target.region,
        "pipelineSpecUri": template_of(ctx, pipeline).uri,
        "pipelineRoot": pipeline_root(ctx.config, ctx.target),
        "displayName": pipeline,
        "serviceAccount": identity_of(ctx, "pipeline", pipeline, declared).gsa_email,
        "labels": dict(run_labels(ctx, pipeline)),
        "parameters": parameters,
        **default_key(ctx, "aiplatform", "kmsKeyName")[0],  # the run and what it makes, encrypted
    }


def grant_act_as(ctx: BuildContext, who: Identity, runs_as: Identity, source: Path) -> str:
    """``roles/iam.serviceAccountUser`` for ``who`` on the Google account ``runs_as`` (added once): what
    starting a run as that account takes. A run started with the account's own token acts as itself."""
    account, acted = ctx.graph.resources[who.gsa_address], ctx.graph.resources[runs_as.gsa_address]
    name = f"{account.name}-act-as-self" if account is acted else f"{account.name}-acts-as-{acted.name}"
    address = ctx.address(GSA_IAM_MEMBER, name)
    if address not in ctx.graph.resources:
        inputs: dict[str, JSON] = {
            "serviceAccountId": f"projects/{ctx.gcp_project}/serviceAccounts/{runs_as.gsa_email}",
            "role": SERVICE_ACCOUNT_USER,
            "member": f"serviceAccount:{who.gsa_email}",
        }
        depends = tuple(dict.fromkeys((account.address, acted.address)))
        ctx.add(GSA_IAM_MEMBER, name, inputs, source=source, depends_on=depends)
    return address


def pipeline_job(ctx: BuildContext, pipeline: str, parameters: dict[str, JSON]) -> dict[str, JSON]:
    """The PipelineJob (REST JSON) that starts a run of ``pipeline`` with ``parameters``: its template's
    spec inline (``templateUri`` takes no ``gs://`` object) and :func:`run_config`'s root, account and
    labels. Schedules, monitors' retraining and ``mlopsctl run`` all send it."""
    config = run_config(ctx, pipeline, parameters)
    return {
        "displayName": config["displayName"],
        "pipelineSpec": template_of(ctx, pipeline).spec,
        "runtimeConfig": {
            "gcsOutputDirectory": config["pipelineRoot"],
            "parameterValues": config["parameters"],
        },
        "serviceAccount": config["serviceAccount"],
        "labels": config["labels"],
        **({"encryptionSpec": {"kmsKeyName": config["kmsKeyName"]}} if "kmsKeyName" in config else {}),
    }


def _scheduler_name(ctx: BuildContext, suffix: str) -> str:
    """Cloud Scheduler and Cloud Run names are unique per GCP project and region, which the targets of
    several environments (and projects) may share."""
    return f"{ctx.config.project.name}-{ctx.target.env}-{suffix}"


def _http_target(uri: str, body: JSON, email: str) -> dict[str, JSON]:
    """A POST of the JSON ``body`` to a Google API, with an OAuth token of ``email``."""
    return {
        "uri": uri,
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json"},
        "body": base64.b64encode(_compact(body).encode()).decode(),
        "oauthToken": {"serviceAccountEmail": email, "scope": CLOUD_PLATFORM_SCOPE},
    }


def _schedule(
    ctx: BuildContext,
    name: str,
    pipeline: Pipeline,
    schedule: Schedule,
    template: Template,
    grants: tuple[str, ...],
) -> Resource:
    job = pipeline_job(ctx, name, {**pipeline.parameters, **schedule.parameters})
    region, project = ctx.target.region, ctx.gcp_project
    uri = f"https://{region}-aiplatform.googleapis.com/v1/projects/{project}/locations/{region}/pipelineJobs"
    inputs: dict[str, JSON] = {
        "name": _scheduler_name(ctx, f"{name}-schedule"),
        "project": project,
        "region": region,
        "description": f"Starts a run of pipeline '{name}' on Vertex AI Pipelines (mlopsctl).",
        "schedule": schedule.cron,
        "timeZone": schedule.time_zone,
        "httpTarget": _http_target(uri, job, str(job["serviceAccount"])),
    }
    return ctx.add(
        SCHEDULER_JOB,
        f"{name}-schedule",
        inputs,
        source=("pipelines", name, "schedule"),
        depends_on=(template.resource.address, *grants),
    )


def _new_data_trigger(
    ctx: BuildContext,
    name: str,
    pipeline: Pipeline,
    new_data: NewData,
    index: int,
    template: Template,
    grants: tuple[str, ...],
) -> Resource:
    """A Cloud Run job that starts a run when there is new data, and the Cloud Scheduler job that runs it.

    Named after the pipeline, what it watches and a hash of the trigger (not its position), as on GKE.
    """
    watched = new_data.bucket or new_data.dataset
    digest = hashlib.sha256(canonical_json(new_data.model_dump(mode="json")).encode()).hexdigest()[:6]
    key = f"{name}-on-{watched}-{digest}"
    job_name = shorten(_scheduler_name(ctx, key), RUN_JOB_NAME_LIMIT)
    source: Path = ("pipelines", name, "triggers", index, "newData")
    config = {**run_config(ctx, name, dict(pipeline.parameters)), "whenNewData": _watched(ctx, new_data)}
    email = str(config["serviceAccount"])
    region, project = ctx.target.region, ctx.gcp_project
    image = ctx.config.project.stage_image
    reader = agent_image_reader(ctx, "cloudrunv2", image, ("project", "stageImage"))
    container: dict[str, JSON] = {
        "image": image,
        "commands": [STAGE_PROGRAM, "start-run"],
        "args": ["--config", json.dumps(config, sort_keys=True)],
    }
    run_job = ctx.add(
        RUN_JOB,
        key,
        {
            "name": job_name,
            "project": project,
            "location": region,
            "deletionProtection": False,
            "labels": run_labels(ctx, name),
            "template": {
                "taskCount": 1,
                "template": {
                    "serviceAccount": email,
                    "maxRetries": STARTER_RETRIES,
                    "timeout": STARTER_TIMEOUT,
                    "containers": [container],
                },
            },
        },
        source=source,
        depends_on=(template.resource.address, *grants, *([reader] if reader else [])),
    )
    invoker = ctx.add(
        RUN_JOB_IAM_MEMBER,
        f"{key}-invoker",
        {
            "project": project,
            "location": region,
            "name": job_name,
            "role": RUN_INVOKER,
            "member": f"serviceAccount:{email}",
        },
        source=source,
        depends_on=(run_job.address,),
    )
    uri = f"https://run.googleapis.com/v2/projects/{project}/locations/{region}/jobs/{job_name}:run"
    inputs: dict[str, JSON] = {
        "name": job_name,
        "project": project,
        "region": region,
        "description": f"Runs {job_name}, which starts a run of pipeline '{name}' on new data (mlopsctl).",
        "schedule": POLL_SCHEDULE,
        "timeZone": "Etc/UTC",
        "httpTarget": _http_target(uri, {}, email),
    }
    return ctx.add(SCHEDULER_JOB, key, inputs, source=source, depends_on=(run_job.address, invoker.address))


def _watched(ctx: BuildContext, new_data: NewData) -> dict[str, JSON]:
    """What a trigger watches: objects under a GCS prefix, or a table's (or dataset's) partitions."""
    if new_data.bucket is not None:
        return {"gcs": gcs_uri(ctx, f"{new_data.bucket}/{new_data.prefix}")}
    assert new_data.dataset is not None
    key = "table" if new_data.table else "dataset"
    return {"bigquery": {key: bigquery_name(ctx, new_data.dataset, new_data.table)}}
