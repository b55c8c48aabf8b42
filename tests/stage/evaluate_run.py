"""Running the ``evaluate`` stage on a folder holding ``model/`` and ``examples/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlopsctl_stage.cli import main


def run_evaluate(root: Path, config: dict[str, Any], *extra: str) -> None:
    """``mlopsctl-stage evaluate`` with ``config``, writing ``metrics/`` and ``blessed`` under ``root``."""
    main(
        [
            "evaluate",
            "--config",
            json.dumps(config),
            "--model",
            str(root / "model"),
            "--examples",
            str(root / "examples"),
            "--metrics",
            str(root / "metrics"),
            "--blessed",
            str(root / "blessed"),
            *extra,
        ]
    )
