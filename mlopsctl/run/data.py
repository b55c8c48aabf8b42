"""The sample data of a local run, copied to where the stage runtime's local storage finds it.

An example keeps its sample data beside mlops.yaml, under the keys the config uses:

- ``sample-data/buckets/<bucket key>/<path>`` becomes ``gs://<bucket name>/<path>``;
- ``sample-data/datasets/<dataset key>/<table>.jsonl|csv|parquet`` becomes the BigQuery table
  ``<gcp project>.<dataset id>.<table>``,
- ``sample-data/external/<key>/<path>`` becomes ``<uri>/<path>`` for a ``data.external`` source of
  files (``gs://``), ``sample-data/external/<key>.jsonl|csv|parquet`` the table of one that is
  a BigQuery table (``bq://``), whatever project holds it, and ``sample-data/external/<key>.<ext>``
  what an ``https://`` source's URL serves (without it, the run downloads the URL),

with the names the target resolves the keys to (as the compiler does). In the local storage root
(docs/stages.md) those are ``gcs/<bucket name>/<path>`` and ``bigquery/<project>.<dataset id>.<table>.<ext>``.
Files are copied, never linked: a run that appends to a table must not change the example. Nothing
is read from outside the sample data folder: an entry that links out of it, and a FIFO, device or
socket in it, are refused before anything is copied.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
from collections.abc import Mapping

from mlopsctl.config.diagnostics import did_you_mean
from mlopsctl.config.models import MLOpsConfig
from mlopsctl.config.naming import bucket_name, dataset_id
from mlopsctl.config.source import NotRegularFile, open_regular, read_regular
from mlopsctl.config.target import Target
from mlopsctl.run.errors import RunError

SAMPLE_DATA = "sample-data"
TABLE_FORMATS = (".jsonl", ".csv", ".parquet")
LAYOUT = (
    "buckets/<bucket>/<path> and datasets/<dataset>/<table>.jsonl|csv|parquet, "
    "with the keys of data.buckets and data.datasets"
)
FULL_LAYOUT = (
    "buckets/<bucket>/<path>, datasets/<dataset>/<table>.jsonl|csv|parquet and "
    "external/<source>/<path> (gs://), external/<source>.jsonl|csv|parquet (bq://) or "
    "external/<source>.<ext> (https://), "
    "with the keys of data.buckets, data.datasets and data.external"
)
EXTERNAL = "external"


def sample_folder(
    base_dir: pathlib.Path, data: pathlib.Path | None, *, declares_data: bool = True
) -> pathlib.Path | None:
    """The sample data folder: ``data`` if given, else ``sample-data`` beside the config; None when
    neither is given nor there and the config declares no bucket, dataset or gs:// or bq:// external
    source (nothing to copy)."""
    folder = data if data is not None else base_dir / SAMPLE_DATA
    if data is None and not declares_data and not folder.exists():
        return None
    if not folder.is_dir():
        given = "--data" if data is not None else "a local run reads its data from"
        raise RunError(f"{folder}: no such folder ({given} {folder}: {FULL_LAYOUT})")
    if data is None and not folder.resolve().is_relative_to(base_dir.resolve()):
        raise RunError(
            f"{folder}: links outside the folder of mlops.yaml (to {folder.resolve()}), so a local run "
            "does not read it: put the sample data itself there, or name its folder with --data"
        )
    return folder


def stage_data(
    config: MLOpsConfig, target: Target, gcp_project: str, folder: pathlib.Path, root: pathlib.Path
) -> list[pathlib.Path]:
    """Copy the sample data in ``folder`` into the local storage ``root``; returns the files written.

    Every problem (an unknown key, a table file of another format, an entry that links outside
    ``folder`` or is no regular file) is reported at once, once per entry, and then nothing is copied.
    """
    unsafe = _unsafe(folder)
    problems = list(unsafe.values())
    copies: list[tuple[pathlib.Path, pathlib.Path]] = []
    for key, sub in _keys(folder / "buckets", problems, unsafe):
        bucket = config.data.buckets.get(key)
        if bucket is None:
            problems.append(_unknown(sub, "bucket", key, config.data.buckets))
            continue
        destination = root / "gcs" / bucket_name(config, target, key, bucket)
        copies += _files(sub, destination, unsafe)
    for key, sub in _keys(folder / "datasets", problems, unsafe):
        dataset = config.data.datasets.get(key)
        if dataset is None:
            problems.append(_unknown(sub, "dataset", key, config.data.datasets))
            continue
        prefix = f"{gcp_project}.{dataset_id(target, key, dataset)}"
        for table in sorted(sub.iterdir()):
            if table in unsafe:
                continue
            if not table.is_file() or table.suffix not in TABLE_FORMATS:
                problems.append(f"{table}: a table is a file <table>{'|'.join(TABLE_FORMATS)}")
                continue
            copies.append((table, root / "bigquery" / f"{prefix}.{table.stem}{table.suffix}"))
    copies += _external(config, folder / EXTERNAL, root, problems, unsafe)
    if problems:
        raise RunError("\n".join(problems))
    for source, destination in copies:
        destination.parent.mkdir(parents=True, exist_ok=True)
        _copy(source, destination)
    return [destination for _, destination in copies]


def _external(
    config: MLOpsConfig,
    folder: pathlib.Path,
    root: pathlib.Path,
    problems: list[str],
    unsafe: Mapping[pathlib.Path, str],
) -> list[tuple[pathlib.Path, pathlib.Path]]:
    """The copies of ``external/``: a folder of files per ``gs://`` source, one table file per
    ``bq://`` source (as the ingest stage reads it: a ``bq://`` URI is a table whatever its format),
    and one file per ``https://`` source, read instead of downloading the URL."""
    if folder in unsafe or not folder.is_dir():
        return []
    copies: list[tuple[pathlib.Path, pathlib.Path]] = []
    files: dict[str, pathlib.Path] = {}
    for entry in sorted(folder.iterdir()):
        if entry in unsafe:
            continue
        key = entry.name if entry.is_dir() else entry.stem
        source = config.data.external.get(key)
        if source is None:
            problems.append(_unknown(entry, "source", key, config.data.external, section="data.external"))
            continue
        uri = source.uri
        if uri.startswith("gs://"):
            if not entry.is_dir():
                problems.append(
                    f"{entry}: data.external.{key} is the files under {uri}: its sample data is the "
                    f"folder {folder / key}/ holding them"
                )
                continue
            destination = root / "gcs" / uri.removeprefix("gs://").rstrip("/")
            copies += _files(entry, destination, unsafe)
            continue
        table = uri.startswith("bq://")
        if entry.is_dir() or (table and entry.suffix not in TABLE_FORMATS):
            problems.append(f"{entry}: data.external.{key} is {_one_file(uri, folder / key)}")
        elif key in files:
            problems.append(f"{entry}: data.external.{key} already has its file in {files[key]}")
        else:
            files[key] = entry
            if table:
                copies.append((entry, root / "bigquery" / f"{uri.removeprefix('bq://')}{entry.suffix}"))
            else:
                copies.append((entry, root / "https" / hashlib.sha256(uri.encode()).hexdigest()))
    return copies


def _one_file(uri: str, stem: pathlib.Path) -> str:
    """What a ``bq://`` or ``https://`` source is, and the one file that is its sample data."""
    if uri.startswith("bq://"):
        formats = "|".join(f.lstrip(".") for f in TABLE_FORMATS)
        return f"the BigQuery table {uri}: its sample data is one file {stem}.{formats}"
    return (
        f"the file {uri} serves: its sample data, which a local run reads instead of downloading it, "
        f"is one file {stem}.<ext> in its format"
    )


def _keys(
    folder: pathlib.Path, problems: list[str], unsafe: Mapping[pathlib.Path, str]
) -> list[tuple[str, pathlib.Path]]:
    if folder in unsafe or not folder.is_dir():
        return []
    found = []
    for entry in sorted(folder.iterdir()):
        if entry in unsafe:
            continue
        if entry.is_dir():
            found.append((entry.name, entry))
        else:
            problems.append(f"{entry}: expected a folder per key ({LAYOUT})")
    return found


def _files(
    sub: pathlib.Path, destination: pathlib.Path, unsafe: Mapping[pathlib.Path, str]
) -> list[tuple[pathlib.Path, pathlib.Path]]:
    """The copies of the files under the folder ``sub`` of a bucket or ``gs://`` source."""
    return [
        (f, destination / f.relative_to(sub))
        for f in sorted(sub.rglob("*"))
        if f not in unsafe and f.is_file()
    ]


def _unsafe(folder: pathlib.Path) -> dict[pathlib.Path, str]:
    """Each entry under ``folder`` that a local run must not read, with why: a link that leads out of
    ``folder`` (or to nothing), and a FIFO, device or socket (reading one could wait forever). As the
    templates and the lock, a link is judged by where it resolves to; links into ``folder`` are read."""
    real = folder.resolve()
    found: dict[pathlib.Path, str] = {}

    def unreadable(exc: OSError) -> None:
        found[pathlib.Path(str(exc.filename))] = f"{exc.filename}: cannot be read ({exc.strerror})"

    for top, folders, files in os.walk(folder, onerror=unreadable):  # linked folders are not entered:
        # the entries they lead to are checked where they are, inside ``folder``, or refused
        for name in sorted([*folders, *files]):
            entry = pathlib.Path(top, name)
            problem = _link_problem(entry, real) if entry.is_symlink() else None
            if problem is None and name in files:
                try:
                    read_regular(entry, 0)
                except NotRegularFile as exc:
                    problem = f"{exc}: sample data is made of regular files (and folders)"
                except OSError as exc:
                    problem = f"cannot be read ({exc.strerror})"
            if problem is not None:
                found[entry] = f"{entry}: {problem}"
    return dict(sorted(found.items()))


def _link_problem(entry: pathlib.Path, real: pathlib.Path) -> str | None:
    try:
        target = entry.resolve(strict=True)
    except (OSError, RuntimeError):
        return f"is a link that leads to no file ({os.readlink(entry)}): remove it or make it a regular file"
    if target.is_relative_to(real):
        return None
    return (
        f"links outside the sample data folder (to {target}), so a local run does not read it: "
        f"copy the data itself into {real} instead of linking it"
    )


def _copy(source: pathlib.Path, destination: pathlib.Path) -> None:
    """Copy the regular file ``source``, checked again as it is opened, in case it was replaced since
    (a FIFO would wait for a writer)."""
    try:
        with open_regular(source) as handle, destination.open("wb") as copy:
            shutil.copyfileobj(handle, copy)
    except NotRegularFile:
        raise RunError(f"{source}: changed into no regular file while it was copied: run again") from None


def _unknown(
    path: pathlib.Path, noun: str, key: str, declared: Mapping[str, object], section: str = ""
) -> str:
    hint = did_you_mean(key, declared) or f"declared: {', '.join(sorted(declared)) or 'none'}"
    return f"{path}: no {noun} '{key}' under {section or f'data.{noun}s'} ({hint})"
