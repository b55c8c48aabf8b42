"""Experiment tracking and lineage on Vertex AI, for pipelines on either placement."""

from pydantic import Field

from mlopsctl.config.models.types import Spec


class Tracking(Spec):
    experiments: bool = Field(
        default=False,
        description=(
            "Create a Vertex AI metadata store per environment and region and an experiment per "
            "pipeline; evaluate steps log their metrics as experiment runs."
        ),
    )
    tensorboard: bool = Field(
        default=False,
        description="Create a Vertex AI TensorBoard per environment and region; train steps get its name.",
    )
