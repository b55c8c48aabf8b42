"""The Google Cloud APIs a target's resources need: enabled in its project before them.

A new project has most APIs off, and creating a resource of a disabled API fails. This
last step adds one ``Service`` per API the graph uses (and Vertex AI's where pipelines run on
it: their runs are PipelineJobs, though no resource of the graph is one); the Pulumi program
makes each resource wait for its API's (the dependency follows from the type token, as
Kubernetes objects waiting for the cluster do). Disabling is never done on destroy: other
workloads of the project may use the API. Enabling APIs needs the Service Usage API, which
is on in new projects.
"""

from __future__ import annotations

from mlopsctl.compiler.context import BuildContext
from mlopsctl.config.sourcemap import Path

SERVICE = "gcp:projects/service:Service"
SERVICE_IDENTITY = "gcp:projects/serviceIdentity:ServiceIdentity"
APIS = {
    "artifactregistry": "artifactregistry.googleapis.com",
    "bigquery": "bigquery.googleapis.com",
    "cloudrunv2": "run.googleapis.com",
    "cloudscheduler": "cloudscheduler.googleapis.com",
    "compute": "compute.googleapis.com",
    "eventarc": "eventarc.googleapis.com",
    "container": "container.googleapis.com",
    "gkehub": "gkehub.googleapis.com",
    "kms": "cloudkms.googleapis.com",
    "monitoring": "monitoring.googleapis.com",
    "projects": "cloudresourcemanager.googleapis.com",
    "pubsub": "pubsub.googleapis.com",
    "secretmanager": "secretmanager.googleapis.com",
    "serviceaccount": "iam.googleapis.com",
    "storage": "storage.googleapis.com",
    "vertex": "aiplatform.googleapis.com",
    "workflows": "workflows.googleapis.com",
}
"""The API behind each pulumi-gcp module the build emits."""


def api_of(type_token: str) -> str | None:
    """``gcp:container/cluster:Cluster`` → ``container.googleapis.com`` (and mlopsctl's own Vertex AI
    resources, ``mlopsctl:vertex/...``, → ``aiplatform.googleapis.com``); None for other tokens."""
    if type_token == SERVICE or not type_token.startswith(("gcp:", "mlopsctl:")):
        return None
    return APIS.get(type_token.split(":")[1].split("/")[0])


def service_agent(ctx: BuildContext, api: str, source: Path) -> str:
    """The address of the project's service agent of ``api`` (a key of ``APIS``): a ServiceIdentity,
    added once, which creates the agent if the API has not yet (it may do so only on first use).
    Grants to the agent take its ``member`` output, and so wait for it: IAM refuses a grant to an
    account that does not exist. Agents are never named from the project number instead, since
    nothing would make them exist. The agent is the one Service Usage reports for the API, which is
    not always ``gcp-sa-<api>``: for ``monitoring`` it is Cloud Monitoring's notification agent,
    ``service-NUMBER@gcp-sa-monitoring-notification.iam.gserviceaccount.com``."""
    service = APIS[api]
    name = service.removesuffix(".googleapis.com")
    address = ctx.address(SERVICE_IDENTITY, name)
    if address not in ctx.graph.resources:
        inputs = {"project": ctx.gcp_project, "service": service}
        ctx.add(SERVICE_IDENTITY, name, inputs, source=source, depends_on=(ctx.address(SERVICE, name),))
    return address


EXTRA = {
    "gcp:gkehub/featureMembership:FeatureMembership": "mesh.googleapis.com",
    "gcp:workflows/workflow:Workflow": "workflowexecutions.googleapis.com",
}
"""APIs a resource needs beyond its module's (Cloud Service Mesh runs on the Mesh API; a workflow's
executions, which Eventarc triggers start, on the Workflow Executions API)."""


def build(ctx: BuildContext) -> None:
    used = {api for r in ctx.graph if (api := api_of(r.type)) is not None}
    used |= {EXTRA[r.type] for r in ctx.graph if r.type in EXTRA}
    if ctx.config.placement.pipelines == "vertex" and ctx.config.pipelines:
        used.add(APIS["vertex"])
    for api in sorted(used):
        ctx.add(
            SERVICE,
            api.removesuffix(".googleapis.com"),
            {
                "project": ctx.gcp_project,
                "service": api,
                "disableOnDestroy": False,
                "disableDependentServices": False,
            },
            source=("environments", ctx.target.env, "gcpProject"),
        )
