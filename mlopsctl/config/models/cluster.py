"""The GKE cluster of each environment/region: how it is upgraded and when."""

from typing import Annotated, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from mlopsctl.config.models.types import Spec

Weekday = Literal["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
MIN_MAINTENANCE_HOURS_PER_WEEK = 12
"""GKE wants 48 hours of maintenance windows in any 32 days, which hold four of each weekday."""


class MaintenanceWindow(Spec):
    """When GKE may upgrade the cluster and its nodes: ``hours`` from ``start`` (UTC) on ``days``."""

    start: Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] = Field(
        default="03:00", description="Start of each window, HH:MM in UTC."
    )
    hours: int = Field(default=8, ge=4, le=24, description="Length of each window (GKE needs at least 4).")
    days: list[Weekday] = Field(
        default=["SA", "SU"],
        min_length=1,
        max_length=7,
        description="Weekdays of the windows (MO-SU); days times hours must be at least 12.",
    )

    @model_validator(mode="after")
    def _long_enough(self) -> Self:
        if len(set(self.days)) != len(self.days):
            raise ValueError(f"days lists a day twice: {', '.join(self.days)}")
        if len(self.days) * self.hours < MIN_MAINTENANCE_HOURS_PER_WEEK:
            raise ValueError(
                f"{len(self.days)} day(s) of {self.hours} hours is less than GKE's minimum of "
                f"{MIN_MAINTENANCE_HOURS_PER_WEEK} hours a week (48 hours in 32 days): add days or hours"
            )
        return self


class Cluster(Spec):
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = Field(
        default="REGULAR", description="GKE release channel the control plane and nodes follow."
    )
    maintenance_window: MaintenanceWindow = Field(
        default=MaintenanceWindow(), description="When GKE may upgrade the cluster and its nodes."
    )
