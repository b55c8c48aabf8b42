"""Pipelines: named DAGs of TFX-style steps, their schedules and triggers."""

import re
from collections.abc import Iterator
from typing import Annotated, Literal, Self

from pydantic import Field, StringConstraints, field_validator, model_validator

from mlopsctl.config.durations import parse_duration
from mlopsctl.config.models.data import ColumnName
from mlopsctl.config.models.stages import IngestSource, Split, Threshold, Transforms
from mlopsctl.config.models.tuning import HYPERBAND_ETA as HYPERBAND_ETA
from mlopsctl.config.models.tuning import Distributed as Distributed
from mlopsctl.config.models.tuning import SearchParameter as SearchParameter
from mlopsctl.config.models.tuning import Tuning as Tuning
from mlopsctl.config.models.types import (
    Cron,
    Duration,
    Image,
    IoName,
    Name,
    Problem,
    Scalar,
    SecretRef,
    Spec,
    TimeZone,
    problems,
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
EnvVar = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
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
OWN_IMAGE_KINDS = ("container", "train", "tune")
"""Kinds of steps that run the user's image and command rather than a built-in stage."""
PARAMS = "params"
"""``params.<name>`` among a step's inputs is a pipeline parameter; no step may be named so."""
OutputType = Literal[
    "dataset", "model", "metrics", "artifact", "string", "integer", "float", "boolean", "list"
]


class Resources(Spec):
    cpu: CpuQuantity | None = Field(
        default=None, description="CPU request and limit of the step's container, e.g. 500m or 2."
    )
    memory: MemoryQuantity | None = Field(
        default=None, description="Memory request and limit of the step's container, e.g. 4Gi."
    )
    accelerators: int = Field(
        default=0, ge=0, le=16, description="GPUs (or TPU chips) the step requests from its node pool."
    )
    node_pool: Name | None = Field(
        default=None, description="A pool under `accelerators`; default: the pipeline's nodePool."
    )
    accelerator_type: str | None = Field(
        default=None,
        description="Vertex AI Pipelines: the GPU type of `accelerators`, e.g. NVIDIA_TESLA_T4.",
    )


class Condition(Spec):
    """Run the step only when an earlier step's output compares true."""

    output: OutputRef
    operator: Literal["==", "!=", ">", ">=", "<", "<="] = Field(
        default="==", description="How the output is compared with `value`."
    )
    value: Scalar = Field(description="The value the output is compared with.")


class ParallelFor(Spec):
    """Run the step once per item; the item is available as the input `item`."""

    items: list[Scalar] | None = Field(
        default=None, min_length=1, description="Literal items to loop over, all of one type."
    )
    from_output: OutputRef | None = Field(
        default=None, description="An earlier step's list output to loop over: <step>.<output>."
    )
    parallelism: int | None = Field(
        default=None, ge=1, le=10_000, description="Most iterations running at once; default: no limit."
    )

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


class Step(Spec):
    kind: StepKind = Field(
        default="container",
        description="What the step runs: container (your image) or a built-in stage (see docs/stages.md).",
    )
    image: Image | None = Field(
        default=None, description="Container image; default for built-in stage kinds: project.stageImage."
    )
    command: list[str] = Field(
        default=[],
        description="container, train, tune: the program the image runs (each trial's, for tune).",
    )
    args: list[str] = Field(default=[], description="container, train, tune: arguments before the inputs.")
    code: str | None = Field(
        default=None,
        description="container, train, tune: the folder beside mlops.yaml that the image is built from.",
    )
    inputs: dict[IoName, OutputRef | Scalar] = Field(
        default={},
        description=(
            "Input name to an earlier step's output (<step>.<output>), "
            "a pipeline parameter (params.<name>) or a literal value."
        ),
    )
    outputs: dict[IoName, OutputType] = Field(
        default={}, description="Output name to its type; later steps read it as <step>.<output>."
    )
    depends_on: list[Name] = Field(
        default=[], description="Steps to wait for besides those whose outputs are inputs here."
    )
    resources: Resources = Field(
        default=Resources(), description="CPU, memory, accelerators and node pool of the step."
    )
    retries: int = Field(default=0, ge=0, le=10, description="How many times a failed step is retried.")
    cache: bool | None = Field(
        default=None,
        description=(
            "Reuse the outputs of an earlier run with the same inputs; "
            "default: false for ingest (it reads data that changes), true otherwise."
        ),
    )
    timeout: Duration | None = Field(
        default=None, description="Longest the step may run before it fails; default: no limit."
    )
    when: Condition | None = Field(
        default=None, description="Run the step only when an earlier step's output compares true."
    )

    @field_validator("timeout")
    @classmethod
    def _deadline(cls, timeout: str | None) -> str | None:
        """A timeout is a pod's ``activeDeadlineSeconds``, which Kubernetes takes up to 2^31 - 1."""
        if timeout is not None and parse_duration(timeout) > MAX_DEADLINE_SECONDS:
            raise ValueError(
                f"a timeout of {timeout} is longer than Kubernetes takes for a pod's deadline "
                f"({MAX_DEADLINE_SECONDS}s, about 68 years): give a shorter one, or none for no limit"
            )
        return timeout

    parallel_for: ParallelFor | None = Field(
        default=None, description="Run the step once per item of a list."
    )
    env: dict[EnvVar, str] = Field(
        default={}, description="Environment variables of the step's container, as literal values."
    )
    secrets: dict[EnvVar, SecretRef] = Field(
        default={}, description="Environment variable name to a Secret Manager reference."
    )
    source: IngestSource | None = Field(default=None, description="ingest: where the data comes from.")
    split: Split | None = Field(default=None, description="ingest: train/eval split; default: 20% eval.")
    label: ColumnName | None = Field(
        default=None,
        description="ingest: the label column, recorded with the examples; evaluate: default the examples'.",
    )
    transforms: Transforms = Field(
        default={},
        description=(
            "transform: feature name to its transform; default: standardize numbers, "
            "vocabulary-encode strings, booleans to 0/1 (the label is never transformed)."
        ),
    )
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

    @property
    def runs_own_image(self) -> bool:
        """Whether the step runs the user's image and command (each trial of a tune)."""
        return self.kind in OWN_IMAGE_KINDS

    @property
    def caches(self) -> bool:
        return self.cache if self.cache is not None else self.kind != "ingest"

    def references(self) -> Iterator[tuple[str, str, tuple[str, ...]]]:
        """Every ``<step>.<output>`` this step reads: (step, output, path relative to the step)."""
        for producer, output, path in self._dotted():
            if producer != PARAMS:
                yield producer, output, path

    def parameter_references(self) -> Iterator[tuple[str, tuple[str, ...]]]:
        """Every ``params.<name>`` this step reads: (parameter, path relative to the step)."""
        for producer, name, path in self._dotted():
            if producer == PARAMS:
                yield name, path

    def _dotted(self) -> Iterator[tuple[str, str, tuple[str, ...]]]:
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
            "command": OWN_IMAGE_KINDS,
            "args": OWN_IMAGE_KINDS,
            "code": OWN_IMAGE_KINDS,
            "source": ("ingest",),
            "split": ("ingest",),
            "label": ("ingest", "evaluate"),
            "transforms": ("transform",),
            "tuning": ("tune",),
            "distributed": ("train",),
            "thresholds": ("evaluate",),
            "model": ("push",),
        }
        found: list[Problem] = []
        if self.kind in required and getattr(self, required[self.kind]) is None:
            needed = required[self.kind]
            found.append((f"a '{self.kind}' step needs '{needed}'", f"add '{needed}: ...' to the step"))
        declared = "kind" in self.model_fields_set
        kind = f"kind '{self.kind}'" if declared else f"no kind, so it is a '{self.kind}' step"
        for section, kinds in allowed.items():
            if getattr(self, section) and self.kind not in kinds:
                choices = ", ".join(sorted(kinds))
                fix = f"set kind: {choices}" if len(kinds) == 1 else f"set kind to one of {choices}"
                found.append(
                    (
                        f"'{section}' is only valid for steps of kind {', '.join(sorted(kinds))}, "
                        f"and this step has {kind}",
                        f"delete '{section}', or {fix}" if declared else fix,
                    )
                )
        if self.timeout is not None and parse_duration(self.timeout) == 0:
            found.append(
                (
                    "a timeout of 0s is no time limit a step can keep",
                    "give a longer one, or none for no limit",
                )
            )
        problems(found)
        return self


MAX_DEADLINE_SECONDS = 2**31 - 1


class Schedule(Spec):
    cron: Cron = Field(description="When runs start: a five-field cron expression.")
    time_zone: TimeZone = Field(
        default="Etc/UTC", description="IANA time zone the cron expression is read in."
    )
    concurrency_policy: Literal["Allow", "Forbid", "Replace"] = Field(
        default="Forbid", description="Concurrency policy of the Kubernetes CronJob that starts the runs."
    )
    parameters: dict[IoName, Scalar] = Field(
        default={},
        description="Parameters of the runs a pipeline's schedule starts, over the pipeline's own.",
    )


class NewData(Spec):
    bucket: Name | None = Field(
        default=None, description="A bucket under data.buckets whose new objects start a run."
    )
    prefix: str = Field(
        default="", description="bucket: only objects under this path count; default: the whole bucket."
    )
    dataset: Name | None = Field(
        default=None, description="A dataset under data.datasets whose new partitions start a run."
    )
    table: str | None = Field(
        default=None, description="dataset: the table to watch; default: the whole dataset."
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.bucket is None) == (self.dataset is None):
            raise ValueError("give exactly one of 'bucket' or 'dataset'")
        return self


class Trigger(Spec):
    """Start the pipeline when new data lands or when a monitor alerts."""

    new_data: NewData | None = Field(
        default=None,
        description="Start a run when new objects or partitions appear (polled every 10 minutes).",
    )
    monitor: Name | None = Field(
        default=None, description="A monitor under `monitors` whose alerts start a run."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.new_data is None) == (self.monitor is None):
            raise ValueError("give exactly one of 'newData' or 'monitor'")
        return self


class Pipeline(Spec):
    description: str = Field(
        default="", description="Free text, shown as the pipeline's description in Kubeflow Pipelines."
    )
    parameters: dict[IoName, Scalar] = Field(
        default={}, description="Parameter name to its default value; steps read it as params.<name>."
    )
    steps: dict[Name, Step] = Field(
        min_length=1, description="Steps by name; their order follows inputs and dependsOn."
    )
    node_pool: Name | None = Field(default=None, description="Default node pool for steps that name none.")
    schedule: Schedule | None = Field(
        default=None, description="Start runs on a cron schedule; default: none."
    )
    triggers: list[Trigger] = Field(
        default=[], description="Start runs when new data lands or a monitor alerts."
    )
    service_account: Name | None = Field(
        default=None,
        description="A service account under security.serviceAccounts; default: one of the pipeline's own.",
    )
