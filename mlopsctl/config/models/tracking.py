"""Experiment tracking and lineage on Vertex AI, for pipelines on either placement."""

from pydantic import Field

from mlopsctl.config.models.types import Spec


class Tracking(Spec):
    experiments: bool = Field(
        default=False,
        description=(
            "Log the metrics of evaluate and train-job steps as Vertex AI experiment runs, in an "
            "experiment per pipeline of the project's default metadata store of each region "
            "(the steps create the experiment when it is missing)."
        ),
    )
    tensorboard: bool = Field(
        default=False,
        description="Create a Vertex AI TensorBoard per environment and region; train steps get its name.",
    )
