"""Kubernetes objects of the graph, created through pulumi-kubernetes.

Kinds the SDK registers (core, apps, batch, rbac, apiextensions...) use their
typed class, so every field is checked against the Kubernetes schema the SDK
was generated from. Other kinds are instances of custom resource definitions
(KServe, Istio, Flagger, Katib, Prometheus Operator, Kubeflow Pipelines) and use
``apiextensions.CustomResource``, whose type token ``kubernetes:<apiVersion>:<kind>``
is the graph's; it takes ``metadata`` and ``spec`` only, so any other top-level
field is refused rather than dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mlopsctl.pulumi.types import InputError, Resolve, args_class, convert, resource_class, to_args

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
AUTH_PLUGIN = "gke-gcloud-auth-plugin"
_CUSTOM_FIELDS = frozenset({"apiVersion", "kind", "metadata", "spec"})


def kubeconfig(name: str, endpoint: str, ca_certificate: str) -> str:
    """A kubeconfig for a GKE cluster that authenticates with ``gke-gcloud-auth-plugin``."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": name,
                    "cluster": {
                        "server": f"https://{endpoint}",
                        "certificate-authority-data": ca_certificate,
                    },
                }
            ],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
            "users": [
                {
                    "name": name,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": AUTH_PLUGIN,
                            "installHint": "gcloud components install gke-gcloud-auth-plugin",
                            "provideClusterInfo": True,
                        }
                    },
                }
            ],
        },
        sort_keys=True,
    )


def provider(cluster: tuple[Any, Any, Any] | None, opts: Any) -> Any:
    """The provider for a cluster's (name, endpoint, CA certificate) Outputs, else the ambient kubeconfig."""
    import pulumi
    import pulumi_kubernetes

    if cluster is None:
        return pulumi_kubernetes.Provider("kubernetes", opts=opts)
    config = pulumi.Output.all(*cluster).apply(lambda values: kubeconfig(*values))
    return pulumi_kubernetes.Provider("kubernetes", kubeconfig=config, opts=opts)


def create_object(token: str, name: str, obj: Mapping[str, Any], resolve: Resolve, opts: Any) -> Any:
    """One Kubernetes object: its typed class when the SDK has one, else a custom resource."""
    cls = resource_class(token)
    if cls is not None:
        return cls(name, to_args(args_class(cls), obj, name, resolve), opts=opts)
    return _custom_resource(token, name, obj, resolve, opts)


def _custom_resource(token: str, name: str, obj: Mapping[str, Any], resolve: Resolve, opts: Any) -> Any:
    from pulumi_kubernetes.apiextensions import CustomResource
    from pulumi_kubernetes.meta.v1 import ObjectMetaArgs

    extra = sorted(obj.keys() - _CUSTOM_FIELDS)
    if extra:
        raise InputError(f"{name}: a custom resource takes {sorted(_CUSTOM_FIELDS)}, not {extra}")
    if f"kubernetes:{obj['apiVersion']}:{obj['kind']}" != token:
        raise InputError(f"{name}: apiVersion {obj['apiVersion']} and kind {obj['kind']} do not make {token}")
    return CustomResource(
        name,
        api_version=obj["apiVersion"],
        kind=obj["kind"],
        metadata=to_args(ObjectMetaArgs, obj.get("metadata", {}), f"{name}.metadata", resolve),
        spec=convert(None, obj.get("spec"), f"{name}.spec", resolve),
        opts=opts,
    )
