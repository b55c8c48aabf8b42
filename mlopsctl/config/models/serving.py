"""Endpoints: KServe serving, inference graphs, rollouts and batch prediction."""

from typing import Annotated, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from mlopsctl.config.models.pipelines import Schedule
from mlopsctl.config.models.registry import VersionName
from mlopsctl.config.models.types import Duration, Fraction, Name, Percent, Problem, Quantity, Spec, problems

Runtime = Literal["triton", "tensorflow", "pytorch", "sklearn", "xgboost", "huggingface", "onnx"]
HeaderName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][-A-Za-z0-9_]*$")]


class Autoscale(Spec):
    metric: Literal["rps", "concurrency", "cpu", "memory", "gpu-duty-cycle"] = Field(
        default="concurrency",
        description=(
            "What replicas scale on: cpu or memory (utilisation), or rps, concurrency or gpu-duty-cycle "
            "(KEDA)."
        ),
    )
    target: float = Field(
        default=10,
        gt=0,
        description="Per replica: requests per second, in-flight requests, or percent utilisation.",
    )


class Variant(Spec):
    model: Name = Field(description="A model under `models`.")
    version: VersionName = Field(description="A version of that model, under its `versions`.")
    min_replicas: int = Field(default=1, ge=0, le=1000, description="Fewest replicas of the variant.")
    max_replicas: int = Field(default=3, ge=1, le=1000, description="Most replicas.")
    node_pool: Name | None = Field(
        default=None, description="A pool under `accelerators` to schedule on; default: any CPU node."
    )
    accelerators: int = Field(default=0, ge=0, le=16, description="GPUs per replica.")
    machine_type: str | None = Field(
        default=None,
        description="Vertex AI endpoints: the machine type of each replica; default n1-standard-2.",
    )
    accelerator_type: str | None = Field(
        default=None,
        description="Vertex AI endpoints: the GPU type of `accelerators`, e.g. NVIDIA_TESLA_T4 or NVIDIA_L4.",
    )
    cpu: Quantity = Field(default="1", description="CPU request and limit of each replica, e.g. 500m or 2.")
    memory: Quantity = Field(default="2Gi", description="Memory request and limit of each replica, e.g. 2Gi.")
    autoscaling: Autoscale = Field(
        default=Autoscale(), description="The metric replicas scale on, and its target per replica."
    )

    @model_validator(mode="after")
    def _replicas(self) -> Self:
        if self.min_replicas > self.max_replicas:
            problems(
                [
                    (
                        f"minReplicas ({self.min_replicas}) is greater than maxReplicas "
                        f"({self.max_replicas})",
                        "lower minReplicas or raise maxReplicas",
                    )
                ]
            )
        return self


class RequestLogging(Spec):
    """Log requests and responses to BigQuery."""

    dataset: Name = Field(description="A dataset under data.datasets.")
    table: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,1024}$")] | None = Field(
        default=None, description="Default: <endpoint>_requests (with '-' as '_')."
    )
    sampling_rate: Fraction = Field(default=1.0, description="Fraction (0-1) of requests logged.")


class GraphStep(Spec):
    model: Name = Field(description="A model under `models`.")
    version: VersionName = Field(description="A version of that model, under its `versions`.")
    accelerators: int = Field(default=0, ge=0, le=16, description="GPUs per replica.")
    node_pool: Name | None = Field(
        default=None, description="A pool under `accelerators` to schedule on; default: any CPU node."
    )
    machine_type: str | None = Field(
        default=None,
        description="Vertex AI endpoints: the machine type of each replica; default n1-standard-2.",
    )
    accelerator_type: str | None = Field(
        default=None,
        description="Vertex AI endpoints: the GPU type of `accelerators`, e.g. NVIDIA_TESLA_T4 or NVIDIA_L4.",
    )


class InferenceGraph(Spec):
    """Models called in sequence; each step gets the previous step's response."""

    steps: dict[Name, GraphStep] = Field(
        min_length=2, description="Steps by name, in calling order; at least two."
    )


class Analysis(Spec):
    """Metric gates checked at every canary step."""

    interval: Duration = Field(default="1m", description="How often the metrics are checked.")
    max_failed_checks: int = Field(
        default=5, ge=1, description="Failed checks after which the canary is rolled back."
    )
    min_success_rate: Percent = Field(
        default=99.0, description="Lowest percent of the candidate's requests that must succeed (no 5xx)."
    )
    max_latency_ms: int = Field(
        default=500, ge=1, description="Highest p99 latency of the candidate's requests, in milliseconds."
    )


class Canary(Spec):
    strategy: Literal["canary"] = Field(
        description="canary: shift traffic from baseline to candidate step by step."
    )
    baseline: Name = Field(description="The variant serving now.")
    candidate: Name = Field(description="The variant being rolled out.")
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
    header: HeaderName | None = Field(default=None, description="Request header to match.")
    cookie: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+$")] | None = Field(
        default=None, description="Cookie to match."
    )
    value: str = Field(description="Exact value the header or cookie must have.")
    variant: Name = Field(description="The variant matching requests go to.")

    @model_validator(mode="after")
    def _one_key(self) -> Self:
        if (self.header is None) == (self.cookie is None):
            raise ValueError("give exactly one of 'header' or 'cookie'")
        return self


class Stickiness(Spec):
    cookie: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+$")] | None = Field(
        default=None,
        description="Cookie whose value keeps a client on one variant (set by the mesh if absent).",
    )
    header: HeaderName | None = Field(
        default=None, description="Request header whose value keeps a client on one variant."
    )
    ttl: Duration = Field(default="1h", description="cookie: how long the cookie lasts.")

    @model_validator(mode="after")
    def _one_key(self) -> Self:
        if (self.header is None) == (self.cookie is None):
            raise ValueError("give exactly one of 'header' or 'cookie'")
        return self


class ABTest(Spec):
    strategy: Literal["ab"] = Field(description="ab: split traffic between variants by weight.")
    weights: dict[Name, Annotated[int, Field(ge=0, le=100)]] = Field(
        min_length=2, description="Variant name to percent of traffic; must add up to 100."
    )
    match: list[HeaderMatch] = Field(
        default=[],
        description="Requests matching a header or cookie go to the named variant, before weights apply.",
    )
    sticky: Stickiness | None = Field(
        default=None,
        description="Keep each client on the same variant by cookie or header; default: no stickiness.",
    )


class Shadow(Spec):
    strategy: Literal["shadow"] = Field(
        description="shadow: serve from primary and mirror requests to shadow."
    )
    primary: Name = Field(description="The variant whose responses are returned.")
    shadow: Name = Field(
        description="The variant that receives mirrored requests; its responses are discarded."
    )
    mirror_percent: Percent = Field(default=100.0, description="Percent of requests mirrored to the shadow.")


class BlueGreen(Spec):
    strategy: Literal["blue-green"] = Field(description="blue-green: all traffic to the active variant.")
    blue: Name = Field(description="The variant in the blue slot.")
    green: Name = Field(description="The variant in the green slot.")
    active: Literal["blue", "green"] = Field(
        default="blue", description="Which of blue and green gets all the traffic."
    )


Rollout = Annotated[Canary | ABTest | Shadow | BlueGreen, Field(discriminator="strategy")]


class Endpoint(Spec):
    runtime: Runtime | None = Field(
        default=None,
        description=(
            "Default: chosen from the model's framework (Triton for TensorRT, ONNX, TensorFlow and PyTorch)."
        ),
    )
    protocols: list[Literal["http", "grpc"]] = Field(
        default=["http"], min_length=1, description="Protocols the endpoint serves: http, grpc or both."
    )
    protocol_version: Literal["v1", "v2"] | None = Field(
        default=None, description="Default: v2 for Triton, v1 otherwise."
    )
    variants: dict[Name, Variant] = Field(
        default={}, description="Model versions served, by name; several need a `rollout`."
    )
    graph: InferenceGraph | None = Field(
        default=None, description="Serve a sequence of models instead of variants."
    )
    rollout: Rollout | None = Field(
        default=None, description="How traffic is split between variants: canary, ab, shadow or blue-green."
    )
    logging: RequestLogging | None = Field(
        default=None, description="Log requests and responses to a BigQuery table; default: off."
    )
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
    service_account: Name | None = Field(
        default=None,
        description="A service account under security.serviceAccounts; default: one of the endpoint's own.",
    )
    features: list[Name] = Field(
        default=[],
        description=(
            "Views under features.views whose feature values the endpoint may fetch online: its "
            "account may read exactly those, and on GKE its model servers are told each view's "
            "resource name (MLOPSCTL_FEATURE_VIEW_<VIEW>)."
        ),
    )

    @model_validator(mode="after")
    def _shape(self) -> Self:
        found: list[Problem] = []
        if not self.variants and self.graph is None:
            found.append(
                (
                    "an endpoint needs 'variants' or a 'graph'",
                    "add variants: {NAME: {model: MODEL, version: VERSION}}, the model versions it serves",
                )
            )
        if self.variants and self.graph is not None:
            found.append(("an endpoint has both 'variants' and a 'graph'", "delete one of them"))
        if len(self.variants) > 1 and self.rollout is None:
            found.append(
                (
                    "several variants need a 'rollout' that says how traffic is split",
                    "add rollout: {strategy: canary, candidate: VARIANT} (or ab, shadow, blue-green), "
                    "or keep one variant",
                )
            )
        problems(found)
        return self

    @property
    def analysed(self) -> bool:
        """Whether Flagger carries out the rollout: a canary with ``analysis``."""
        return isinstance(self.rollout, Canary) and self.rollout.analysis is not None


class TableRef(Spec):
    dataset: Name = Field(description="A dataset under data.datasets.")
    table: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,1024}$")] = Field(
        description="Table name in that dataset."
    )


class BatchIO(Spec):
    bigquery: TableRef | None = Field(default=None, description="A BigQuery table under data.datasets.")
    gcs: str | None = Field(
        default=None, description="A bucket under data.buckets, optionally with a path: scores/daily/."
    )

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.bigquery is None) == (self.gcs is None):
            raise ValueError("give exactly one of 'bigquery' or 'gcs'")
        return self


class BatchJob(Spec):
    model: Name = Field(description="A model under `models`; an HTTP endpoint must serve the version.")
    version: VersionName = Field(description="A version of that model, under its `versions`.")
    input: BatchIO = Field(description="Where the rows to score are read.")
    output: BatchIO = Field(description="Where the predictions are written.")
    schedule: Schedule | None = Field(
        default=None, description="Start runs on a cron schedule; default: none."
    )
    node_pool: Name | None = Field(
        default=None,
        description="A pool under `accelerators` to run the batch-predict step on; default: any CPU node.",
    )
    accelerators: int = Field(
        default=0,
        ge=0,
        le=16,
        description=(
            "Accelerators checked against a node of nodePool; the step itself requests none (the endpoint "
            "holds them)."
        ),
    )
