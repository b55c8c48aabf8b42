"""Monitors on Vertex AI that retrain: an alert starts runs of the pipelines it retrains.

A monitor placed on Vertex AI whose ``actions.retrain`` names a pipeline (or that a pipeline's
``triggers`` name) gets a Pub/Sub topic, and a Cloud Monitoring notification channel of type
``pubsub`` on it, which the monitor notifies besides its declared channels (the ModelMonitor of a drift
or skew monitor, :mod:`mlopsctl.compiler.vertex_serving`; the alert policy of an SLO monitor,
:mod:`mlopsctl.compiler.alerting`). Cloud Monitoring publishes as its notification service agent
(``service-NUMBER@gcp-sa-monitoring-notification``), which may publish to that topic only; the grant takes
the agent from the ServiceIdentity of ``monitoring.googleapis.com``, which makes it exist first (a project
may have none yet, and IAM refuses a grant to an account that does not exist). What takes the messages
depends on where the pipelines are.

Pipelines on Vertex AI, managed pieces all the monitor's own:

- an Eventarc trigger on the topic's messages that executes a Cloud Workflows workflow;
- the workflow, which for each retrained pipeline creates a PipelineJob through the Vertex AI API:
  the body the pipeline's schedule POSTs (:mod:`mlopsctl.compiler.vertex_pipelines`: the template's
  spec inline, pipeline root, the pipeline's account and run labels), with the pipeline's parameters
  overlaid with the monitor's ``retrainParameters``. Before that it lists the pipeline's runs in the
  target (by its run labels) that are queued, pending or running, and starts none if there is one: at
  most one run per pipeline at a time, however often the monitor fires. It follows the list's page
  tokens until a page holds a run or none is left, since a page may hold fewer runs than asked, even
  none. A message of an incident that closed starts nothing.

The trigger and the workflow run as the monitor's own Google account, which may receive events
(``roles/eventarc.eventReceiver``) and execute workflows (``roles/workflows.invoker``: Workflows
grants it on the project only) on the project, create PipelineJobs (``roles/aiplatform.user``) and act
as the accounts of the pipelines it retrains (``roles/iam.serviceAccountUser`` on each). The spec
is inline, so the workflow reads no template object. The workflow's source holds the specs: Workflows
takes at most 128 KB of source, which :func:`oversize_workflows` checks of the compiled graph (E408).

Pipelines on Kubeflow Pipelines in the cluster, which Google Cloud's managed services do not reach:
the cluster pulls instead. The topic gets a pull subscription of the monitor's own, with dead letters
of its own (:mod:`mlopsctl.compiler.retrain_subscriptions`), which the cluster's retrain receiver
consumes (:mod:`mlopsctl.compiler.alert_receiver`, given :func:`subscriptions`): it starts the runs as
it does for an SLO alert on GKE, one per pipeline at a time.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

from mlopsctl.compiler import vertex_pipelines
from mlopsctl.compiler.alerting import NOTIFICATION_CHANNEL
from mlopsctl.compiler.apis import service_agent
from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.iam import PROJECT_IAM_MEMBER
from mlopsctl.compiler.identity import WorkloadAccount, google_account, identity_of
from mlopsctl.compiler.kms import default_key
from mlopsctl.compiler.retrain_subscriptions import (
    PUBLISHER,
    SUBSCRIPTION,
    TOPIC,
    TOPIC_IAM_MEMBER,
    pull_subscription,
)
from mlopsctl.compiler.vertex_pipelines import BUCKET_OBJECT, grant_act_as, run_labels
from mlopsctl.compiler.vertex_tracking import grant_aiplatform_user
from mlopsctl.config.checks.parameters import retrained
from mlopsctl.config.diagnostics import Diagnostic
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.naming import gsa_account_id, region_short, shorten
from mlopsctl.config.sourcemap import Path
from mlopsctl.graph import JSON, Graph, address_of, fn_output
from mlopsctl.io.yamlio import dump_yaml

TRIGGER = "gcp:eventarc/trigger:Trigger"
WORKFLOW = "gcp:workflows/workflow:Workflow"
EVENT_RECEIVER = "roles/eventarc.eventReceiver"
WORKFLOWS_INVOKER = "roles/workflows.invoker"
MESSAGE_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
ACTIVE_STATES = ("PIPELINE_STATE_QUEUED", "PIPELINE_STATE_PENDING", "PIPELINE_STATE_RUNNING")
"""The states of a run that is not over yet: while one is, the workflow starts no other."""
DECODED = "${json.decode(base64.decode(event.data.message.data))}"
"""The JSON that Cloud Monitoring published: an incident of an alert policy, or Model Monitoring's
notification."""
STATE = '${map.get(message, ["incident", "state"])}'
"""``open`` or ``closed`` for an incident; null for a notification that is none."""
NAME_LIMIT = 63
"""Workflow and Eventarc trigger names: letters, digits, '-' and '_', at most 63 characters here."""
SOURCE_LIMIT = 128 * 1024
"""Bytes of source (UTF-8) a Cloud Workflows workflow may have: "128 KB" (Workflows' quotas and limits,
and the API's ``Workflow.sourceContents``)."""


@dataclass(frozen=True)
class Chain:
    """The names of a retraining monitor's pieces: the topic's is unique per GCP project, which the regions
    of an environment (and several environments) may share."""

    name: str
    project: str
    region: str

    @property
    def topic(self) -> str:
        return f"projects/{self.project}/topics/{self.name}"

    @property
    def subscription(self) -> str:
        return f"projects/{self.project}/subscriptions/{self.name}"

    @property
    def workflow(self) -> str:
        return f"projects/{self.project}/locations/{self.region}/workflows/{self.name}"


def _graph_name(monitor: str) -> str:
    return f"monitor-{monitor}-retrain"


def retrain_channel(ctx: BuildContext, monitor: str) -> list[str]:
    """The address of the notification channel that starts ``monitor``'s retraining runs, if it has one."""
    if ctx.config.placement.monitors != "vertex" or not retrained(ctx.config, monitor):
        return []
    return [ctx.address(NOTIFICATION_CHANNEL, _graph_name(monitor))]


def build(ctx: BuildContext) -> None:
    for name in ctx.config.monitors:
        if retrain_channel(ctx, name):
            _chain(ctx, name)


def _chain_of(ctx: BuildContext, monitor: str) -> Chain:
    region = ctx.target.region
    name = f"{ctx.config.project.name}-{ctx.target.env}-{region_short(region)}-{_graph_name(monitor)}"
    return Chain(shorten(name, NAME_LIMIT), ctx.gcp_project, region)


def subscriptions(ctx: BuildContext) -> dict[str, tuple[str, str]]:
    """Monitor → (the name of its pull subscription, the subscription's address): the monitors on Vertex AI
    that retrain pipelines on Kubeflow Pipelines, whose alerts the cluster's retrain receiver pulls."""
    if ctx.config.placement.pipelines != "gke":
        return {}
    return {
        m: (_chain_of(ctx, m).subscription, ctx.address(SUBSCRIPTION, _graph_name(m)))
        for m in ctx.config.monitors
        if retrain_channel(ctx, m)
    }


def _chain(ctx: BuildContext, monitor: str) -> None:
    project, region = ctx.gcp_project, ctx.target.region
    key = _graph_name(monitor)
    chain = _chain_of(ctx, monitor)
    source: Path = ("monitors", monitor, "actions")
    labels = ctx.gcp_labels({"mlops-monitor": monitor})
    encryption, key_deps = default_key(ctx, "pubsub", "kmsKeyName")
    inputs: dict[str, JSON] = {"name": chain.name, "project": project, "labels": labels, **encryption}
    topic = ctx.add(TOPIC, key, inputs, source=source, depends_on=key_deps)
    agent = service_agent(ctx, "monitoring", source)  # its notification agent
    publisher = ctx.add(
        TOPIC_IAM_MEMBER,
        f"{key}-publisher",
        {"project": project, "topic": chain.name, "role": PUBLISHER, "member": fn_output(agent, "member")},
        source=source,
        depends_on=(topic.address, agent),
    )
    ctx.add(
        NOTIFICATION_CHANNEL,
        key,
        {
            "type": "pubsub",
            "project": project,
            "displayName": f"{ctx.config.project.name} {monitor} retraining ({ctx.target})",
            "description": f"Starts the runs that monitor '{monitor}' retrains, managed by mlopsctl.",
            "enabled": True,
            "labels": {"topic": chain.topic},
            "userLabels": labels,
        },
        source=source,
        depends_on=(topic.address, publisher.address),
    )
    if ctx.config.placement.pipelines == "gke":
        pull_subscription(ctx, key, chain.name, topic, labels, source)
        return
    email, grants = _account(ctx, monitor, source)
    workflow = ctx.add(
        WORKFLOW,
        key,
        {
            "name": chain.name,
            "project": project,
            "region": region,
            "description": f"Starts the runs that monitor '{monitor}' retrains (mlopsctl).",
            "serviceAccount": email,
            "sourceContents": workflow_source(ctx, monitor),
            "labels": labels,
            "deletionProtection": False,
        },
        source=source,
        depends_on=grants,
    )
    ctx.add(
        TRIGGER,
        key,
        {
            "name": chain.name,
            "project": project,
            "location": region,
            "matchingCriterias": [{"attribute": "type", "value": MESSAGE_PUBLISHED}],
            "transport": {"pubsub": {"topic": chain.topic}},
            "destination": {"workflow": chain.workflow},
            "serviceAccount": email,
            "labels": labels,
        },
        source=source,
        depends_on=(topic.address, workflow.address, *grants),
    )


def _account(ctx: BuildContext, monitor: str, source: Path) -> tuple[str, tuple[str, ...]]:
    """The monitor's Google account and the addresses of its grants."""
    who = identity_of(ctx, "monitor", monitor)
    account = google_account(
        ctx,
        WorkloadAccount(
            f"monitor-{monitor}",
            gsa_account_id("monitor", monitor, ctx.target),
            f"{monitor} retraining",
            f"Starts the runs that monitor '{monitor}' retrains (mlopsctl).",
        ),
        source=source,
    )
    member = f"serviceAccount:{who.gsa_email}"
    grants = [grant_aiplatform_user(ctx, who, source)]
    for role in (EVENT_RECEIVER, WORKFLOWS_INVOKER):
        name = f"{account.name}-{role.removeprefix('roles/').replace('.', '-').lower()}"
        inputs: dict[str, JSON] = {"project": ctx.gcp_project, "role": role, "member": member}
        grants.append(
            ctx.add(PROJECT_IAM_MEMBER, name, inputs, source=source, depends_on=(account.address,)).address
        )
    for pipeline in retrained(ctx.config, monitor):
        runs_as = identity_of(ctx, "pipeline", pipeline, ctx.config.pipelines[pipeline].service_account)
        grants.append(grant_act_as(ctx, who, runs_as, source))
    return who.gsa_email, tuple(dict.fromkeys(grants))


def pipeline_job(ctx: BuildContext, monitor: str, pipeline: str) -> dict[str, JSON]:
    """The PipelineJob that ``monitor`` starts of ``pipeline``: the schedule's body, with the monitor's
    ``retrainParameters`` over the pipeline's parameters."""
    overlay = ctx.config.monitors[monitor].actions.retrain_parameters  # none for an SLO monitor
    return vertex_pipelines.pipeline_job(
        ctx, pipeline, {**ctx.config.pipelines[pipeline].parameters, **overlay}
    )


def active_runs_filter(ctx: BuildContext, pipeline: str) -> str:
    """The Vertex AI list filter of ``pipeline``'s runs in the target that are not over."""
    terms = [f'labels.{key}="{value}"' for key, value in sorted(run_labels(ctx, pipeline).items())]
    states = " OR ".join(f'state="{state}"' for state in ACTIVE_STATES)
    return " AND ".join([*terms, f"({states})"])


_ENCODED = re.compile(r'\$\{json\.decode\(base64\.decode\("([A-Za-z0-9+/=]*)"\)\)\}')


def workflow_data(value: JSON) -> JSON:
    """``value`` as data in a workflow's source. Workflows evaluates ``${...}`` in every string, so a
    string holding ``${`` (a literal the config escaped as ``$${``) is written as an expression that
    decodes it: ``${json.decode(base64.decode("..."))}`` (:func:`data_of` reads it back)."""
    if isinstance(value, dict):
        return {k: workflow_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [workflow_data(v) for v in value]
    if isinstance(value, str) and "${" in value:
        encoded = base64.b64encode(json.dumps(value).encode()).decode()
        return f'${{json.decode(base64.decode("{encoded}"))}}'
    return value


def data_of(value: Any) -> Any:
    """The data :func:`workflow_data` wrote as ``value``."""
    if isinstance(value, dict):
        return {k: data_of(v) for k, v in value.items()}
    if isinstance(value, list):
        return [data_of(v) for v in value]
    found = _ENCODED.fullmatch(value) if isinstance(value, str) else None
    return json.loads(base64.b64decode(found[1])) if found else value


def workflow_source(ctx: BuildContext, monitor: str) -> str:
    """The workflow (YAML): skip a closed incident's message, then start each retrained pipeline once.

    ``start_once`` lists a page of one active run at most and, while a page holds none but names a next
    one, lists that page (the token starts empty: proto3 reads ``pageToken=`` as no token)."""
    region, project = ctx.target.region, ctx.gcp_project
    jobs = f"https://{region}-aiplatform.googleapis.com/v1/projects/{project}/locations/{region}/pipelineJobs"
    pipelines = retrained(ctx.config, monitor)
    starts: list[JSON] = [
        {
            f"start_{index}": {
                "call": "start_once",
                "args": {
                    "filter": active_runs_filter(ctx, pipeline),
                    "job": workflow_data(pipeline_job(ctx, monitor, pipeline)),
                },
                "result": f"run_{index}",
            }
        }
        for index, pipeline in enumerate(pipelines)
    ]
    workflow: dict[str, JSON] = {
        "main": {
            "params": ["event"],
            "steps": [
                {
                    "read": {
                        "try": {"steps": [{"decode": {"assign": [{"message": DECODED}, {"state": STATE}]}}]},
                        "except": {"as": "error", "steps": [{"unread": {"assign": [{"state": None}]}}]},
                    }
                },
                {"closed": {"switch": [{"condition": '${state == "closed"}', "return": "incident closed"}]}},
                *starts,
                {"done": {"return": {pipeline: f"${{run_{i}}}" for i, pipeline in enumerate(pipelines)}}},
            ],
        },
        "start_once": {
            "params": ["filter", "job"],
            "steps": [
                {"first": {"assign": [{"token": ""}]}},
                {
                    "look": {
                        "call": "http.get",
                        "args": {
                            "url": jobs,
                            "auth": {"type": "OAuth2"},
                            "query": {"filter": "${filter}", "pageSize": 1, "pageToken": "${token}"},
                        },
                        "result": "active",
                    }
                },
                {
                    "busy": {
                        "switch": [
                            {"condition": '${"pipelineJobs" in active.body}', "return": "already running"}
                        ]
                    }
                },
                {"more": {"assign": [{"token": '${map.get(active.body, "nextPageToken")}'}]}},
                {"again": {"switch": [{"condition": '${token != null and token != ""}', "next": "look"}]}},
                {
                    "start": {
                        "call": "http.post",
                        "args": {"url": jobs, "auth": {"type": "OAuth2"}, "body": "${job}"},
                        "result": "started",
                    }
                },
                {"started": {"return": "${started.body.name}"}},
            ],
        },
    }
    return dump_yaml(workflow)


def oversize_workflows(graph: Graph, config: MLOpsConfig) -> list[Diagnostic]:
    """E408 for each retraining workflow of ``graph`` whose source is over :data:`SOURCE_LIMIT`, at its
    monitor's ``actions`` (to be placed in mlops.yaml by the caller), before anything is applied: Workflows
    would refuse it at apply, after the rest of the chain was created."""
    found = []
    for workflow in graph.of_type(WORKFLOW):
        size = len(str(workflow.inputs["sourceContents"]).encode())
        if size <= SOURCE_LIMIT:
            continue
        monitor = str(workflow.source[1])
        specs = {
            pipeline: len(str(template.inputs["content"]).encode())
            for pipeline in retrained(config, monitor)
            if (
                template := graph.resources.get(
                    address_of(graph.target, BUCKET_OBJECT, f"pipeline-{pipeline}")
                )
            )
        }
        listed = ", ".join(f"'{p}' ({n:,} bytes)" for p, n in sorted(specs.items(), key=lambda i: -i[1]))
        found.append(
            Diagnostic(
                "E408",
                f"the workflow that starts the runs monitor '{monitor}' retrains is {size:,} bytes, over the "
                f"{SOURCE_LIMIT:,} (128 KB) Cloud Workflows accepts: it holds the spec of each pipeline "
                f"inline: {listed}",
                path=workflow.source,
                hint="retrain fewer pipelines from this monitor (give the others a monitor of their own, "
                "through actions.retrain or a pipeline's triggers), or make the largest pipeline smaller",
                address=workflow.address,
            )
        )
    return found
