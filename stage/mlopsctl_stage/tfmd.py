"""TensorFlow Metadata protos (statistics, schemas, anomalies), read and written as TFX lays them out.

The generated proto modules carry no type information, so their messages are typed ``Proto`` here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from google.protobuf import text_format  # type: ignore[import-untyped, unused-ignore]
from google.protobuf.message import DecodeError  # type: ignore[import-untyped, unused-ignore]
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from mlopsctl_stage.errors import StageError
from mlopsctl_stage.tables import SPLIT_PREFIX

Proto = Any
"""A message of one of the TFMD proto modules."""

STATISTICS_FILE = "FeatureStats.pb"
SCHEMA_FILE = "schema.pbtxt"
ANOMALIES_FILE = "SchemaDiff.pb"

Stats = statistics_pb2.FeatureNameStatistics
"""Feature types of statistics (``Stats.INT``, ``FLOAT``, ``STRING``, ``BYTES``, ``STRUCT``)."""
Histogram = statistics_pb2.Histogram
"""Histogram types (``Histogram.STANDARD``, ``Histogram.QUANTILES``)."""
SchemaType = schema_pb2.FeatureType
"""Feature types of schemas (``SchemaType.INT``, ``FLOAT``, ``BYTES``, ``STRUCT``)."""
Anomaly = anomalies_pb2.AnomalyInfo
"""Anomaly reason types (``Anomaly.SCHEMA_NEW_COLUMN``, ...) and severities."""

DEFAULT_SLICE = "All Examples"
"""The name TFDV gives the statistics of a whole dataset (its default slice)."""


def new_statistics_list() -> Proto:
    return statistics_pb2.DatasetFeatureStatisticsList()


def new_common_statistics() -> Proto:
    return statistics_pb2.CommonStatistics()


def new_schema() -> Proto:
    return schema_pb2.Schema()


def new_anomalies() -> Proto:
    return anomalies_pb2.Anomalies()


def write_splits(folder: Path, file_name: str, protos: dict[str, Proto]) -> None:
    """``folder/Split-NAME/file_name`` for each split: the binary serialization of its proto."""
    for name, proto in protos.items():
        split_dir = folder / f"{SPLIT_PREFIX}{name}"
        split_dir.mkdir(parents=True, exist_ok=True)
        (split_dir / file_name).write_bytes(proto.SerializeToString(deterministic=True))


def read_statistics(path: str | os.PathLike[str]) -> dict[str, Proto]:
    """Split name → the statistics of its whole dataset (a ``DatasetFeatureStatistics``), train first."""
    found: dict[str, Proto] = {}
    for name, file in _split_files(Path(path), STATISTICS_FILE):
        stats_list = statistics_pb2.DatasetFeatureStatisticsList()
        try:
            stats_list.ParseFromString(file.read_bytes())
        except (OSError, DecodeError) as error:
            raise StageError(str(file), f"not a binary DatasetFeatureStatisticsList: {error}") from None
        if not stats_list.datasets:
            raise StageError(str(file), "holds no dataset statistics")
        found[name] = stats_list.datasets[0]
    if not found:
        raise StageError(str(path), f"not a statistics artifact: no {SPLIT_PREFIX}*/{STATISTICS_FILE}")
    return found


def read_schema(path: str | os.PathLike[str]) -> Proto:
    """The schema in ``path`` (a schema artifact folder, or the ``schema.pbtxt`` file itself)."""
    file = Path(path)
    if file.is_dir():
        file = file / SCHEMA_FILE
    schema = schema_pb2.Schema()
    try:
        text_format.Parse(file.read_text(), schema)
    except FileNotFoundError:
        raise StageError(str(path), f"not a schema artifact: no {SCHEMA_FILE}") from None
    except (OSError, text_format.ParseError) as error:
        raise StageError(str(file), f"not a text Schema: {error}") from None
    return schema


def write_schema(folder: Path, schema: Proto) -> None:
    (folder / SCHEMA_FILE).write_text(text_format.MessageToString(schema))


def stats_path(feature: Proto) -> tuple[str, ...]:
    """The path of a feature's statistics (TFDV names features by ``path``; older writers by ``name``)."""
    return tuple(feature.path.step) if feature.HasField("path") else (feature.name,)


def schema_features(schema: Proto) -> Iterator[tuple[tuple[str, ...], Proto]]:
    """Every feature of ``schema`` with its path, the children of struct features included."""

    def walk(features: Any, parent: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Proto]]:
        for feature in features:
            path = (*parent, feature.name)
            yield path, feature
            if feature.HasField("struct_domain"):
                yield from walk(feature.struct_domain.feature, path)

    yield from walk(schema.feature, ())


def string_domain(schema: Proto, feature: Proto) -> list[str] | None:
    """The allowed values of a string feature: its own ``string_domain`` or the named top-level one."""
    if feature.HasField("string_domain"):
        return list(feature.string_domain.value)
    if feature.HasField("domain"):
        for domain in schema.string_domain:
            if domain.name == feature.domain:
                return list(domain.value)
    return None


def _split_files(folder: Path, file_name: str) -> Iterator[tuple[str, Path]]:
    names = sorted(
        (
            child.name.removeprefix(SPLIT_PREFIX)
            for child in folder.glob(f"{SPLIT_PREFIX}*")
            if child.is_dir()
        ),
        key=lambda name: ({"train": 0, "eval": 1}.get(name, 2), name),
    )
    for name in names:
        file = folder / f"{SPLIT_PREFIX}{name}" / file_name
        if file.is_file():
            yield name, file
