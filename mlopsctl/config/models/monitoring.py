"""Monitors: drift and skew, SLOs, alert channels and the actions alerts take."""

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from mlopsctl.config.models.pipelines import Schedule
from mlopsctl.config.models.serving import TableRef
from mlopsctl.config.models.types import Duration, Fraction, IoName, Name, Percent, Scalar, SecretRef, Spec
from mlopsctl.config.wording import with_article


class Actions(Spec):
    notify: list[Name] = Field(default=[], description="Alert channels under `alertChannels`.")
    retrain: Name | None = Field(default=None, description="A pipeline to run when the monitor fires.")
    retrain_parameters: dict[IoName, Scalar] = Field(
        default={},
        description=(
            "drift, skew: parameters of the runs the monitor starts, over the pipelines' own "
            "(each must be declared under the parameters of every pipeline it retrains)."
        ),
    )


class Feature(Spec):
    kind: Literal["numeric", "categorical"] = Field(
        description="numeric: compared by Jensen-Shannon divergence; categorical: by L-infinity distance."
    )
    threshold: float | None = Field(
        default=None, gt=0, le=1, description="Default: the monitor's threshold for this kind."
    )


class DefaultThresholds(Spec):
    numeric: float = Field(
        default=0.1,
        gt=0,
        le=1,
        description="Jensen-Shannon divergence above which a numeric feature has drifted.",
    )
    categorical: float = Field(
        default=0.1,
        gt=0,
        le=1,
        description="L-infinity distance above which a categorical feature has drifted.",
    )


class DataMonitor(Spec):
    """Feature drift (serving vs recent serving) or training-serving skew (serving vs training data)."""

    type: Literal["drift", "skew"] = Field(
        description=(
            "drift or skew: both compare the endpoint's request log with `baseline` (training data for skew)."
        )
    )
    endpoint: Name = Field(
        description="The endpoint under `endpoints` whose request log (its `logging` table) is compared."
    )
    baseline: TableRef = Field(
        description="The dataset the serving data is compared with (training data for skew)."
    )
    features: dict[str, Feature] = Field(
        min_length=1, description="Feature name to its kind and threshold; at least one."
    )
    thresholds: DefaultThresholds = Field(
        default=DefaultThresholds(), description="Threshold per feature kind, for features that set none."
    )
    sampling_rate: Fraction = Field(
        default=1.0, description="Fraction (0-1) of the request log's rows compared on each run."
    )
    window: Duration = Field(default="24h", description="How far back each run reads the request log.")
    schedule: Schedule = Field(description="When the monitor runs (a CronJob).")
    actions: Actions = Field(
        default=Actions(), description="What a drifted feature does: notify channels, start retraining runs."
    )


class SloMonitor(Spec):
    type: Literal["latency", "error-rate", "availability"] = Field(
        description="What the objective bounds: the endpoint's latency, error rate or availability."
    )
    endpoint: Name = Field(description="The endpoint under `endpoints` the objective applies to.")
    objective: float = Field(
        gt=0,
        description=(
            "latency: milliseconds at `percentile`; error-rate: max percent; availability: min percent."
        ),
    )
    percentile: Percent = Field(
        default=99.0, description="latency: the percentile of request latency the objective bounds."
    )
    window: Duration = Field(
        default="5m", description="How long the objective must be violated before the alert fires."
    )
    actions: Actions = Field(
        default=Actions(), description="What the alert does: notify channels, start a run of a pipeline."
    )

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.actions.retrain_parameters:
            raise ValueError(
                "retrainParameters in 'actions' are passed by drift and skew monitors only: "
                "an SLO alert starts its runs with the pipelines' own parameters"
            )
        if self.type != "latency" and self.objective > 100:
            raise ValueError(
                f"{with_article(self.type)} objective is a percentage (0-100), got {self.objective}"
            )
        return self


Monitor = Annotated[DataMonitor | SloMonitor, Field(discriminator="type")]


class AlertChannel(Spec):
    type: Literal["email", "slack", "pagerduty"] = Field(
        description="Where alerts go: email, slack or pagerduty."
    )
    address: str | None = Field(default=None, description="email: the address to notify.")
    secret: SecretRef | None = Field(
        default=None,
        description="slack/pagerduty: Secret Manager secret holding the webhook URL or service key.",
    )
    channel: str | None = Field(default=None, description="slack: the channel name.")

    @model_validator(mode="after")
    def _fields(self) -> Self:
        if self.type == "email" and not self.address:
            raise ValueError("an email channel needs 'address'")
        if self.type != "email" and not self.secret:
            raise ValueError(f"{with_article(self.type)} channel needs 'secret' (a Secret Manager reference)")
        return self
