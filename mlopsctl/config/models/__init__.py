"""The mlops.yaml language as pydantic models; the JSON Schema is generated from these."""

from mlopsctl.config.models.root import API_VERSION, KIND, MLOpsConfig

__all__ = ["API_VERSION", "KIND", "MLOpsConfig"]
