"""The platform: the cluster add-ons this target's workloads need, and only those, each one graph
resource installing upstream's own package at an exact version.

What a workload needs is read from the graph itself, so nothing is declared twice: the kinds of
the objects it holds (an InferenceService needs KServe, a Canary Flagger) and the kinds its
launchers create at run time, as their RBAC grants them (a Role that may create PyTorchJobs needs
the Training Operator). Each add-on brings the add-ons it requires. An add-on that GKE provides
under the config's ``platform`` choice (Cloud Service Mesh, Managed Prometheus, the Secret Manager
add-on) is left out.

A Helm chart becomes a pulumi-kubernetes Helm ``Release``; a kustomization (what Kubeflow ships)
a kustomize ``Directory`` of the upstream repository at the release tag. The GitOps view turns
either into an Argo CD Application (``mlopsctl.output.argocd``).

A target whose sections all run on Vertex AI has no cluster, hence no add-ons. What ``mlopsctl
platform`` reports of a target also names the Google-managed services its graph uses in their
place (:data:`MANAGED_SERVICES`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.metrics import prometheus_url
from mlopsctl.compiler.vertex_tracking import logs_runs
from mlopsctl.config.addons import AddOn, AddOnUse, catalog, kind_keys
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.naming import cluster_name
from mlopsctl.config.sourcemap import Path, format_path
from mlopsctl.config.target import Target
from mlopsctl.graph import HELM_RELEASE, JSON, KUSTOMIZE_DIRECTORY, Graph, Resource, as_list, as_mapping

RBAC_KINDS = frozenset({"Role", "ClusterRole"})
FEATURE = "gcp:gkehub/feature:Feature"
FEATURE_MEMBERSHIP = "gcp:gkehub/featureMembership:FeatureMembership"
CLUSTER = "gcp:container/cluster:Cluster"
STARTS_AFTER: dict[str, tuple[str, ...]] = {"kserve": ("keda",)}
"""Add-on → add-ons it does not require but must start after when the cluster has them: its
controller looks for their CRDs once, at start, and watches their objects only if found then.
KServe owns the ScaledObjects it makes for KEDA autoscaling, and watches them, only if KEDA's CRD
was served when it started; the Pulumi program would otherwise install both at once."""
GATEWAY = "istio-ingressgateway"
INTERNAL_LOAD_BALANCER = {"networking.gke.io/load-balancer-type": "Internal"}
"""The Service annotation by which GKE gives a LoadBalancer Service an internal passthrough Network
Load Balancer (an address of the VPC network) instead of a public IP address."""


@dataclass
class Need:
    """Why an add-on is needed: the workloads (config paths) or add-ons that need it; whether GKE
    provides it under the config's ``platform`` choice (then nothing is installed)."""

    by: dict[str, None] = field(default_factory=dict)
    source: Path = ()
    managed: bool = False


def build(ctx: BuildContext) -> None:
    if not ctx.config.needs_cluster:
        return
    _check_rules(ctx)
    needs = platform_needs(ctx.graph, ctx.config)
    _managed_mesh(ctx, needs)
    addons = catalog().addons
    for name, need in needs.items():
        if need.managed:
            continue
        addon = addons[name]
        version = {str(k): v for k, v in ctx.config.platform.versions.items()}.get(name, addon.version)
        requires = tuple(a for a in _after(addon) if a in needs and not needs[a].managed)
        ctx.add(
            _type(addon),
            name,
            install_inputs(addon, version, _values(addon, ctx.config)),
            source=need.source,
            depends_on=tuple(ctx.address(_type(addons[r]), r) for r in requires),
        )


def _managed_mesh(ctx: BuildContext, needs: Mapping[str, Need]) -> None:
    """Cloud Service Mesh for a cluster registered to its project's fleet (the cluster's ``fleet``
    input): the fleet's ``servicemesh`` feature, created by the first environment/region of the
    project (a feature exists once per fleet), and this cluster's membership in it, managed."""
    need = needs.get("istiod")
    if need is None or not need.managed:
        return
    first = next(
        Target(env, region)
        for env, spec in ctx.config.environments.items()
        for region in spec.regions
        if spec.gcp_project == ctx.gcp_project
    )
    source: Path = ("platform", "mesh")
    depends: tuple[str, ...] = ()
    if first == ctx.target:
        feature = ctx.add(
            FEATURE,
            "servicemesh",
            {"project": ctx.gcp_project, "location": "global", "name": "servicemesh"},
            source=source,
        )
        depends = (feature.address,)
    cluster = cluster_name(ctx.config, ctx.target)
    ctx.add(
        FEATURE_MEMBERSHIP,
        f"servicemesh-{cluster}",
        {
            "project": ctx.gcp_project,
            "location": "global",
            "feature": "servicemesh",
            "membership": cluster,
            "membershipLocation": ctx.target.region,
            "mesh": {"management": "MANAGEMENT_AUTOMATIC"},
        },
        source=source,
        depends_on=(*depends, ctx.address(CLUSTER, cluster)),
    )


def cluster_inputs(ctx: BuildContext) -> dict[str, JSON]:
    """What the cluster runs for the config's ``platform`` choices (docs/platform.md): Managed
    Prometheus collection (explicit: its default differs by GKE version), the fleet membership that
    Cloud Service Mesh manages, and the Secret Manager add-on's sync into Kubernetes Secrets."""
    platform = ctx.config.platform
    inputs: dict[str, JSON] = {
        "monitoringConfig": {
            "enableComponents": ["SYSTEM_COMPONENTS"],
            "managedPrometheus": {"enabled": platform.metrics == "managed"},
        }
    }
    if platform.mesh == "managed":
        inputs["fleet"] = {"project": ctx.gcp_project}
    if platform.secrets == "gke-addon":
        inputs["secretSyncConfig"] = {
            "enabled": True,
            "rotationConfig": {"enabled": True, "rotationInterval": "600s"},
        }
    return inputs


def platform_needs(graph: Graph, config: MLOpsConfig) -> dict[str, Need]:
    """Each add-on the graph's workloads need (with what needs it), in install order."""
    direct: dict[str, Need] = {}
    for resource in graph:
        for name in _needed_by(resource):
            need = direct.setdefault(name, Need(source=resource.source))
            need.by[format_path(resource.source) or resource.address] = None
    addons = catalog().addons
    found: dict[str, Need] = {}

    def add(name: str, need: Need) -> None:
        addon = addons[name]
        managed = _managed(addon, config)
        for required in () if managed else addon.requires:
            add(required, Need({f"add-on {name}": None}, need.source))
        found.setdefault(name, Need(source=need.source, managed=managed)).by.update(need.by)

    for name in sorted(direct):
        add(name, direct[name])
    return {name: found[name] for name in _install_order(found)}


PIPELINES_SERVICE = "Vertex AI Pipelines"
EXPERIMENTS_SERVICE = "Vertex AI Experiments"
"""Named for the steps that log runs (``tracking.experiments``) and the metadata store they log to."""
MANAGED_SERVICES = {
    "gcp:vertex/aiEndpoint:AiEndpoint": "Vertex AI endpoints",
    "mlopsctl:vertex/deployment:Deployment": "Vertex AI endpoints",
    "mlopsctl:vertex/modelVersion:ModelVersion": "Vertex AI Model Registry",
    "mlopsctl:vertex/modelMonitor:ModelMonitor": "Vertex AI Model Monitoring",
    "gcp:vertex/aiFeatureGroup:AiFeatureGroup": "Vertex AI Feature Store",
    "gcp:vertex/aiFeatureGroupFeature:AiFeatureGroupFeature": "Vertex AI Feature Store",
    "gcp:vertex/aiFeatureOnlineStore:AiFeatureOnlineStore": "Vertex AI Feature Store",
    "gcp:vertex/aiFeatureOnlineStoreFeatureview:AiFeatureOnlineStoreFeatureview": "Vertex AI Feature Store",
    "gcp:vertex/aiTensorboard:AiTensorboard": "Vertex AI TensorBoard",
    "gcp:vertex/aiMetadataStore:AiMetadataStore": EXPERIMENTS_SERVICE,
}
"""The Google-managed service that each type of resource is part of, as ``mlopsctl platform`` names it.
Vertex AI Pipelines has no resource of its own (a run is started from a template): it is named for
the pipelines placed on it."""
MANAGED = "managed"
"""The version shown for what Google runs (an add-on GKE provides, a managed service)."""


def addon_uses(graph: Graph, config: MLOpsConfig) -> list[AddOnUse]:
    """What ``mlopsctl platform`` shows of ``graph``: each add-on, installed or provided by GKE,
    then each managed service its resources are part of."""
    addons = _addon_uses(graph, config) if config.needs_cluster else []
    return [*addons, *_service_uses(graph, config)]


def _service_uses(graph: Graph, config: MLOpsConfig) -> list[AddOnUse]:
    found: dict[str, dict[str, None]] = {}
    if config.placement.pipelines == "vertex" and config.pipelines:
        found[PIPELINES_SERVICE] = {f"pipelines.{name}": None for name in config.pipelines}
    if config.tracking.experiments:
        logging = {
            f"pipelines.{name}.steps.{step}": None
            for name, pipeline in config.pipelines.items()
            for step, spec in pipeline.steps.items()
            if logs_runs(spec)
        }
        if logging:
            found[EXPERIMENTS_SERVICE] = logging
    for resource in graph:
        if resource.type in MANAGED_SERVICES:
            by = found.setdefault(MANAGED_SERVICES[resource.type], {})
            by[format_path(resource.source) or resource.address] = None
    order = [PIPELINES_SERVICE, EXPERIMENTS_SERVICE, *dict.fromkeys(MANAGED_SERVICES.values())]
    return [
        AddOnUse(name, MANAGED, "managed service of Google Cloud", tuple(sorted(found[name])))
        for name in sorted(found, key=order.index)
    ]


def _addon_uses(graph: Graph, config: MLOpsConfig) -> list[AddOnUse]:
    installed = {r.name: r for r in graph if r.is_addon}
    uses = []
    for name, need in platform_needs(graph, config).items():
        addon = catalog().addons[name]
        values: Mapping[str, JSON] = {}
        if need.managed:
            version, how = MANAGED, f"provided by GKE (platform: {str(addon.managed).replace('=', ': ')})"
        elif addon.install == "helm":
            version = str(installed[name].inputs["version"])
            how = f"helm chart {addon.package} from {addon.source}{_exposure(installed[name])}"
            values = as_mapping(installed[name].inputs.get("values"))
        else:
            version = str(installed[name].inputs["directory"]).rpartition("?ref=")[2]
            how = f"kustomize {addon.source}/{addon.package}"
        uses.append(AddOnUse(name, version, how, tuple(sorted(need.by)), values))
    return uses


def install_inputs(addon: AddOn, version: str, values: Mapping[str, JSON]) -> dict[str, JSON]:
    """The inputs of the pulumi-kubernetes resource that installs ``addon`` at ``version``."""
    if addon.install == "kustomize":
        return {"directory": f"{addon.source}//{addon.package}?ref={version}"}
    oci = addon.source.startswith("oci://")
    inputs: dict[str, JSON] = {
        "name": addon.name,
        "chart": f"{addon.source}/{addon.package}" if oci else addon.package,
        "version": version,
        "namespace": addon.namespace,
        "createNamespace": True,
        "values": dict(values),
    }
    if not oci:
        inputs["repositoryOpts"] = {"repo": addon.source}
    return inputs


def _check_rules(ctx: BuildContext) -> None:
    """A located E314 for a Role or ClusterRole whose template rendered its rules in another shape
    than RBAC's: :func:`_needed_by` reads the kinds they let a workload create."""
    use = "mlopsctl reads the rules to find the kinds a workload may create"
    for resource in ctx.graph:
        if not resource.is_kubernetes or resource.inputs.get("kind") not in RBAC_KINDS:
            continue
        for i in range(len(ctx.read(resource, ("rules",), list, use) or ())):
            ctx.read(resource, ("rules", i), dict, use)
            for key in ("verbs", "apiGroups", "resources"):
                for j in range(len(ctx.read(resource, ("rules", i, key), list, use) or ())):
                    ctx.read(resource, ("rules", i, key, j), str, use)


def _needed_by(resource: Resource) -> Iterable[str]:
    """The add-ons that serve ``resource``'s kind, or the kinds its RBAC lets a workload create."""
    if not resource.is_kubernetes:
        return ()
    api_version, kind = str(resource.inputs["apiVersion"]), str(resource.inputs["kind"])
    annotations = as_mapping(as_mapping(resource.inputs.get("metadata")).get("annotations"))
    wanted = kind_keys(api_version, kind) | {f"annotation:{k}={v}" for k, v in annotations.items()}
    if kind in RBAC_KINDS:  # the rules' shape is checked by _check_rules
        wanted |= {
            f"{api_group}/{plural}"
            for rule in as_list(resource.inputs.get("rules"))
            if "create" in as_list(as_mapping(rule).get("verbs"))
            for api_group in as_list(as_mapping(rule).get("apiGroups"))
            for plural in as_list(as_mapping(rule).get("resources"))
        }
    return [name for name, addon in catalog().addons.items() if wanted & {*addon.kinds, *addon.creates}]


def _managed(addon: AddOn, config: MLOpsConfig) -> bool:
    if addon.install == "gke":
        return True
    if addon.managed is None:
        return False
    section, _, value = addon.managed.partition("=")
    return bool(getattr(config.platform, section) == value)


def _install_order(found: Mapping[str, Need]) -> list[str]:
    """Requirements first, ties by name (deterministic)."""
    addons = catalog().addons
    order: list[str] = []
    remaining = sorted(found)
    while remaining:
        ready = [n for n in remaining if all(r in order or r not in found for r in _after(addons[n]))]
        if not ready:
            raise ValueError(f"add-ons require each other in a cycle: {remaining}")
        order.extend(ready)
        remaining = [n for n in remaining if n not in ready]
    return order


def _after(addon: AddOn) -> tuple[str, ...]:
    """What ``addon`` is installed after, where the cluster has it: what it requires, then
    :data:`STARTS_AFTER`."""
    return (*addon.requires, *STARTS_AFTER.get(addon.name, ()))


def _type(addon: AddOn) -> str:
    return HELM_RELEASE if addon.install == "helm" else KUSTOMIZE_DIRECTORY


def _values(addon: AddOn, config: MLOpsConfig) -> dict[str, JSON]:
    """The add-on's values: the catalog's, and those that follow from the config."""
    values: dict[str, JSON] = copy.deepcopy(dict(addon.values))
    if addon.name == "flagger":
        values["metricsServer"] = prometheus_url(config)
    if addon.name == GATEWAY and config.security.ingress_gateway.exposure == "internal":
        service = values.setdefault("service", {})
        service["annotations"] = {**service.get("annotations", {}), **INTERNAL_LOAD_BALANCER}
    return values


def _exposure(release: Resource) -> str:
    """What ``mlopsctl platform`` says of the gateway's load balancer, as its values set it."""
    if release.name != GATEWAY:
        return ""
    service = release.inputs["values"].get("service", {})
    if INTERNAL_LOAD_BALANCER.items() <= service.get("annotations", {}).items():
        return ", internal load balancer (networking.gke.io/load-balancer-type: Internal)"
    return ", external load balancer (public IP address)"
