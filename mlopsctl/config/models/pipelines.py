"""Pipelines: named DAGs of TFX-style steps, their schedules and triggers."""

import math
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
    step: float | None = Field(
        default=None,
        gt=0,
        description="double/int: spacing of the values the grid algorithm tries (int default: 1).",
    )
    values: list[Scalar] | None = None
    scale: Literal["linear", "log"] = "linear"

    @property
    def numeric(self) -> bool:
        return self.type in NUMERIC_PARAMETERS

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if not self.numeric:
            if not self.values:
                raise ValueError(f"a {self.type} parameter needs a non-empty 'values' list")
            if (
                self.min is not None
                or self.max is not None
                or self.step is not None
                or self.scale != "linear"
            ):
                raise ValueError(f"a {self.type} parameter takes 'values', not min, max, step or scale")
            return self
        if self.min is None or self.max is None:
            raise ValueError(f"a {self.type} parameter needs 'min' and 'max'")
        if self.min >= self.max:
            raise ValueError(f"'min' ({self.min:g}) must be less than 'max' ({self.max:g})")
        if self.values is not None:
            raise ValueError(f"a {self.type} parameter takes 'min' and 'max', not 'values'")
        if self.type == "int" and any(v is not None and v != int(v) for v in (self.min, self.max, self.step)):
            raise ValueError("'min', 'max' and 'step' of an int parameter must be whole numbers")
        if self.scale == "log" and self.min <= 0:
            raise ValueError(f"'min' ({self.min:g}) must be greater than 0 on a log scale")
        return self

    def grid_size(self) -> int | None:
        """How many values the grid algorithm tries; None for a double without a step."""
        if not self.numeric:
            return len(self.values or [])
        assert self.min is not None and self.max is not None
        step = self.step or (1 if self.type == "int" else None)
        return None if step is None else math.floor((self.max - self.min) / step + 1e-9) + 1


NUMERIC_PARAMETERS = ("double", "int")
HYPERBAND_ETA = 3
"""Hyperband's reduction factor (Katib's default): each round keeps the best third of the trials."""


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
    resource: IoName | None = Field(
        default=None,
        description=(
            "hyperband: the int parameter of the search space that is each trial's budget "
            "(e.g. epochs); its max is the largest budget a trial gets."
        ),
    )

    @model_validator(mode="after")
    def _budget(self) -> Self:
        if self.parallel_trials > self.max_trials:
            raise ValueError(
                f"parallelTrials ({self.parallel_trials}) is greater than maxTrials ({self.max_trials})"
            )
        if self.max_failed_trials > self.max_trials:
            raise ValueError(
                f"maxFailedTrials ({self.max_failed_trials}) is greater than maxTrials ({self.max_trials})"
            )
        if self.resource is not None and self.algorithm != "hyperband":
            raise ValueError("'resource' is only used by the hyperband algorithm")
        check = {"grid": self._grid, "cmaes": self._cmaes, "hyperband": self._hyperband}.get(self.algorithm)
        if check is not None:
            check()
        return self

    def _grid(self) -> None:
        sizes = {name: p.grid_size() for name, p in self.search_space.items()}
        missing = sorted(name for name, size in sizes.items() if size is None)
        if missing:
            raise ValueError(f"the grid algorithm needs a 'step' for double parameters: {', '.join(missing)}")
        combinations = math.prod(size or 0 for size in sizes.values())
        if self.max_trials > combinations:
            raise ValueError(
                f"maxTrials ({self.max_trials}) is greater than the {combinations} combinations of the grid"
            )

    def _cmaes(self) -> None:
        if sum(p.numeric for p in self.search_space.values()) < 2:
            raise ValueError(
                "the cmaes algorithm needs at least two double or int parameters in 'searchSpace'"
            )

    def _hyperband(self) -> None:
        resource = self.search_space.get(self.resource or "")
        if resource is None or resource.type != "int":
            raise ValueError(
                "the hyperband algorithm needs 'resource': an int parameter of 'searchSpace' (e.g. epochs)"
            )
        assert resource.max is not None
        needed = HYPERBAND_ETA ** int(math.log(resource.max) / math.log(HYPERBAND_ETA))
        if self.parallel_trials < needed:
            raise ValueError(
                f"parallelTrials ({self.parallel_trials}) must be at least {needed} for hyperband "
                f"with a largest budget of {resource.max:g}"
            )


class Distributed(Spec):
    """Train across several workers with the Kubeflow training operator."""

    framework: Literal["pytorch", "tensorflow"]
    workers: int = Field(
        ge=1,
        le=512,
        description="Pods in all, each with the step's resources: a master (chief) and workers - 1 workers.",
    )


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
