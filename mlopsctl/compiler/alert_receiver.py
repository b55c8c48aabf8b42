"""The receiver of retraining alerts in the cluster: what turns a breach into a pipeline run.

Its alerts come from two sources. An SLO monitor on GKE is an alerting rule
(:mod:`mlopsctl.compiler.monitoring`) whose alerts carry ``monitor``, ``retrain_pipeline`` and
``namespace``, sent by an Alertmanager. A monitor on Vertex AI that retrains pipelines on Kubeflow
Pipelines notifies a Pub/Sub topic with a pull subscription of its own
(:mod:`mlopsctl.compiler.vertex_retrain`), which the receiver pulls. When any such monitor of the
target retrains, this step adds, in the project's namespace:

- a Deployment (one replica, on a CPU pool) running ``mlopsctl-stage retrain-receiver --config JSON``
  (``project.stageImage``), whose config maps each monitor and pipeline to the ``start-run`` config
  a drift monitor would use (docs/stages.md), and each subscription to its monitor;
- its own account: on Kubeflow Pipelines a Kubernetes account allowed the KFP calls that starting and
  listing runs take (``POLL_RULES``: it starts none while one is pending or running), with a projected
  token for the KFP audience; on Vertex AI a Google account (Workload Identity) with what a drift
  monitor's gets to create PipelineJobs as each pipeline's account. To pull, it is a Google account
  (Workload Identity) too, ``roles/pubsub.subscriber`` on each subscription and nothing more;
- a NetworkPolicy of its pod's ingress (:mod:`mlopsctl.compiler.receiver_network`): only the
  Alertmanager below may connect, to the webhook port; nothing when no alert is routed to it.

For Alertmanager's alerts, also:

- its Service;
- the route from the Alertmanager that the rule evaluator sends to: in-cluster an ``AlertmanagerConfig``
  that kube-prometheus-stack's Alertmanager selects (``release`` label, ``mlopsctl/data/addons.json``);
  managed, the configuration Secret of GMP's managed Alertmanager (``alertmanager`` in ``gmp-public``),
  which mlopsctl owns as it owns the cluster. Both send the alerts with a ``retrain_pipeline`` label of
  the namespace to the receiver, one notification per ``[namespace, retrain_pipeline]`` group;
- the mesh's door: Alertmanagers run outside the mesh, so the receiver's port also accepts plain text,
  where only POSTs to its webhook path are admitted, and only from the Alertmanager's pods (the
  NetworkPolicy above: plain text has no identity for the mesh to check).
"""

from __future__ import annotations

import json

from mlopsctl.compiler import rbac
from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.identity import NAMESPACE, Identity, WorkloadAccount, identity_of, workload_identity
from mlopsctl.compiler.kfp_dag import STAGE_PROGRAM
from mlopsctl.compiler.metrics import KUBE_PROMETHEUS_LABELS
from mlopsctl.compiler.pipelines import cpu_pool
from mlopsctl.compiler.pods import (
    HEALTH_PROBES,
    KFP_CLIENT_VOLUME,
    KFP_TOKEN_DIR,
    NO_API_TOKEN,
    RESTRICTED_CONTAINER,
    RESTRICTED_POD,
    placement,
    pod_placement,
)
from mlopsctl.compiler.receiver_network import admit_alertmanager
from mlopsctl.compiler.schedules import POLL_RULES, RUN_STEP_RULES
from mlopsctl.config.naming import namespace, region_short, shorten
from mlopsctl.config.sourcemap import Path
from mlopsctl.graph import JSON

NAME = "retrain-receiver"
PORT = 8080
PATH = "/alerts"
RESOURCES: dict[str, JSON] = {"requests": {"cpu": "50m", "memory": "192Mi"}, "limits": {"memory": "384Mi"}}
"""An idle web server that makes a few API calls per alert (the Vertex AI client is the larger)."""
GROUP_BY = ["namespace", "retrain_pipeline"]
TIMING = {"group_wait": "30s", "group_interval": "5m", "repeat_interval": "3h"}
"""An alert group is sent 30s after it starts firing and again every 3h while it fires: a breach that
outlives the run it started retrains again (the receiver starts none while one is not over)."""
GMP_NAMESPACE = "gmp-public"
GMP_CONFIG_SECRET = "alertmanager"
"""The Secret (key ``alertmanager.yaml``) GMP's OperatorConfig names by default for its Alertmanager."""
RETRAIN_LABEL = "retrain_pipeline"
ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
SUBSCRIPTION_IAM_MEMBER = "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember"
SUBSCRIBER = "roles/pubsub.subscriber"
Retrains = dict[str, dict[str, tuple[dict[str, JSON], str]]]
"""Monitor → pipeline → (its ``start-run`` config, the address of what it runs)."""
Pulled = dict[str, tuple[str, str]]
"""Monitor → (the name of the subscription it notifies, ``projects/P/subscriptions/S``; its address)."""


def receiver_account(ctx: BuildContext) -> tuple[str, str]:
    """The receiver's Kubernetes account and Google account id, named for the target (clusters of one
    project share a Workload Identity pool)."""
    suffix = f"{ctx.target.env}-{region_short(ctx.target.region)}"
    return shorten(f"{NAME}-{suffix}", 63), shorten(f"{NAME}-{suffix}", 30)


def build(ctx: BuildContext, retrains: Retrains, pulled: Pulled | None = None) -> None:
    """The receiver of ``retrains``, its account, and the route from Alertmanager to it for those not
    ``pulled`` from Pub/Sub (nothing when no monitor retrains)."""
    if not retrains:
        return
    pulled = pulled or {}
    ns = namespace(ctx.config)
    first = sorted(retrains)[0]
    source: Path = ("monitors", first, "actions")
    labels = {**ctx.k8s_labels("monitoring"), "app.kubernetes.io/name": NAME}
    selector = {"app.kubernetes.io/name": NAME}
    on_kfp = ctx.config.placement.pipelines == "gke"
    depends = [ctx.address(NAMESPACE, ns), *(a for p in retrains.values() for _, a in p.values())]
    pipelines = sorted({p for m in retrains.values() for p in m})
    ksa = _account(ctx, ns, on_kfp, pipelines, pulled, source, depends)
    config: dict[str, JSON] = {
        "namespace": ns,
        "retrain": {
            m: {p: entry for p, (entry, _) in sorted(ps.items())} for m, ps in sorted(retrains.items())
        },
    }
    if pulled:
        config["subscriptions"] = {name: m for m, (name, _) in sorted(pulled.items())}
    deployment = ctx.add_manifest(
        "deployment",
        source=source,
        depends_on=tuple(depends),
        name=NAME,
        namespace=ns,
        labels=labels,
        selector=selector,
        pod_labels=labels,
        pod_annotations={},
        pod_spec=_pod(ctx, ksa, json.dumps(config, sort_keys=True), on_kfp),
    )
    webhook = not set(retrains) <= set(pulled)
    admit_alertmanager(ctx, NAME, ns, labels, selector, source, PORT if webhook else None)
    if not webhook:
        return
    ctx.add_manifest(
        "service",
        source=source,
        depends_on=(deployment.address,),
        name=NAME,
        namespace=ns,
        labels=labels,
        spec={"selector": selector, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    )
    _mesh_door(ctx, ns, labels, selector, source)
    _route(ctx, ns, f"http://{NAME}.{ns}.svc.cluster.local{PATH}", source)


def _account(
    ctx: BuildContext,
    ns: str,
    on_kfp: bool,
    pipelines: list[str],
    pulled: Pulled,
    source: Path,
    depends: list[str],
) -> str:
    """The receiver's Kubernetes account with what it needs; adds what the Deployment waits for."""
    ksa, account_id = receiver_account(ctx)
    ns_address = ctx.address(NAMESPACE, ns)
    if not on_kfp or pulled:
        from mlopsctl.compiler.monitoring import vertex_grants  # which imports this module

        does = (
            f"Starts the runs that SLO alerts of {ctx.config.project.name} retrain on Vertex AI."
            if not on_kfp
            else f"Pulls the retraining alerts of {ctx.config.project.name}'s monitors on Vertex AI."
        )
        title = f"mlopsctl retrain receiver ({ctx.target.env}/{ctx.target.region})"
        gsa, kubernetes_account, binding = workload_identity(
            ctx,
            WorkloadAccount(NAME, account_id, title, does),
            ns,
            ksa,
            source=source,
            component="monitoring",
            depends_on=(ns_address,),
        )
        who = Identity(ksa, f"{account_id}@{ctx.gcp_project}.iam.gserviceaccount.com", gsa.address)
        depends += [kubernetes_account.address, binding.address]
        depends += [_subscriber(ctx, who, monitor, *pulled[monitor]) for monitor in sorted(pulled)]
        if not on_kfp:
            depends += vertex_grants(ctx, who, pipelines, source)
            return ksa
    else:
        account_object = ctx.add_manifest(
            "serviceaccount-principal",
            source=source,
            depends_on=(ns_address,),
            name=ksa,
            namespace=ns,
            labels=ctx.k8s_labels("monitoring"),
        )
        depends.append(account_object.address)
    depends.append(
        rbac.grant(ctx, f"{NAME}-runs", ksa, POLL_RULES, component="monitoring", source=source).address
    )
    for pipeline in pipelines:
        runs_as = identity_of(ctx, "pipeline", pipeline, ctx.config.pipelines[pipeline].service_account).ksa
        name = f"{runs_as}-run-steps"
        if ctx.address(ROLE_BINDING, shorten(name, 63)) not in ctx.graph.resources:
            step = rbac.grant(
                ctx, name, runs_as, RUN_STEP_RULES, component="pipeline", source=("pipelines", pipeline)
            )
            depends.append(step.address)
    return ksa


def _subscriber(ctx: BuildContext, who: Identity, monitor: str, subscription: str, address: str) -> str:
    """``roles/pubsub.subscriber`` for the receiver on the subscription of ``monitor`` only."""
    inputs: dict[str, JSON] = {
        "project": ctx.gcp_project,
        "subscription": subscription.rsplit("/", 1)[-1],
        "role": SUBSCRIBER,
        "member": f"serviceAccount:{who.gsa_email}",
    }
    source: Path = ("monitors", monitor, "actions")
    name = f"{NAME}-pubsub-subscriber-{monitor}"
    depends = (who.gsa_address, address)
    return ctx.add(SUBSCRIPTION_IAM_MEMBER, name, inputs, source=source, depends_on=depends).address


def _pod(ctx: BuildContext, ksa: str, config: str, on_kfp: bool) -> dict[str, JSON]:
    container: dict[str, JSON] = {
        "name": NAME,
        "image": ctx.config.project.stage_image,
        "command": [STAGE_PROGRAM, NAME],
        "args": ["--config", config, "--port", str(PORT)],
        "ports": [{"name": "http", "containerPort": PORT}],
        "resources": RESOURCES,
        **HEALTH_PROBES,
        "securityContext": RESTRICTED_CONTAINER,
    }
    spec: dict[str, JSON] = {
        "serviceAccountName": ksa,
        **NO_API_TOKEN,
        "securityContext": RESTRICTED_POD,
        "containers": [container],
        **pod_placement(placement(*cpu_pool(ctx.config, None), 0)),
    }
    if on_kfp:  # a token for the KFP API's audience (multi-user mode accepts no other)
        container["env"] = [{"name": "KF_PIPELINES_SA_TOKEN_PATH", "value": f"{KFP_TOKEN_DIR}/token"}]
        container["volumeMounts"] = [{"name": "kfp-token", "mountPath": KFP_TOKEN_DIR, "readOnly": True}]
        spec["volumes"] = [KFP_CLIENT_VOLUME]
    return spec


def _mesh_door(
    ctx: BuildContext, ns: str, labels: dict[str, str], selector: dict[str, str], source: Path
) -> None:
    """Plain text accepted on the receiver's port, where only POSTs to the webhook path are admitted:
    Alertmanagers run outside the mesh, and the receiver needs it to reach the KFP API."""
    values: dict[str, JSON] = {"namespace": ns, "labels": labels, "match_labels": selector}
    depends = (ctx.address(NAMESPACE, ns),)
    ctx.add_manifest(
        "peerauthentication-ports",
        source=source,
        depends_on=depends,
        name=NAME,
        mode=ctx.config.security.mtls,
        port=PORT,
        **values,
    )
    operation: dict[str, JSON] = {"methods": ["POST"], "paths": [PATH], "ports": [str(PORT)]}
    ctx.add_manifest(
        "authorizationpolicy",
        source=source,
        depends_on=depends,
        name=NAME,
        action="ALLOW",
        rules=[{"to": [{"operation": operation}]}],
        **values,
    )


def _route(ctx: BuildContext, ns: str, url: str, source: Path) -> None:
    """What sends the namespace's alerts that name a pipeline to retrain to ``url``."""
    values: dict[str, JSON] = {"receiver": f"{NAME}-{ns}", "url": url, "group_by": GROUP_BY, **TIMING}
    if ctx.config.platform.metrics == "in-cluster":
        ctx.add_manifest(
            "alertmanagerconfig",
            source=source,
            depends_on=(ctx.address(NAMESPACE, ns),),
            name=NAME,
            namespace=ns,
            labels={**ctx.k8s_labels("monitoring"), **KUBE_PROMETHEUS_LABELS},
            matchers=[{"name": RETRAIN_LABEL, "matchType": "=~", "value": ".+"}],
            **values,
        )
        return
    route: dict[str, JSON] = {
        "receiver": values["receiver"],
        "matchers": [f'namespace="{ns}"', f'{RETRAIN_LABEL}=~".+"'],
        "group_by": GROUP_BY,
        **TIMING,
    }
    config: dict[str, JSON] = {
        "route": {"receiver": "null", "routes": [route]},
        "receivers": [
            {"name": "null"},
            {"name": values["receiver"], "webhook_configs": [{"url": url, "send_resolved": False}]},
        ],
    }
    ctx.add_manifest(
        "alertmanager-secret",
        source=source,
        graph_name="gmp-alertmanager",
        name=GMP_CONFIG_SECRET,
        namespace=GMP_NAMESPACE,
        labels=ctx.k8s_labels("monitoring"),
        config=json.dumps(config, indent=2, sort_keys=True),
    )
