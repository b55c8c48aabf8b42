"""``validate``: anomalies of each split's statistics against a schema, as TFDV's ``validate_statistics``.

Checked, with TFMD's anomaly reason types: a schema feature missing from the data
(``SCHEMA_MISSING_COLUMN``), a data feature missing from the schema (``SCHEMA_NEW_COLUMN``), a type
other than the schema's (``UNEXPECTED_DATA_TYPE``), presence below ``min_fraction``/``min_count``
(``FEATURE_TYPE_LOW_FRACTION_PRESENT``/``..._LOW_NUMBER_PRESENT``), value counts outside
``value_count`` (``FEATURE_TYPE_LOW_NUMBER_VALUES``/``..._HIGH_NUMBER_VALUES``) and string values
outside the feature's string domain (``ENUM_TYPE_UNEXPECTED_STRING_VALUES``). Anomalies are keyed by
the feature's serialized path (``parent.child`` for a struct field).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from mlopsctl_stage import tfmd
from mlopsctl_stage.artifacts import staged_dir, write_parameter
from mlopsctl_stage.tfmd import Anomaly, Proto, SchemaType, Stats

SHOWN_VALUES = 10
"""Unexpected string values named in a description, at most."""

_SCHEMA_TYPES = {
    Stats.INT: SchemaType.INT,
    Stats.FLOAT: SchemaType.FLOAT,
    Stats.STRING: SchemaType.BYTES,
    Stats.BYTES: SchemaType.BYTES,
    Stats.STRUCT: SchemaType.STRUCT,
}


@dataclass(frozen=True)
class Reason:
    type: int
    """An ``AnomalyInfo.Type``."""
    short: str
    description: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--statistics", required=True, help="The statistics artifact (folder).")
    parser.add_argument("--schema", required=True, help="The schema artifact (folder or schema.pbtxt).")
    parser.add_argument("--anomalies", required=True, help="Where to write the anomalies artifact.")
    parser.add_argument("--anomaly-count", help="Where to write the number of anomalous features (integer).")
    parser.add_argument("--passed", help="Where to write whether no split has an anomaly (boolean).")


def run(args: argparse.Namespace, config: dict[str, Any]) -> None:
    statistics = tfmd.read_statistics(args.statistics)
    schema = tfmd.read_schema(args.schema)
    anomalies = {name: validate_statistics(dataset, schema) for name, dataset in statistics.items()}
    count = sum(len(found.anomaly_info) for found in anomalies.values())
    for name, found in anomalies.items():
        for key, info in sorted(found.anomaly_info.items()):
            print(f"{name}: {key}: {info.short_description}: {info.description}", file=sys.stderr)
    with staged_dir(args.anomalies) as out:
        tfmd.write_splits(out, tfmd.ANOMALIES_FILE, anomalies)
    write_parameter(args.anomaly_count, count)
    write_parameter(args.passed, count == 0 and not any(found.data_missing for found in anomalies.values()))


def validate_statistics(dataset: Proto, schema: Proto) -> Proto:
    """The ``Anomalies`` of one ``DatasetFeatureStatistics`` against ``schema``."""
    result = tfmd.new_anomalies()
    result.baseline.CopyFrom(schema)
    result.anomaly_name_format = result.SERIALIZED_PATH
    result.data_missing = dataset.num_examples == 0
    observed = {tfmd.stats_path(stats): stats for stats in dataset.features}
    expected = {path: feature for path, feature in tfmd.schema_features(schema) if not feature.deprecated}
    found: dict[tuple[str, ...], list[Reason]] = {}
    for path, feature in expected.items():
        if path[:-1] and path[:-1] not in observed:
            continue  # the struct holding it is reported instead
        stats = observed.get(path)
        reasons = (
            _missing(feature) if stats is None else _compare(schema, feature, stats, dataset.num_examples)
        )
        if reasons:
            found[path] = reasons
    for path in observed:
        if path not in expected and (not path[:-1] or path[:-1] in expected):
            found[path] = [
                Reason(
                    Anomaly.SCHEMA_NEW_COLUMN, "New column", "New column (in the data, not in the schema)."
                )
            ]
    for path, reasons in found.items():
        _record(result.anomaly_info[".".join(path)], path, reasons)
    return result


def _record(info: Proto, path: tuple[str, ...], reasons: list[Reason]) -> None:
    info.path.step.extend(path)
    info.severity = Anomaly.ERROR
    for reason in reasons:
        info.reason.add(type=reason.type, short_description=reason.short, description=reason.description)
    if len(reasons) == 1:
        info.short_description, info.description = reasons[0].short, reasons[0].description
    else:
        info.short_description = "Multiple errors"
        info.description = " ".join(reason.description for reason in reasons)


def _missing(feature: Proto) -> list[Reason]:
    if feature.presence.min_count > 0 or feature.presence.min_fraction > 0:
        return [
            Reason(Anomaly.SCHEMA_MISSING_COLUMN, "Column dropped", "The feature is missing from the data.")
        ]
    return []


def _compare(schema: Proto, feature: Proto, stats: Proto, num_examples: int) -> list[Reason]:
    got = _SCHEMA_TYPES[stats.type]
    if feature.type != got:
        names = SchemaType.Name
        return [
            Reason(
                Anomaly.UNEXPECTED_DATA_TYPE,
                "Unexpected data type",
                f"Expected data of type {names(feature.type)}, got {names(got)}.",
            )
        ]
    kind = stats.WhichOneof("stats")
    if kind is None:  # statistics without values (another tool's): nothing more to check
        return []
    common = getattr(stats, kind).common_stats
    reasons = [*_presence(feature, common, num_examples), *_value_count(feature, common)]
    domain = tfmd.string_domain(schema, feature)
    if domain is not None and stats.HasField("string_stats"):
        reasons.extend(_unexpected_values(domain, stats.string_stats))
    return reasons


def _presence(feature: Proto, common: Proto, num_examples: int) -> list[Reason]:
    present = common.num_non_missing
    fraction = present / num_examples if num_examples else 0.0
    if feature.presence.HasField("min_fraction") and fraction < feature.presence.min_fraction:
        return [
            Reason(
                Anomaly.FEATURE_TYPE_LOW_FRACTION_PRESENT,
                "Column dropped",
                f"The feature is present in fewer examples than expected: minimum fraction "
                f"{feature.presence.min_fraction:g}, actual {fraction:.6g}.",
            )
        ]
    if present < feature.presence.min_count:
        return [
            Reason(
                Anomaly.FEATURE_TYPE_LOW_NUMBER_PRESENT,
                "Column dropped",
                f"The feature is present in fewer examples than expected: minimum count "
                f"{feature.presence.min_count}, actual {present}.",
            )
        ]
    return []


def _value_count(feature: Proto, common: Proto) -> list[Reason]:
    if not feature.HasField("value_count") or common.num_non_missing == 0:
        return []
    reasons = []
    if common.min_num_values < feature.value_count.min:
        reasons.append(
            Reason(
                Anomaly.FEATURE_TYPE_LOW_NUMBER_VALUES,
                "Missing values",
                f"Some examples have fewer values than expected: minimum {feature.value_count.min}, "
                f"actual {common.min_num_values}.",
            )
        )
    if feature.value_count.HasField("max") and common.max_num_values > feature.value_count.max:
        reasons.append(
            Reason(
                Anomaly.FEATURE_TYPE_HIGH_NUMBER_VALUES,
                "Superfluous values",
                f"Some examples have more values than expected: maximum {feature.value_count.max}, "
                f"actual {common.max_num_values}.",
            )
        )
    return reasons


def _unexpected_values(domain: list[str], stats: Proto) -> list[Reason]:
    allowed = set(domain)
    unexpected = [(b.label, b.sample_count) for b in stats.rank_histogram.buckets if b.label not in allowed]
    if not unexpected:
        return []
    total = stats.common_stats.tot_num_values or 1
    share = sum(count for _, count in unexpected) / total
    shown = ", ".join(label for label, _ in unexpected[:SHOWN_VALUES])
    more = f" and {len(unexpected) - SHOWN_VALUES} more" if len(unexpected) > SHOWN_VALUES else ""
    return [
        Reason(
            Anomaly.ENUM_TYPE_UNEXPECTED_STRING_VALUES,
            "Unexpected string values",
            f"Examples contain values missing from the schema: {shown}{more} (~{share:.1%} of values).",
        )
    ]
