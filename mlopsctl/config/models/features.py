"""Vertex AI Feature Store: feature groups over BigQuery, online stores and the views they serve.

The same on both placements: the feature store is a managed service either way.
"""

from typing import Literal

from pydantic import Field

from mlopsctl.config.models.serving import TableRef
from mlopsctl.config.models.types import Cron, Labels, Name, Spec


class FeatureGroup(Spec):
    """Features registered over one BigQuery table or view."""

    source: TableRef = Field(description="The BigQuery table or view the features are columns of.")
    entity_id_columns: list[str] = Field(
        min_length=1, description="The columns that identify an entity (its id), e.g. [customer_id]."
    )
    features: list[str] = Field(min_length=1, description="The columns registered as features of the group.")
    description: str = Field(default="", description="Free text shown in the Vertex AI console.")
    labels: Labels = Field(default={}, description="Labels on the feature group.")


class BigtableScaling(Spec):
    min_nodes: int = Field(default=1, ge=1, le=1000, description="Fewest Bigtable nodes.")
    max_nodes: int = Field(
        default=3, ge=1, le=1000, description="Most Bigtable nodes: minNodes to 10 times minNodes."
    )
    cpu_target: int = Field(
        default=50, ge=10, le=80, description="CPU utilization (percent) Bigtable autoscaling aims at."
    )


class OnlineStore(Spec):
    type: Literal["bigtable", "optimized"] = Field(
        default="optimized",
        description="bigtable: Bigtable online serving; optimized: Vertex AI's optimized online serving, "
        "which Google has deprecated and which takes no customer-managed key (W407).",
    )
    bigtable: BigtableScaling = Field(
        default=BigtableScaling(), description="Autoscaling of a bigtable store (ignored when optimized)."
    )
    labels: Labels = Field(default={}, description="Labels on the online store.")


class FeatureView(Spec):
    """Features of one group, synced into an online store on a schedule."""

    store: Name = Field(description="An online store under features.onlineStores.")
    group: Name = Field(description="A feature group under features.groups.")
    features: list[str] = Field(
        default=[], description="Features of the group to serve; default: all of them."
    )
    sync: Cron = Field(default="0 * * * *", description="When the view syncs from BigQuery (cron, UTC).")
    labels: Labels = Field(default={}, description="Labels on the feature view.")


class Features(Spec):
    groups: dict[Name, FeatureGroup] = Field(default={}, description="Feature groups by name.")
    online_stores: dict[Name, OnlineStore] = Field(default={}, description="Online stores by name.")
    views: dict[Name, FeatureView] = Field(
        default={}, description="Feature views by name: what pipelines read and endpoints look up online."
    )
