"""The JSON Schema of mlops.yaml, generated from the models (committed as schemas/mlops.schema.json)."""

from __future__ import annotations

import json
from typing import Any

SCHEMA_ID = "https://mlopsctl.dev/schemas/mlops.schema.json"


def schema() -> dict[str, Any]:
    from mlopsctl.config.models import MLOpsConfig

    generated = MLOpsConfig.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **generated}


def schema_text() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
