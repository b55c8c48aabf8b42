"""Tuning and distributed training: the search space, objective and trial budget of ``tune``
steps, and the workers of a distributed ``train`` step."""

import math
from typing import Literal, Self

from pydantic import Field, model_validator

from mlopsctl.config.models.types import IoName, Scalar, Spec
from mlopsctl.config.wording import with_article


class SearchParameter(Spec):
    type: Literal["double", "int", "categorical", "discrete"] = Field(
        description="double or int: a range (min, max); categorical or discrete: a list of values."
    )
    min: float | None = Field(default=None, description="double/int: lower bound.")
    max: float | None = Field(default=None, description="double/int: upper bound.")
    step: float | None = Field(
        default=None,
        gt=0,
        description="double/int: spacing of the values the grid algorithm tries (int default: 1).",
    )
    values: list[Scalar] | None = Field(default=None, description="categorical/discrete: the values to try.")
    scale: Literal["linear", "log"] = Field(
        default="linear",
        description="double/int: sample uniformly (linear) or log-uniformly (log, needs min > 0).",
    )

    @property
    def numeric(self) -> bool:
        return self.type in NUMERIC_PARAMETERS

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if not self.numeric:
            if not self.values:
                raise ValueError(f"{with_article(self.type)} parameter needs a non-empty 'values' list")
            if (
                self.min is not None
                or self.max is not None
                or self.step is not None
                or self.scale != "linear"
            ):
                raise ValueError(
                    f"{with_article(self.type)} parameter takes 'values', not min, max, step or scale"
                )
            return self
        if self.min is None or self.max is None:
            raise ValueError(f"{with_article(self.type)} parameter needs 'min' and 'max'")
        if self.min >= self.max:
            raise ValueError(f"'min' ({self.min:g}) must be less than 'max' ({self.max:g})")
        if self.values is not None:
            raise ValueError(f"{with_article(self.type)} parameter takes 'min' and 'max', not 'values'")
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
    metric: IoName = Field(description="Name of the metric each trial reports.")
    goal: Literal["maximize", "minimize"] = Field(
        default="maximize", description="Whether higher or lower is better."
    )
    target: float | None = Field(default=None, description="Stop early when a trial reaches this value.")


class Tuning(Spec):
    search_space: dict[IoName, SearchParameter] = Field(
        min_length=1, description="Hyperparameter name to its range or values; at least one."
    )
    objective: Objective = Field(description="The metric to optimise, and in which direction.")
    algorithm: Literal["random", "grid", "bayesianoptimization", "tpe", "hyperband", "cmaes"] = Field(
        default="random", description="Search algorithm of the Katib Experiment."
    )
    max_trials: int = Field(default=12, ge=1, le=1000, description="Most trials in all.")
    parallel_trials: int = Field(default=3, ge=1, le=100, description="Most trials running at once.")
    max_failed_trials: int = Field(
        default=3, ge=0, description="Failed trials after which the Katib Experiment fails."
    )
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


MAX_WORKERS = 2048
"""Above the largest multi-host TPU slice in the catalog (v5p 16x16x24: 1536 hosts, one worker each)."""


class Distributed(Spec):
    """Train across several workers with the Kubeflow training operator."""

    framework: Literal["pytorch", "tensorflow"] = Field(
        description="Training framework: runs as a PyTorchJob or TFJob (a JobSet on a multi-host TPU slice)."
    )
    workers: int = Field(
        ge=1,
        le=MAX_WORKERS,
        description=(
            "Pods in all, each with the step's resources: a master (chief) and workers - 1 workers; "
            "on a multi-host TPU slice, one per host."
        ),
    )
