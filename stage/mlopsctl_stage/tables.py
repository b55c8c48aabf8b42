"""Examples artifacts: one Parquet file per split and a ``metadata.json``, laid out as TFX lays out its own.

```
Split-train/data.parquet
Split-eval/data.parquet
metadata.json   {"label": COLUMN or null, "splits": {"train": ROWS, "eval": ROWS}, "source": ADDRESS, ...}
```
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mlopsctl_stage.artifacts import staged_dir
from mlopsctl_stage.errors import StageError

SPLIT_PREFIX = "Split-"
DATA_FILE = "data.parquet"
METADATA_FILE = "metadata.json"


def write_examples(
    path: str | os.PathLike[str], splits: dict[str, pa.Table], metadata: dict[str, Any]
) -> None:
    """Write ``splits`` and ``metadata`` as the examples artifact ``path``, all at once or not at all.

    ``metadata["splits"]`` is set to each split's row count; the other keys are written as given.
    """
    with staged_dir(path) as out:
        for name, table in splits.items():
            split_dir = out / f"{SPLIT_PREFIX}{name}"
            split_dir.mkdir()
            pq.write_table(table, split_dir / DATA_FILE)
        recorded = {**metadata, "splits": {name: table.num_rows for name, table in splits.items()}}
        (out / METADATA_FILE).write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")


def read_examples(path: str | os.PathLike[str]) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    """The splits (``train`` first, then ``eval``, then any other, by name) and the metadata of ``path``."""
    folder = Path(path)
    try:
        metadata = json.loads((folder / METADATA_FILE).read_text())
    except FileNotFoundError:
        raise StageError(str(folder), f"not an examples artifact: no {METADATA_FILE}") from None
    except (OSError, ValueError) as error:
        raise StageError(str(folder / METADATA_FILE), f"unreadable: {error}") from None
    if not isinstance(metadata, dict):
        raise StageError(str(folder / METADATA_FILE), "must hold a JSON object")
    names = sorted(
        (
            child.name.removeprefix(SPLIT_PREFIX)
            for child in folder.glob(f"{SPLIT_PREFIX}*")
            if child.is_dir()
        ),
        key=lambda name: ({"train": 0, "eval": 1}.get(name, 2), name),
    )
    if not names:
        raise StageError(str(folder), f"not an examples artifact: no {SPLIT_PREFIX}* folders")
    splits: dict[str, pa.Table] = {}
    for name in names:
        data = folder / f"{SPLIT_PREFIX}{name}" / DATA_FILE
        try:
            splits[name] = pq.read_table(data)
        except (OSError, pa.ArrowException) as error:
            raise StageError(str(data), f"unreadable Parquet: {error}") from None
    return splits, metadata
