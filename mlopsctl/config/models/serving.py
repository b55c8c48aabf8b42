"""Endpoints: KServe serving, inference graphs, rollouts and batch prediction."""

from typing import Annotated, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from mlopsctl.config.models.pipelines import Schedule
from mlopsctl.config.models.registry import VersionName
from mlopsctl.config.models.types import Duration, Fraction, Name, Percent, Quantity, Spec

Runtime = Literal["triton", "tensorflow", "pytorch", "sklearn", "xgboost", "huggingface", "onnx"]
HeaderName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][-A-Za-z0-9_]*$")]


class Autoscale(Spec):
    metric: Literal["rps", "concurrency", "cpu", "memory", "gpu-duty-cycle"] = "concurrency"
    target: float = Field(
        default=10,
        gt=0,
        description="Per replica: requests per second, in-flight requests, or percent utilisation.",
    )


class Variant(Spec):
    model: Name
    version: VersionName
    min_replicas: int = Field(default=1, ge=0, le=1000)
    max_replicas: int = Field(default=3, ge=1, le=1000)
    node_pool: Name | None = Field(
        default=None, description="A pool under `accelerators` to schedule on; default: any CPU node."
    )
    accelerators: int = Field(default=0, ge=0, le=16, description="GPUs per replica.")
    cpu: Quantity = "1"
    memory: Quantity = "2Gi"
    autoscaling: Autoscale = Autoscale()

    @model_validator(mode="after")
    def _replicas(self) -> Self:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"minReplicas ({self.min_replicas}) is greater than maxReplicas ({self.max_replicas})"
            )
        return self


class RequestLogging(Spec):
    """Log requests and responses to BigQuery."""

    dataset: Name = Field(description="A dataset under data.datasets.")
    table: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,1024}$")] | None = Field(
        default=None, description="Default: <endpoint>_requests (with '-' as '_')."
    )
    sampling_rate: Fraction = 1.0


class GraphStep(Spec):
    model: Name
    version: VersionName
    accelerators: int = Field(default=0, ge=0, le=16)
    node_pool: Name | None = None


class InferenceGraph(Spec):
    """Models called in sequence; each step gets the previous step's response."""

    steps: dict[Name, GraphStep] = Field(min_length=2)


class Analysis(Spec):
    """Metric gates checked at every canary step."""

    interval: Duration = "1m"
    max_failed_checks: int = Field(default=5, ge=1)
    min_success_rate: Percent = 99.0
    max_latency_ms: int = Field(default=500, ge=1)


class Canary(Spec):
    strategy: Literal["canary"]
    baseline: Name
    candidate: Name
    steps: list[Annotated[int, Field(ge=1, le=100)]] = Field(
        default=[5, 25, 50, 100],
        min_length=1,
        description="Candidate traffic percentages, rising, ending at 100.",
    )
    pause: Duration = Field(default="10m", description="How long each step holds before the next.")
    current_step: int = Field(
        default=0, ge=0, description="Index into `steps` of the weight that is live now (without analysis)."
    )
    analysis: Analysis | None = Field(
        default=None, description="With analysis, promotion is automatic and gated on metrics."
    )


class HeaderMatch(Spec):
    header: HeaderName | None = None
    cookie: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+$")] | None = None
    value: str
    variant: Name

    @model_validator(mode="after")
    def _one_key(self) -> Self:
        if (self.header is None) == (self.cookie is None):
            raise ValueError("give exactly one of 'header' or 'cookie'")
        return self


class Stickiness(Spec):
    cookie: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+$")] | None = None
    header: HeaderName | None = None
    ttl: Duration = "1h"

    @model_validator(mode="after")
    def _one_key(self) -> Self:
        if (self.header is None) == (self.cookie is None):
            raise ValueError("give exactly one of 'header' or 'cookie'")
        return self


class ABTest(Spec):
    strategy: Literal["ab"]
    weights: dict[Name, Annotated[int, Field(ge=0, le=100)]] = Field(
        min_length=2, description="Variant name to percent of traffic; must add up to 100."
    )
    match: list[HeaderMatch] = Field(
        default=[],
        description="Requests matching a header or cookie go to the named variant, before weights apply.",
    )
    sticky: Stickiness | None = None


class Shadow(Spec):
    strategy: Literal["shadow"]
    primary: Name
    shadow: Name
    mirror_percent: Percent = 100.0


class BlueGreen(Spec):
    strategy: Literal["blue-green"]
    blue: Name
    green: Name
    active: Literal["blue", "green"] = "blue"


Rollout = Annotated[Canary | ABTest | Shadow | BlueGreen, Field(discriminator="strategy")]


class Endpoint(Spec):
    runtime: Runtime | None = Field(
        default=None,
        description=(
            "Default: chosen from the model's framework (Triton for TensorRT, ONNX, TensorFlow and PyTorch)."
        ),
    )
    protocols: list[Literal["http", "grpc"]] = Field(default=["http"], min_length=1)
    protocol_version: Literal["v1", "v2"] | None = Field(
        default=None, description="Default: v2 for Triton, v1 otherwise."
    )
    variants: dict[Name, Variant] = {}
    graph: InferenceGraph | None = None
    rollout: Rollout | None = None
    logging: RequestLogging | None = None
    host: str | None = Field(
        default=None,
        description=(
            "Public host name on the Istio gateway; default: <endpoint>.<namespace>.example.internal."
        ),
    )
    callers: list[
        Annotated[
            str,
            StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(/[a-z0-9]([-a-z0-9]*[a-z0-9])?)?$"),
        ]
    ] = Field(
        default=[], description="Namespaces (or namespace/serviceaccount) allowed to call the endpoint."
    )
    service_account: Name | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if not self.variants and self.graph is None:
            raise ValueError("an endpoint needs 'variants' or a 'graph'")
        if self.variants and self.graph is not None:
            raise ValueError("give either 'variants' or 'graph', not both")
        if len(self.variants) > 1 and self.rollout is None:
            raise ValueError("several variants need a 'rollout' that says how traffic is split")
        return self


class TableRef(Spec):
    dataset: Name
    table: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,1024}$")]


class BatchIO(Spec):
    bigquery: TableRef | None = None
    gcs: str | None = Field(
        default=None, description="A bucket under data.buckets, optionally with a path: scores/daily/."
    )

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.bigquery is None) == (self.gcs is None):
            raise ValueError("give exactly one of 'bigquery' or 'gcs'")
        return self


class BatchJob(Spec):
    model: Name
    version: VersionName
    input: BatchIO
    output: BatchIO
    schedule: Schedule | None = None
    node_pool: Name | None = None
    accelerators: int = Field(default=0, ge=0, le=16)
