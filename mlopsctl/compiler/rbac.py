"""Kubernetes permissions of a workload in the project's namespace: a Role and its RoleBinding."""

from __future__ import annotations

from mlopsctl.compiler.context import BuildContext
from mlopsctl.compiler.identity import NAMESPACE
from mlopsctl.config.naming import namespace, shorten
from mlopsctl.config.sourcemap import Path
from mlopsctl.graph import JSON, Resource

SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"


def rule(
    group: str, resources: list[str], verbs: list[str], names: list[str] | None = None
) -> dict[str, JSON]:
    """A Role rule; with ``names``, only on the objects of those names."""
    found: dict[str, JSON] = {"apiGroups": [group], "resources": sorted(resources), "verbs": sorted(verbs)}
    if names:
        found["resourceNames"] = sorted(names)
    return found


def grant(
    ctx: BuildContext, name: str, ksa: str, rules: list[dict[str, JSON]], *, component: str, source: Path
) -> Resource:
    """Let the Kubernetes account ``ksa`` do what ``rules`` allow; returns the RoleBinding."""
    ns = namespace(ctx.config)
    role_name = shorten(name, 63)
    role = ctx.add_manifest(
        "role",
        source=source,
        depends_on=(ctx.address(NAMESPACE, ns),),
        name=role_name,
        namespace=ns,
        labels=ctx.k8s_labels(component),
        rules=rules,
    )
    return ctx.add_manifest(
        "rolebinding",
        source=source,
        depends_on=(role.address, ctx.address(SERVICE_ACCOUNT, ksa)),
        name=role_name,
        namespace=ns,
        labels=ctx.k8s_labels(component),
        role=role_name,
        service_account=ksa,
    )
