"""The settings of the built-in data stages: where ingest reads, how it splits, what transform
does to each feature and which metrics evaluate can hold to a threshold."""

import itertools
from typing import Literal, Self

from pydantic import Field, model_validator

from mlopsctl.config.models.data import ColumnName
from mlopsctl.config.models.types import Name, Scalar, Spec

METRICS = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "auc_roc",
    "auc_pr",
    "log_loss",
    "false_positive_rate",
    "recall_at_1pct_fpr",
    "rmse",
    "mae",
    "r2",
)
"""The metrics the ``evaluate`` stage computes: thresholds and float outputs are named after them."""
SourceFormat = Literal["csv", "parquet", "jsonl", "avro", "tfrecord"]
TransformType = Literal[
    "standardize", "minmax", "log", "vocabulary", "onehot", "bucketize", "fill", "drop", "passthrough"
]


class BigQuerySource(Spec):
    dataset: Name = Field(description="A dataset under data.datasets.")
    table: str | None = Field(default=None, description="A table of the dataset to read whole.")
    query: str | None = Field(
        default=None, description="A SQL query to read, run in the environment's GCP project."
    )

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of 'table' or 'query'")
        return self


class IngestSource(Spec):
    bigquery: BigQuerySource | None = Field(default=None, description="Read a BigQuery table or query.")
    gcs: str | None = Field(
        default=None, description="A bucket under data.buckets, optionally with a path: raw/incoming/."
    )
    external: Name | None = Field(default=None, description="A source under data.external.")
    feature_view: Name | None = Field(
        default=None,
        description=(
            "A view under features.views: its entity id columns and features (and the step's label), "
            "read from its feature group's BigQuery source, the feature store's offline data."
        ),
    )
    format: SourceFormat | None = Field(
        default=None, description="gcs: the files' format; default: from their extensions."
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        kinds = (self.bigquery, self.gcs, self.external, self.feature_view)
        if sum(x is not None for x in kinds) != 1:
            raise ValueError("give exactly one of 'bigquery', 'gcs', 'external' or 'featureView'")
        if self.format is not None and self.gcs is None:
            raise ValueError("'format' applies to 'gcs' sources only")
        return self


class Split(Spec):
    """How ingest divides the rows into the train and eval splits."""

    eval: float = Field(default=0.2, gt=0, lt=1, description="The fraction of rows held out for eval.")
    seed: int = Field(default=0, ge=0, description="Seed of the random assignment of rows to splits.")


class Transform(Spec):
    type: TransformType = Field(description="What to do to the feature.")
    boundaries: list[float] | None = Field(
        default=None, min_length=1, description="bucketize: the bucket edges, in increasing order."
    )
    value: Scalar | None = Field(default=None, description="fill: what missing values become.")

    @model_validator(mode="after")
    def _settings(self) -> Self:
        if (self.boundaries is not None) != (self.type == "bucketize"):
            raise ValueError("'boundaries' are needed by, and only valid for, the bucketize transform")
        if (self.value is not None) != (self.type == "fill"):
            raise ValueError("'value' is needed by, and only valid for, the fill transform")
        edges = self.boundaries or []
        if any(a >= b for a, b in itertools.pairwise(edges)):
            raise ValueError(f"'boundaries' must increase: {', '.join(f'{b:g}' for b in edges)}")
        return self


Transforms = dict[ColumnName, Transform]


class Threshold(Spec):
    min: float | None = Field(default=None, description="Lowest value the metric may have.")
    max: float | None = Field(default=None, description="Highest value the metric may have.")

    @model_validator(mode="after")
    def _some(self) -> Self:
        if self.min is None and self.max is None:
            raise ValueError("give 'min', 'max' or both")
        return self
