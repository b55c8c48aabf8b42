"""The sample data of a local run, copied to where the stage runtime's local storage finds it.

An example keeps its sample data beside mlops.yaml, under the keys the config uses:

- ``sample-data/buckets/<bucket key>/<path>`` becomes ``gs://<bucket name>/<path>``;
- ``sample-data/datasets/<dataset key>/<table>.jsonl|csv|parquet`` becomes the BigQuery table
  ``<gcp project>.<dataset id>.<table>``,

with the names the target resolves the keys to (as the compiler does). In the local storage root
(docs/stages.md) those are ``gcs/<bucket name>/<path>`` and ``bigquery/<project>.<dataset id>.<table>.<ext>``.
Files are copied, never linked: a run that appends to a table must not change the example.
"""

from __future__ import annotations

import pathlib
import shutil
from collections.abc import Mapping

from mlopsctl.config.diagnostics import did_you_mean
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.naming import bucket_name, dataset_id
from mlopsctl.config.target import Target
from mlopsctl.run.errors import RunError

SAMPLE_DATA = "sample-data"
TABLE_FORMATS = (".jsonl", ".csv", ".parquet")
LAYOUT = (
    "buckets/<bucket>/<path> and datasets/<dataset>/<table>.jsonl|csv|parquet, "
    "with the keys of data.buckets and data.datasets"
)


def sample_folder(
    base_dir: pathlib.Path, data: pathlib.Path | None, *, declares_data: bool = True
) -> pathlib.Path | None:
    """The sample data folder: ``data`` if given, else ``sample-data`` beside the config; None when
    neither is given nor there and the config declares no bucket or dataset (nothing to copy)."""
    folder = data if data is not None else base_dir / SAMPLE_DATA
    if data is None and not declares_data and not folder.exists():
        return None
    if not folder.is_dir():
        given = "--data" if data is not None else "a local run reads its data from"
        raise RunError(f"{folder}: no such folder ({given} {folder}: {LAYOUT})")
    return folder


def stage_data(
    config: MLOpsConfig, target: Target, gcp_project: str, folder: pathlib.Path, root: pathlib.Path
) -> list[pathlib.Path]:
    """Copy the sample data in ``folder`` into the local storage ``root``; returns the files written.

    Every problem (an unknown key, a table file of another format) is reported at once.
    """
    problems: list[str] = []
    copies: list[tuple[pathlib.Path, pathlib.Path]] = []
    for key, sub in _keys(folder / "buckets", problems):
        bucket = config.data.buckets.get(key)
        if bucket is None:
            problems.append(_unknown(sub, "bucket", key, config.data.buckets))
            continue
        destination = root / "gcs" / bucket_name(config, target, key, bucket)
        copies += [(f, destination / f.relative_to(sub)) for f in sorted(sub.rglob("*")) if f.is_file()]
    for key, sub in _keys(folder / "datasets", problems):
        dataset = config.data.datasets.get(key)
        if dataset is None:
            problems.append(_unknown(sub, "dataset", key, config.data.datasets))
            continue
        prefix = f"{gcp_project}.{dataset_id(target, key, dataset)}"
        for table in sorted(sub.iterdir()):
            if not table.is_file() or table.suffix not in TABLE_FORMATS:
                problems.append(f"{table}: a table is a file <table>{'|'.join(TABLE_FORMATS)}")
                continue
            copies.append((table, root / "bigquery" / f"{prefix}.{table.stem}{table.suffix}"))
    if problems:
        raise RunError("\n".join(problems))
    for source, destination in copies:
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
    return [destination for _, destination in copies]


def _keys(folder: pathlib.Path, problems: list[str]) -> list[tuple[str, pathlib.Path]]:
    if not folder.is_dir():
        return []
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            found.append((entry.name, entry))
        else:
            problems.append(f"{entry}: expected a folder per key ({LAYOUT})")
    return found


def _unknown(path: pathlib.Path, noun: str, key: str, declared: Mapping[str, object]) -> str:
    hint = did_you_mean(key, declared) or f"declared: {', '.join(sorted(declared)) or 'none'}"
    return f"{path}: no {noun} '{key}' under data.{noun}s ({hint})"
