"""Model registry entries and their versions."""

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from mlopsctl.config.models.types import GcsUri, Labels, Spec

Framework = Literal["tensorflow", "pytorch", "sklearn", "xgboost", "onnx", "tensorrt", "huggingface"]
VersionName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9][-a-zA-Z0-9_.]{0,62}$")]


class ModelVersion(Spec):
    artifact_uri: GcsUri
    description: str = ""
    labels: Labels = {}


class RegisteredModel(Spec):
    framework: Framework
    description: str = ""
    versions: dict[VersionName, ModelVersion] = Field(min_length=1)
