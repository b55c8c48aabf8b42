"""Who may connect to the retrain receiver's pod: a NetworkPolicy of its ingress.

The receiver's webhook port accepts plain text, which carries no identity for the mesh's
AuthorizationPolicy to check (:mod:`mlopsctl.compiler.alert_receiver`). Clusters mlopsctl creates run
GKE Dataplane V2 (:mod:`mlopsctl.compiler.cluster`), which enforces Kubernetes NetworkPolicy, so the
pod also gets one (``policyTypes: [Ingress]``: egress stays open for the KFP, Vertex AI and Pub/Sub
APIs it calls) that admits, on the webhook port only, the pods of the Alertmanager that routes to
it, selected by namespace (``kubernetes.io/metadata.name``, which Kubernetes sets on every namespace)
and pod labels:

- ``platform.metrics: in-cluster``: kube-prometheus-stack's Alertmanager, in the add-on's namespace
  (``mlopsctl/data/addons.json``), whose pods prometheus-operator labels
  ``app.kubernetes.io/name: alertmanager`` and ``app.kubernetes.io/managed-by: prometheus-operator``
  (the StatefulSet's selector labels, which it sets after the Alertmanager's ``podMetadata``; v0.93.0);
- ``managed``: GMP's managed Alertmanager, the StatefulSet ``alertmanager`` in the add-on's
  namespace ``gmp-system``, whose pods are labelled ``app: managed-prometheus-alertmanager`` and
  ``app.kubernetes.io/name: alertmanager`` (its immutable selector, prometheus-engine
  ``manifests/operator.yaml``).

When no alert is routed to the receiver (it only pulls Pub/Sub) the policy admits nothing.

Nothing else is admitted, because nothing else needs to connect:

- probes: Istio rewrites the HTTP probes to its agent on port 15020 and the sidecar's own readiness
  probe is on 15021; the kubelet sends them from the pod's node, and traffic from a pod's own node is
  always allowed by NetworkPolicy (Kubernetes' NetworkPolicy documentation), which Dataplane V2's
  Cilium implements by admitting the local host to its endpoints (``--allow-localhost``);
- the mesh: a sidecar dials istiod for its configuration and certificates; nothing dials the pod;
- metrics: mlopsctl's collectors (:mod:`mlopsctl.compiler.metrics`) scrape the sidecars of endpoint
  pods and of the ingress gateway only, and neither kube-prometheus-stack (with the add-on's values)
  nor GMP scrapes the ``prometheus.io`` annotations Istio adds, so nothing scrapes 15020 or 15090 here.
  A collector that selects the receiver would need its own peer in this policy.
"""

from __future__ import annotations

from typing import Literal

from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.identity import NAMESPACE
from mlopsctl.config.addons import catalog
from mlopsctl.config.sourcemap import Path
from mlopsctl.graph import JSON, Resource

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
ALERTMANAGERS: dict[Literal["managed", "in-cluster"], tuple[str, dict[str, str]]] = {
    "in-cluster": (
        "kube-prometheus-stack",
        {"app.kubernetes.io/name": "alertmanager", "app.kubernetes.io/managed-by": "prometheus-operator"},
    ),
    "managed": (
        "google-managed-prometheus",
        {"app": "managed-prometheus-alertmanager", "app.kubernetes.io/name": "alertmanager"},
    ),
}
"""``platform.metrics`` → the add-on whose Alertmanager sends the alerts, and its pods' labels."""


def alertmanager_peer(metrics: Literal["managed", "in-cluster"]) -> dict[str, JSON]:
    """The NetworkPolicy peer of the pods of the Alertmanager of ``metrics``."""
    addon, pod_labels = ALERTMANAGERS[metrics]
    namespace: dict[str, JSON] = {NAMESPACE_NAME_LABEL: catalog().addons[addon].namespace}
    return {"namespaceSelector": {"matchLabels": namespace}, "podSelector": {"matchLabels": {**pod_labels}}}


def admit_alertmanager(
    ctx: BuildContext,
    name: str,
    ns: str,
    labels: dict[str, str],
    selector: dict[str, str],
    source: Path,
    port: int | None,
) -> Resource:
    """The NetworkPolicy ``name`` of the pods ``selector`` selects: ``port`` open to the target's
    Alertmanager only, or (``port`` None) no ingress at all."""
    ingress: list[JSON] = []
    if port is not None:
        peer = alertmanager_peer(ctx.config.platform.metrics)
        ingress.append({"from": [peer], "ports": [{"protocol": "TCP", "port": port}]})
    return ctx.add_manifest(
        "networkpolicy-ingress",
        source=source,
        depends_on=(ctx.address(NAMESPACE, ns),),
        name=name,
        namespace=ns,
        labels=labels,
        match_labels=selector,
        ingress=ingress,
    )
