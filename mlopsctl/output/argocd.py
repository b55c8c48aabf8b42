"""The GitOps view of the platform: one Argo CD Application per add-on of the graph.

Each Application installs the add-on from upstream's own package, pinned: a Helm chart at its
exact version, or a kustomization at the release tag. Sync waves install requirements first
(cert-manager and the CRDs before the controllers that use them) and every add-on before the
workloads, which sit in wave 0. Argo CD must run in the cluster (``argocd`` namespace), and the
Application syncing ``<env>/<region>/`` must let Argo CD wait on Application health
(docs/platform.md says how).
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping

from mlopsctl.config.templates import render_object
from mlopsctl.graph import HELM_RELEASE, JSON, Graph, Resource

NAMESPACE = "argocd"
IN_CLUSTER = "https://kubernetes.default.svc"
FIRST_WAVE = -20
"""Add-ons take waves FIRST_WAVE... by depth of requirements; workloads keep wave 0."""


def applications(
    graph: Graph, labels: Mapping[str, str], templates_dir: pathlib.Path | None = None
) -> dict[str, dict[str, JSON]]:
    """Add-on name → its Application, for every add-on of ``graph`` (``application.yaml.j2``, from
    ``templates_dir`` when the project overrides it there)."""
    addons = {r.address: r for r in graph if r.is_addon}
    depth: dict[str, int] = {}
    for resource in graph.ordered():
        if resource.address in addons:
            required = [depth[d] for d in resource.depends_on if d in depth]
            depth[resource.address] = 1 + max(required, default=-1)
    return {
        r.name: application(r, FIRST_WAVE + depth[address], labels, templates_dir)
        for address, r in sorted(addons.items())
    }


def application(
    resource: Resource, wave: int, labels: Mapping[str, str], templates_dir: pathlib.Path | None = None
) -> dict[str, JSON]:
    inputs = resource.inputs
    if resource.type == HELM_RELEASE:
        namespace = str(inputs["namespace"])
        source = _helm_source(inputs)
    else:
        namespace, source = "", _kustomize_source(str(inputs["directory"]))
    destination: dict[str, JSON] = {"server": IN_CLUSTER}
    if namespace:
        destination["namespace"] = namespace
    return render_object(
        "application",
        templates_dir,
        name=f"mlopsctl-{resource.name}",
        namespace=NAMESPACE,
        labels=dict(labels),
        wave=str(wave),
        source=source,
        destination=destination,
    )


def _helm_source(inputs: Mapping[str, JSON]) -> dict[str, JSON]:
    chart = str(inputs["chart"])
    if chart.startswith("oci://"):
        registry, _, chart = chart.removeprefix("oci://").rpartition("/")
        repo = registry
    else:
        repo = str(inputs["repositoryOpts"]["repo"])
    return {
        "repoURL": repo,
        "chart": chart,
        "targetRevision": inputs["version"],
        "helm": {"releaseName": inputs["name"], "valuesObject": inputs["values"]},
    }


def _kustomize_source(directory: str) -> dict[str, JSON]:
    """``https://github.com/o/r//path?ref=TAG`` (kustomize's remote form) → repository, folder, tag."""
    location, _, ref = directory.partition("?ref=")
    scheme, _, rest = location.partition("://")
    repo, _, path = rest.partition("//")
    return {"repoURL": f"{scheme}://{repo}.git", "path": path, "targetRevision": ref}
