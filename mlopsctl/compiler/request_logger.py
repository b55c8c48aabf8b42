"""The request logger of an endpoint: a small Deployment and Service that receive
KServe's logger CloudEvents and write them to BigQuery.

It runs ``mlopsctl-stage request-logger --config JSON --port 8080`` (``project.stageImage``)
as its endpoint's identity, where the config holds:

- ``table``: ``<gcp project>.<dataset id>.<table>``, the table to append to;
- ``samplingRate``: the fraction of requests to keep (KServe's logger sends all);
- ``endpoint``: the endpoint's name;
- ``batchSize``, ``flushSeconds``: rows are appended in batches of at most this many,
  at least this often;
- ``maxPending``: requests waiting for their response (or for a flush) beyond which
  the oldest are dropped, so a stalled table never exhausts the logger's memory.

The stage listens for CloudEvents (HTTP binary mode) on port 8080 and pairs each
request with its response by the ``ce-id`` they share; the InferenceService that
served it is the ``ce-inferenceservicename`` extension.

An Istio AuthorizationPolicy admits only what KServe's logger agent sends: POSTs to
that port from the predictor pods' mesh identity (the endpoint's service account,
which every InferenceService of the endpoint runs as). Nothing else in the namespace
can write rows into the endpoint's log.
"""

from __future__ import annotations

import json

from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.identity import Identity
from mlopsctl.compiler.istio import admit_only, principal
from mlopsctl.compiler.kfp_dag import STAGE_PROGRAM
from mlopsctl.compiler.metrics import scrape_annotations
from mlopsctl.compiler.pods import HEALTH_PROBES, NO_API_TOKEN, RESTRICTED_CONTAINER, RESTRICTED_POD
from mlopsctl.config.models.serving import RequestLogging
from mlopsctl.config.naming import dataset_id, namespace, request_log_table, shorten
from mlopsctl.graph import JSON

PORT = 8080
RESOURCES = {"cpu": "100m", "memory": "256Mi"}
BATCH_SIZE = 500
"""Rows per streaming insert (BigQuery recommends at most 500)."""
FLUSH_SECONDS = 5
MAX_PENDING = 10_000


def add_request_logger(
    ctx: BuildContext,
    endpoint: str,
    logging: RequestLogging,
    who: Identity,
    depends_on: tuple[str, ...],
    served: dict[str, tuple[str, str]],
) -> str:
    """Adds the logger's Deployment and Service; returns the URL KServe's logger posts to.

    ``served`` maps each InferenceService of the endpoint to the (model, version) it serves,
    so that every row names the model version that answered.
    """
    name = shorten(f"{endpoint}-request-logger", 63)
    ns = namespace(ctx.config)
    source = ("endpoints", endpoint, "logging")
    labels = {**ctx.k8s_labels("request-logger"), "mlopsctl.dev/endpoint": endpoint}
    selector = {"app.kubernetes.io/name": name}
    image = ctx.config.project.stage_image
    dataset = dataset_id(ctx.target, logging.dataset, ctx.config.data.datasets[logging.dataset])
    config: dict[str, JSON] = {
        "table": f"{ctx.gcp_project}.{dataset}.{request_log_table(endpoint, logging.table)}",
        "samplingRate": logging.sampling_rate,
        "endpoint": endpoint,
        "batchSize": BATCH_SIZE,
        "flushSeconds": FLUSH_SECONDS,
        "maxPending": MAX_PENDING,
        "variants": {isvc: {"model": m, "version": v} for isvc, (m, v) in sorted(served.items())},
    }
    container: dict[str, JSON] = {
        "name": "request-logger",
        "image": image,
        "command": [STAGE_PROGRAM, "request-logger"],
        "args": ["--config", json.dumps(config, sort_keys=True), "--port", str(PORT)],
        "ports": [{"name": "http", "containerPort": PORT}],
        "resources": {"requests": RESOURCES, "limits": RESOURCES},
        **HEALTH_PROBES,
        "securityContext": RESTRICTED_CONTAINER,
    }
    deployment = ctx.add_manifest(
        "deployment",
        source=source,
        depends_on=depends_on,
        name=name,
        namespace=ns,
        labels=labels,
        selector=selector,
        pod_labels={**labels, **selector},
        pod_annotations=scrape_annotations("request-logger"),
        pod_spec={
            "serviceAccountName": who.ksa,
            **NO_API_TOKEN,
            "securityContext": RESTRICTED_POD,
            "containers": [container],
        },
    )
    ctx.add_manifest(
        "service",
        source=source,
        depends_on=(*depends_on, deployment.address),
        name=name,
        namespace=ns,
        labels=labels,
        spec={"selector": selector, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
    )

    def add(template: str, object_name: str, **values: JSON) -> object:
        return ctx.add_manifest(
            template,
            source=source,
            depends_on=depends_on,
            name=object_name,
            namespace=ns,
            labels=labels,
            **values,
        )

    admit_only(add, name, selector, logger_rules(ctx.config.security.trust_domain, f"{ns}/{who.ksa}"))
    return f"http://{name}.{ns}.svc.cluster.local"


def logger_rules(trust_domain: str, predictors_account: str) -> list[JSON]:
    """The one ALLOW rule of a request logger: KServe's agent POSTing CloudEvents from the
    predictor pods (``predictors_account`` is their ``namespace/name``) to the logger's port."""
    return [
        {
            "from": [{"source": {"principals": [principal(trust_domain, predictors_account)]}}],
            "to": [{"operation": {"methods": ["POST"], "ports": [str(PORT)]}}],
        }
    ]
