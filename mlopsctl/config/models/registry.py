"""Model registry entries and their versions."""

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from mlopsctl.config.models.types import GcsUri, Labels, Spec

Framework = Literal["tensorflow", "pytorch", "sklearn", "xgboost", "onnx", "tensorrt", "huggingface"]
VersionName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9][-a-zA-Z0-9_.]{0,62}$")]


class ModelVersion(Spec):
    artifact_uri: GcsUri = Field(
        description="gs:// URI of the version's model artifacts, which KServe loads (storageUri)."
    )
    description: str = Field(default="", description="Free text describing the version.")
    labels: Labels = Field(default={}, description="Labels of the version (lowercase keys and values).")


class RegisteredModel(Spec):
    framework: Framework = Field(
        description=(
            "Framework the artifacts are saved with: picks the KServe model format and default runtime."
        )
    )
    description: str = Field(default="", description="Free text describing the model.")
    versions: dict[VersionName, ModelVersion] = Field(
        min_length=1, description="Version name (e.g. v3) to its artifacts; at least one."
    )
