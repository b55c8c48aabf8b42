"""``schema``: infer a TFMD schema from the train split's statistics, as TFDV's ``infer_schema`` does.

- type: statistics ``STRING`` and ``BYTES`` are schema ``BYTES``; ``INT``, ``FLOAT`` and ``STRUCT`` as is;
  an ``INT`` with string statistics (a categorical integer, such as a boolean) gets
  ``int_domain { is_categorical: true }``.
- presence: ``min_count: 1``, and ``min_fraction: 1.0`` for a feature present in every example.
- value count: ``min: 1`` when every present example has a value, ``max: 1`` when none has more than one.
- a string feature with at most ``MAX_STRING_DOMAIN`` distinct values gets a top-level string domain
  named after it (its values sorted), which its ``domain`` names.
- the fields of a struct feature are nested in its ``struct_domain``.
"""

from __future__ import annotations

import argparse
from typing import Any

from mlopsctl_stage import tfmd
from mlopsctl_stage.artifacts import staged_dir
from mlopsctl_stage.errors import StageError
from mlopsctl_stage.tfmd import Proto, SchemaType, Stats

MAX_STRING_DOMAIN = 100
"""TFDV's ``max_string_domain_size``: more distinct values than this and a string feature gets no domain."""

_TYPES = {
    Stats.INT: SchemaType.INT,
    Stats.FLOAT: SchemaType.FLOAT,
    Stats.STRING: SchemaType.BYTES,
    Stats.BYTES: SchemaType.BYTES,
    Stats.STRUCT: SchemaType.STRUCT,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--statistics", required=True, help="The statistics artifact (folder).")
    parser.add_argument("--schema", required=True, help="Where to write the schema artifact.")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    statistics = tfmd.read_statistics(args.statistics)
    if "train" not in statistics:
        raise StageError("--statistics", f"no train split (found: {', '.join(statistics)})")
    schema = infer_schema(statistics["train"])
    with staged_dir(args.schema) as out:
        tfmd.write_schema(out, schema)


def infer_schema(dataset: Proto) -> Proto:
    """The schema of one ``DatasetFeatureStatistics``."""
    schema = tfmd.new_schema()
    parents: dict[tuple[str, ...], Proto] = {(): schema}
    for stats in sorted(dataset.features, key=lambda f: len(tfmd.stats_path(f))):
        path = tfmd.stats_path(stats)
        parent = parents.get(path[:-1])
        if parent is None:  # a field of a struct feature the statistics do not hold
            continue
        features = parent.feature if parent is schema else parent.struct_domain.feature
        feature = features.add(name=path[-1], type=_TYPES[stats.type])
        _presence_and_valency(feature, _common(stats), dataset.num_examples)
        if stats.type == Stats.INT and stats.HasField("string_stats"):
            feature.int_domain.is_categorical = True
        elif stats.type == Stats.STRING:
            _string_domain(schema, feature, path, stats.string_stats)
        elif stats.type == Stats.STRUCT:
            feature.struct_domain.SetInParent()
            parents[path] = feature
    return schema


def _common(stats: Proto) -> Proto:
    kind = stats.WhichOneof("stats")
    if kind is None:
        raise StageError(f"statistics of {'.'.join(tfmd.stats_path(stats))}", "no statistics")
    return getattr(stats, kind).common_stats


def _presence_and_valency(feature: Proto, common: Proto, num_examples: int) -> None:
    feature.presence.min_count = 1
    if num_examples and common.num_missing == 0 and common.num_non_missing == num_examples:
        feature.presence.min_fraction = 1.0
    if common.num_non_missing == 0:
        return
    if common.min_num_values >= 1:
        feature.value_count.min = 1
    if common.max_num_values == 1:
        feature.value_count.max = 1


def _string_domain(schema: Proto, feature: Proto, path: tuple[str, ...], stats: Proto) -> None:
    labels = [bucket.label for bucket in stats.rank_histogram.buckets]
    if not 0 < stats.unique <= MAX_STRING_DOMAIN or len(labels) < stats.unique:
        return
    name = ".".join(path)
    schema.string_domain.add(name=name, value=sorted(labels))
    feature.domain = name
