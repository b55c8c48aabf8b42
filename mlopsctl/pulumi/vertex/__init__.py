"""Vertex AI resources that pulumi-gcp lacks, as Pulumi dynamic providers (docs/vertex-resources.md).

A graph resource whose type token starts with ``mlopsctl:vertex/`` (a model version, the
deployed models of an endpoint, a model monitor) becomes a dynamic resource whose provider
calls the Vertex AI REST API through google-cloud-aiplatform's GAPIC clients. This module
stays light: the Pulumi program imports it to recognise the tokens; the providers and
google-cloud-aiplatform are imported only when such a resource is created.
"""

from __future__ import annotations

from collections.abc import Collection

PREFIX = "mlopsctl:vertex/"
"""The type tokens of the graph served by this package."""

API = "aiplatform.googleapis.com"
"""The Google Cloud API every resource of this package calls (enabled before them)."""


ENDPOINT = "gcp:vertex/aiEndpoint:AiEndpoint"
DEPLOYMENT = "mlopsctl:vertex/deployment:Deployment"


def is_vertex(type_token: str) -> bool:
    return type_token.startswith(PREFIX)


def ignored_changes(type_token: str, graph_types: Collection[str]) -> list[str]:
    """Inputs Pulumi must leave as the server has them. With a Deployment in the graph, an
    endpoint's traffic split is the Deployment's: an update of the endpoint must not reset it."""
    return ["trafficSplit"] if type_token == ENDPOINT and DEPLOYMENT in graph_types else []
