"""Policies: which gates ``mlopsctl check`` enforces, their settings and their waivers (docs/policies.md)."""

import datetime
from typing import Annotated, Literal, Self

from pydantic import Field, StringConstraints, field_validator, model_validator

from mlopsctl.config.diagnostics import POLICY_ID
from mlopsctl.config.models.types import EnvName, Percent, Spec

Level = Literal["error", "warning", "off"]
PolicyId = Annotated[
    str,
    StringConstraints(pattern=POLICY_ID.pattern),
    Field(description="A built-in policy id (MLP001...) or the entry-point name of a custom policy."),
]


class Limits(Spec):
    """Upper bounds for one environment, checked in each of its regions at the node pools' maximum size."""

    gpus: int | None = Field(default=None, ge=0, description="GPUs over all node pools at maximum size.")
    tpu_chips: int | None = Field(
        default=None, ge=0, description="TPU chips over all node pools at maximum size."
    )
    monthly_budget: float | None = Field(
        default=None, ge=0, description="USD a month: the node pools' estimated cost at maximum size."
    )


class Waiver(Spec):
    """An accepted exception to one policy, for resources matching a glob or findings under a config path."""

    policy: PolicyId
    resource: str | None = Field(
        default=None, description="A glob over resource addresses: prod/*/gcp:storage/bucket:Bucket/raw."
    )
    path: str | None = Field(default=None, description="A path in mlops.yaml: endpoints.triage.")
    reason: Annotated[str, StringConstraints(min_length=1)] = Field(
        description="Why the exception is accepted."
    )
    expires: Annotated[datetime.date, Field(strict=False)] | None = Field(
        default=None, description="From the day after this date (YYYY-MM-DD) the waiver no longer applies."
    )

    @field_validator("reason")
    @classmethod
    def _said(cls, reason: str) -> str:
        if not reason.strip():
            raise ValueError("a waiver's reason is blank: say why the exception is accepted")
        return reason

    @model_validator(mode="after")
    def _one_selector(self) -> Self:
        if (self.resource is None) == (self.path is None):
            raise ValueError("give exactly one of 'resource' or 'path'")
        return self


class Policies(Spec):
    production: list[EnvName] = Field(
        default=["prod"], description="Environments the production policies apply to."
    )
    levels: dict[PolicyId, Level] = Field(
        default={}, description="Per policy: error (the default), warning, or off."
    )
    min_replicas: int = Field(
        default=2, ge=1, description="Fewest replicas each variant of a production endpoint keeps."
    )
    canary_max_first_step: Percent = Field(
        default=10, description="Most traffic a canary's first step may send to the candidate (percent)."
    )
    limits: dict[EnvName, Limits] = Field(
        default={}, description="GPU, TPU and budget limits per environment."
    )
    allowed_multi_regions: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9]*$")]] = Field(
        default=[],
        description=(
            "Multi-regions and dual-regions (US, EU, NAM4, global) resources may use; none by default."
        ),
    )
    authorized_network_min_prefix: int = Field(
        default=16,
        ge=0,
        le=32,
        description="Shortest prefix an authorized network of the control plane may have (MLP011).",
    )
    waivers: list[Waiver] = Field(
        default=[], description="Accepted exceptions to policies, each with a reason and optional expiry."
    )
