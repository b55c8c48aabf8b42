"""Pipelines: named DAGs of TFX-style steps, their schedules and triggers."""

import re
from collections.abc import Iterator
from typing import Annotated, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from mlopsctl.config.models.types import (
    Cron,
    Duration,
    Image,
    Name,
    SecretRef,
    Spec,
    TimeZone,
)

OUTPUT_REF = re.compile(r"^([a-z](?:[-a-z0-9]*[a-z0-9])?)\.([a-z][a-z0-9_]*)$")
"""``<step>.<output>``: a string of this form among a step's inputs is a reference, never a literal."""
OutputRef = Annotated[
    str,
    StringConstraints(pattern=OUTPUT_REF.pattern),
    Field(description="An output of an earlier step: <step>.<output>."),
]
CpuQuantity = Annotated[str, StringConstraints(pattern=r"^([0-9]*\.)?[0-9]+m?$")]
MemoryQuantity = Annotated[str, StringConstraints(pattern=r"^[0-9]+(E|Ei|P|Pi|T|Ti|G|Gi|M|Mi|K|Ki)?$")]
IoName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
"""Names of step inputs, outputs and parameters, as Kubeflow Pipelines accepts them."""
EnvVar = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Scalar = str | int | float | bool
StepKind = Literal[
    "container",
    "ingest",
    "statistics",
    "schema",
    "validate",
    "transform",
    "train",
    "tune",
    "evaluate",
    "push",
]
OutputType = Literal[
    "dataset", "model", "metrics", "artifact", "string", "integer", "float", "boolean", "list"
]


class Resources(Spec):
    cpu: CpuQuantity | None = None
    memory: MemoryQuantity | None = None
    accelerators: int = Field(
        default=0, ge=0, le=16, description="GPUs (or TPU chips) the step requests from its node pool."
    )
    node_pool: Name | None = Field(
        default=None, description="A pool under `accelerators`; default: the pipeline's nodePool."
    )


class Condition(Spec):
    """Run the step only when an earlier step's output compares true."""

    output: OutputRef
    operator: Literal["==", "!=", ">", ">=", "<", "<="] = "=="
    value: Scalar


class ParallelFor(Spec):
    """Run the step once per item; the item is available as the input `item`."""

    items: list[Scalar] | None = Field(default=None, min_length=1)
    from_output: OutputRef | None = None
    parallelism: int | None = Field(default=None, ge=1, le=10_000)

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.items is None) == (self.from_output is None):
            raise ValueError("give exactly one of 'items' or 'fromOutput'")
        kinds = {type(i).__name__ for i in self.items or []}
        if len(kinds) > 1:
            raise ValueError(
                f"'items' mixes {' and '.join(sorted(kinds))} values; give items of one type (1.0, not 1)"
            )
        return self


class BigQuerySource(Spec):
    dataset: Name
    table: str | None = None
    query: str | None = None


class IngestSource(Spec):
    bigquery: BigQuerySource | None = None
    gcs: str | None = Field(
        default=None, description="A bucket under data.buckets, optionally with a path: raw/incoming/."
    )
    external: Name | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if sum(x is not None for x in (self.bigquery, self.gcs, self.external)) != 1:
            raise ValueError("give exactly one of 'bigquery', 'gcs' or 'external'")
        return self


class SearchParameter(Spec):
    type: Literal["double", "int", "categorical", "discrete"]
    min: float | None = None
    max: float | None = None
    values: list[Scalar] | None = None
    scale: Literal["linear", "log"] = "linear"

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.type in ("double", "int"):
            if self.min is None or self.max is None:
                raise ValueError(f"a {self.type} parameter needs 'min' and 'max'")
            if self.min >= self.max:
                raise ValueError(f"'min' ({self.min}) must be less than 'max' ({self.max})")
        elif not self.values:
            raise ValueError(f"a {self.type} parameter needs a non-empty 'values' list")
        return self


class Objective(Spec):
    metric: IoName
    goal: Literal["maximize", "minimize"] = "maximize"
    target: float | None = Field(default=None, description="Stop early when a trial reaches this value.")


class Tuning(Spec):
    search_space: dict[IoName, SearchParameter] = Field(min_length=1)
    objective: Objective
    algorithm: Literal["random", "grid", "bayesianoptimization", "tpe", "hyperband", "cmaes"] = "random"
    max_trials: int = Field(default=12, ge=1, le=1000)
    parallel_trials: int = Field(default=3, ge=1, le=100)
    max_failed_trials: int = Field(default=3, ge=0)


class Distributed(Spec):
    """Train across several workers with the Kubeflow training operator."""

    framework: Literal["pytorch", "tensorflow"]
    workers: int = Field(ge=1, le=512)


class Threshold(Spec):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _some(self) -> Self:
        if self.min is None and self.max is None:
            raise ValueError("give 'min', 'max' or both")
        return self


class Step(Spec):
    kind: StepKind = "container"
    image: Image | None = Field(
        default=None, description="Container image; default for built-in stage kinds: project.stageImage."
    )
    command: list[str] = []
    args: list[str] = []
    inputs: dict[IoName, OutputRef | Scalar] = Field(
        default={}, description="Input name to an earlier step's output (<step>.<output>) or a literal value."
    )
    outputs: dict[IoName, OutputType] = {}
    depends_on: list[Name] = Field(
        default=[], description="Steps to wait for besides those whose outputs are inputs here."
    )
    resources: Resources = Resources()
    retries: int = Field(default=0, ge=0, le=10)
    caching: bool = True
    timeout: Duration | None = None
    when: Condition | None = None
    parallel_for: ParallelFor | None = None
    env: dict[EnvVar, str] = {}
    secrets: dict[EnvVar, SecretRef] = Field(
        default={}, description="Environment variable name to a Secret Manager reference."
    )
    source: IngestSource | None = Field(default=None, description="ingest: where the data comes from.")
    tuning: Tuning | None = Field(default=None, description="tune: search space, objective and trial budget.")
    distributed: Distributed | None = Field(
        default=None, description="train: run as a distributed training job."
    )
    thresholds: dict[IoName, Threshold] = Field(
        default={}, description="evaluate: metric thresholds that must hold for the push to run."
    )
    model: Name | None = Field(
        default=None, description="push: the registry entry under `models` to publish to."
    )

    def references(self) -> Iterator[tuple[str, str, tuple[str, ...]]]:
        """Every ``<step>.<output>`` this step reads: (step, output, path relative to the step)."""
        for name, value in self.inputs.items():
            if isinstance(value, str) and (m := OUTPUT_REF.match(value)):
                yield m[1], m[2], ("inputs", name)
        if self.when is not None and (m := OUTPUT_REF.match(self.when.output)):
            yield m[1], m[2], ("when", "output")
        loop = self.parallel_for.from_output if self.parallel_for is not None else None
        if loop is not None and (m := OUTPUT_REF.match(loop)):
            yield m[1], m[2], ("parallelFor", "fromOutput")

    @model_validator(mode="after")
    def _kind_sections(self) -> Self:
        required = {"ingest": "source", "tune": "tuning", "push": "model"}
        allowed = {
            "source": {"ingest"},
            "tuning": {"tune"},
            "distributed": {"train"},
            "thresholds": {"evaluate"},
            "model": {"push"},
        }
        if self.kind in required and getattr(self, required[self.kind]) is None:
            raise ValueError(f"a '{self.kind}' step needs '{required[self.kind]}'")
        for section, kinds in allowed.items():
            value = getattr(self, section)
            if value and self.kind not in kinds:
                raise ValueError(f"'{section}' is only valid for steps of kind {', '.join(sorted(kinds))}")
        if self.kind == "container" and self.image is None:
            raise ValueError("a 'container' step needs an 'image'")
        return self


class Schedule(Spec):
    cron: Cron
    time_zone: TimeZone = "Etc/UTC"
    concurrency_policy: Literal["Allow", "Forbid", "Replace"] = "Forbid"
    parameters: dict[IoName, Scalar] = {}


class NewData(Spec):
    bucket: Name | None = None
    prefix: str = ""
    dataset: Name | None = None
    table: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.bucket is None) == (self.dataset is None):
            raise ValueError("give exactly one of 'bucket' or 'dataset'")
        return self


class Trigger(Spec):
    """Start the pipeline when new data lands or when a monitor alerts."""

    new_data: NewData | None = None
    monitor: Name | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.new_data is None) == (self.monitor is None):
            raise ValueError("give exactly one of 'newData' or 'monitor'")
        return self


class Pipeline(Spec):
    description: str = ""
    parameters: dict[IoName, Scalar] = {}
    steps: dict[Name, Step] = Field(min_length=1)
    node_pool: Name | None = Field(default=None, description="Default node pool for steps that name none.")
    schedule: Schedule | None = None
    triggers: list[Trigger] = []
    service_account: Name | None = Field(
        default=None,
        description="A service account under security.serviceAccounts; default: one of the pipeline's own.",
    )
