"""Stage tests run the stage runtime in local mode: storage under a temporary root."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def local_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``$ROOT`` of the local storage backend, selected through ``MLOPSCTL_STAGE_LOCAL``."""
    root = tmp_path / "data"
    root.mkdir()
    settings = tmp_path / "local.json"
    settings.write_text(
        json.dumps({"root": str(root), "code": {}, "trials": 2, "endpoints": {}, "now": None})
    )
    monkeypatch.setenv("MLOPSCTL_STAGE_LOCAL", str(settings))
    yield root
