"""Data sources: GCS buckets, BigQuery datasets and tables, external URIs."""

from typing import Annotated, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from mlopsctl.config.durations import parse_duration
from mlopsctl.config.models.types import Duration, Labels, Name, Spec

ColumnName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,299}$")]
TableName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,1024}$")]


MAX_BUCKET_RETENTION = 3_155_760_000
"""Cloud Storage's longest retention period, in seconds (100 years)."""
MIN_TABLE_EXPIRATION = 3600
"""BigQuery's shortest defaultTableExpirationMs, in seconds (an hour)."""


class Lifecycle(Spec):
    """Object lifecycle rules; ages in days since creation."""

    delete_after_days: int | None = Field(
        default=None, ge=1, description="Delete objects this many days after creation."
    )
    nearline_after_days: int | None = Field(
        default=None, ge=1, description="Move objects to NEARLINE this many days after creation."
    )
    coldline_after_days: int | None = Field(
        default=None, ge=1, description="Move objects to COLDLINE this many days after creation."
    )
    archive_after_days: int | None = Field(
        default=None, ge=1, description="Move objects to ARCHIVE this many days after creation."
    )
    keep_versions: int | None = Field(
        default=None,
        ge=1,
        description="Delete noncurrent versions beyond this many newer ones (needs versioning).",
    )


class Bucket(Spec):
    name: str | None = Field(
        default=None,
        description=(
            "Globally unique bucket name; may use ${project}, ${env} "
            "and ${region}. Default: <project>-<env>-<region>-<key>."
        ),
    )
    location: str | None = Field(
        default=None, description="Bucket location; default: the region being compiled."
    )
    storage_class: Literal["STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"] = Field(
        default="STANDARD", description="Default storage class of the bucket's objects."
    )
    versioning: bool = Field(
        default=True,
        description="Keep noncurrent object versions (Object Versioning); must be false with `retention`.",
    )
    lifecycle: Lifecycle = Field(
        default=Lifecycle(),
        description="Age rules that move objects to colder storage classes or delete them.",
    )
    retention: Duration | None = Field(
        default=None, description="Retention policy: objects cannot be deleted or replaced before this age."
    )
    kms_key: Name | None = Field(
        default=None, description="A key declared under security.kms; default: security.defaultKmsKey."
    )
    labels: Labels = Field(
        default={}, description="Labels of the bucket, over the project's and environment's."
    )

    @model_validator(mode="after")
    def _versions(self) -> Self:
        if self.retention and self.versioning:
            raise ValueError(
                "a bucket cannot have both a retention policy and object versioning (Cloud Storage "
                "refuses it): set 'versioning: false', the retention policy already keeps objects"
            )
        if self.lifecycle.keep_versions and not self.versioning:
            raise ValueError("lifecycle.keepVersions needs 'versioning: true'")
        if self.retention is not None and not 0 < parse_duration(self.retention) <= MAX_BUCKET_RETENTION:
            raise ValueError(
                f"retention {self.retention} is not one Cloud Storage allows: more than 0s, at most 36525d"
            )
        return self


class Column(Spec):
    name: ColumnName = Field(description="Column name.")
    type: Literal[
        "STRING",
        "BYTES",
        "INTEGER",
        "INT64",
        "FLOAT",
        "FLOAT64",
        "NUMERIC",
        "BIGNUMERIC",
        "BOOLEAN",
        "BOOL",
        "TIMESTAMP",
        "DATE",
        "TIME",
        "DATETIME",
        "GEOGRAPHY",
        "JSON",
        "RECORD",
        "STRUCT",
    ] = Field(description="BigQuery type of the column; RECORD/STRUCT columns list theirs under `fields`.")
    mode: Literal["NULLABLE", "REQUIRED", "REPEATED"] = Field(
        default="NULLABLE", description="NULLABLE, REQUIRED, or REPEATED (an array)."
    )
    description: str = Field(default="", description="Column description in BigQuery.")
    fields: list["Column"] = Field(default=[], description="Nested columns of a RECORD/STRUCT column.")


class Partitioning(Spec):
    type: Literal["HOUR", "DAY", "MONTH", "YEAR"] = Field(
        default="DAY", description="Time span of each partition."
    )
    field: ColumnName | None = Field(
        default=None, description="Partition column (TIMESTAMP or DATE); default: ingestion time."
    )
    expiration: Duration | None = Field(
        default=None,
        description="Each partition is deleted this long after its time (expirationMs); default: kept.",
    )

    @model_validator(mode="after")
    def _expires_later(self) -> Self:
        if self.expiration is not None and parse_duration(self.expiration) == 0:
            raise ValueError(
                "expiration 0s is not one BigQuery allows: give a longer one, or none to keep them"
            )
        return self


class Table(Spec):
    description: str = Field(default="", description="Table description in BigQuery.")
    table_schema: list[Column] | None = Field(default=None, alias="schema", description="Columns, inline.")
    schema_file: str | None = Field(
        default=None, description="Path, relative to mlops.yaml, of a BigQuery JSON schema file."
    )
    partitioning: Partitioning | None = Field(
        default=None, description="Time partitioning of the table; default: unpartitioned."
    )
    clustering: list[ColumnName] = Field(
        default=[], max_length=4, description="Up to four columns to cluster the table by, in order."
    )
    labels: Labels = Field(
        default={}, description="Labels of the table, over the dataset's, project's and environment's."
    )

    @model_validator(mode="after")
    def _one_schema(self) -> Self:
        if self.table_schema is not None and self.schema_file is not None:
            raise ValueError("give either 'schema' or 'schemaFile', not both")
        return self


class GeneratedTables(Spec):
    """The tables mlopsctl creates in a dataset for its workloads to write: endpoints' request
    logs, drift and skew monitors' statistics and alerts (each partitioned by day)."""

    retention: Duration | None = Field(
        default=None,
        description=(
            "How long their rows are kept: each day's partition is deleted this long after that day. "
            "Default: kept. A table of them never expires as a whole, whatever defaultTableExpiration says."
        ),
    )

    @model_validator(mode="after")
    def _whole_days(self) -> Self:
        if self.retention is not None and parse_duration(self.retention) < 86400:
            raise ValueError(f"retention {self.retention} is shorter than 1d, a day's partition")
        return self


class Dataset(Spec):
    dataset_id: str | None = Field(
        default=None,
        description=(
            "BigQuery dataset id; may use ${env} and ${region}. Default: <key>_<env>_<region>, '-' as '_'."
        ),
    )
    location: str | None = Field(
        default=None, description="Dataset location; default: the region being compiled."
    )
    description: str = Field(default="", description="Dataset description in BigQuery.")
    default_table_expiration: Duration | None = Field(
        default=None,
        description=(
            "Tables created in the dataset are deleted this long after their creation, unless they set "
            "their own expiration (BigQuery's defaultTableExpirationMs); not the generated tables."
        ),
    )
    kms_key: Name | None = Field(
        default=None,
        description=(
            "A key declared under security.kms for the dataset's tables; default: security.defaultKmsKey."
        ),
    )
    labels: Labels = Field(
        default={},
        description=(
            "Labels of the dataset (and, under their own, of its tables), over the project's and "
            "environment's."
        ),
    )
    tables: dict[TableName, Table] = Field(
        default={},
        description=(
            "Tables to create. One named like a generated table replaces mlopsctl's definition "
            "(its partitions then expire as its own partitioning says)."
        ),
    )
    generated_tables: GeneratedTables = Field(
        default=GeneratedTables(),
        description="The request-log, statistics and alerts tables mlopsctl creates here: their retention.",
    )

    @model_validator(mode="after")
    def _expiration(self) -> Self:
        expiration = self.default_table_expiration
        if expiration is not None and parse_duration(expiration) < MIN_TABLE_EXPIRATION:
            raise ValueError(
                f"defaultTableExpiration {expiration} is shorter than 1h, the shortest BigQuery allows"
            )
        return self


class ExternalSource(Spec):
    uri: Annotated[str, StringConstraints(pattern=r"^(gs|bq|https)://.+")] = Field(
        description="A gs://, bq:// or https:// URI, read by ingest steps; mlopsctl does not manage it."
    )
    format: Literal["CSV", "PARQUET", "AVRO", "JSON", "TFRECORD", "BIGQUERY"] = Field(
        default="PARQUET", description="Format of the data, passed to the ingest stage."
    )
    description: str = Field(default="", description="Free text describing the source.")


class Data(Spec):
    buckets: dict[Name, Bucket] = Field(
        default={}, description="GCS buckets by key, created in each environment and region."
    )
    datasets: dict[Name, Dataset] = Field(
        default={}, description="BigQuery datasets by key, created in each environment and region."
    )
    external: dict[Name, ExternalSource] = Field(
        default={},
        description="Sources mlopsctl does not manage, by key, that ingest steps read (source.external).",
    )
