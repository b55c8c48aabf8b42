"""TFRecord files of ``tf.Example`` records to Arrow tables, without TensorFlow.

A record is framed as TensorFlow documents it: the data's length (uint64, little-endian), the masked
CRC-32C of those 8 bytes (uint32), the data, and the masked CRC-32C of the data; both checksums are
verified. Files written with TFRecord's GZIP option are recognized by their gzip header.

The messages are declared here at run time (``Example`` → ``Features`` → ``map<string, Feature>``,
a ``Feature`` being one of a bytes, float or int64 list) and parsed by protobuf's C backend: one
level of nesting of all records per parse when the records are laid out as TensorFlow writes them,
else record by record. Each feature becomes a column (sorted by name): a scalar column when every
record holding it holds exactly one value, a list column otherwise; a record without the feature has
null there. Bytes become UTF-8 strings when the whole column is valid UTF-8, floats become float64.
"""

from __future__ import annotations

import gzip
import struct
from contextlib import suppress
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from mlopsctl_stage.errors import StageError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pyarrow as pa

_HEADER = struct.Struct("<QI")
_FOOTER = struct.Struct("<I")  # the data's CRC
_KINDS = ("bytes_list", "float_list", "int64_list")


def _masked(crc: int) -> int:
    """TFRecord's masking of a CRC-32C."""
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def records(data: bytes, uri: str) -> list[bytes]:
    """The records framed in ``data`` (an uncompressed TFRecord file), checksums verified."""
    from google_crc32c import value as crc

    found: list[bytes] = []
    position, size, header, unpack = 0, len(data), _HEADER.size, _HEADER.unpack_from
    while position < size:
        if size - position < header:
            raise StageError(f"file ({uri})", f"truncated TFRecord: record {len(found)} has a partial header")
        length, length_crc = unpack(data, position)
        if _masked(crc(data[position : position + 8])) != length_crc:
            raise StageError(f"file ({uri})", f"corrupt TFRecord: record {len(found)}'s length fails its CRC")
        start = position + header
        position = start + length + _FOOTER.size
        if position > size:
            raise StageError(f"file ({uri})", f"truncated TFRecord: record {len(found)} ends past the file")
        record = data[start : position - _FOOTER.size]
        if _masked(crc(record)) != int.from_bytes(data[position - _FOOTER.size : position], "little"):
            raise StageError(f"file ({uri})", f"corrupt TFRecord: record {len(found)}'s data fails its CRC")
        found.append(record)
    return found


def _uncompressed(data: bytes, uri: str) -> bytes:
    """``data`` itself, or gunzipped when it has a gzip header rather than a valid record header."""
    import google_crc32c

    if data[:2] != b"\x1f\x8b" or (
        len(data) >= _HEADER.size and _masked(google_crc32c.value(data[:8])) == _HEADER.unpack_from(data)[1]
    ):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as error:
        raise StageError(f"file ({uri})", f"not gzip: {error}") from None


@cache
def _messages() -> dict[str, Any]:
    """The message classes, in a private descriptor pool: ``Example`` and its parts, and flat views of
    the same bytes (``Entries``, ``Kinds``) whose repeated fields hand over a whole level at once."""
    from google.protobuf import (  # type: ignore[import-untyped, unused-ignore]
        descriptor_pb2,
        descriptor_pool,
        message_factory,
    )

    Field = descriptor_pb2.FieldDescriptorProto
    BYTES, FLOAT, INT64, STRING, MESSAGE = (
        Field.TYPE_BYTES,
        Field.TYPE_FLOAT,
        Field.TYPE_INT64,
        Field.TYPE_STRING,
        Field.TYPE_MESSAGE,
    )
    file = descriptor_pb2.FileDescriptorProto(name="mlopsctl_stage/example.proto", package="example")
    file.syntax = "proto3"

    def message(parent: Any, name: str, *fields: tuple[str, int, int, str, bool]) -> Any:
        """A message of ``fields``: (name, number, type, message type, repeated)."""
        declared = parent.add(name=name)
        for field_name, number, type_, type_name, repeated in fields:
            label = Field.LABEL_REPEATED if repeated else Field.LABEL_OPTIONAL
            added = declared.field.add(name=field_name, number=number, type=type_, label=label)
            if type_name:
                added.type_name = type_name
        return declared

    top = file.message_type
    for name, type_ in (("BytesList", BYTES), ("FloatList", FLOAT), ("Int64List", INT64)):
        message(top, name, ("value", 1, type_, "", True))
    lists = (("bytes_list", 1, "BytesList"), ("float_list", 2, "FloatList"), ("int64_list", 3, "Int64List"))
    feature = message(
        top, "Feature", *((kind, n, MESSAGE, f".example.{name}", False) for kind, n, name in lists)
    )
    feature.oneof_decl.add(name="kind")
    for declared in feature.field:
        declared.oneof_index = 0
    features = message(top, "Features", ("feature", 1, MESSAGE, ".example.Features.FeatureEntry", True))
    entry = message(features.nested_type, "FeatureEntry", ("key", 1, STRING, "", False))
    entry.field.add(
        name="value", number=2, type=MESSAGE, label=Field.LABEL_OPTIONAL, type_name=".example.Feature"
    )
    entry.options.map_entry = True
    message(top, "Example", ("features", 1, MESSAGE, ".example.Features", False))
    message(top, "Entries", ("key", 1, STRING, "", True), ("value", 2, BYTES, "", True))
    message(top, "Kinds", *((kind, n, BYTES, "", True) for kind, n, _ in lists))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {
        m.name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"example.{m.name}")) for m in top
    }


@dataclass
class _Feature:
    """One feature across records: its kind, the records holding it, their counts of values, the values."""

    kind: str | None
    rows: Any = field(default_factory=list)
    lengths: Any = field(default_factory=list)
    values: Any = field(default_factory=list)


def read(data: bytes, uri: str) -> pa.Table:
    """The table of the ``tf.Example`` records in a TFRecord file (uncompressed or GZIP)."""
    import pyarrow as pa

    framed = records(_uncompressed(data, uri), uri)
    features = _columnar(framed)
    if features is None:
        features = _by_record(framed, uri)
    return pa.table({name: _column(features[name], len(framed)) for name in sorted(features)})


def _by_record(framed: list[bytes], uri: str) -> dict[str, _Feature]:
    """The features of ``framed``, parsed one record at a time: slower, but any valid encoding goes
    and errors name their record."""
    from google.protobuf.message import DecodeError  # type: ignore[import-untyped, unused-ignore]

    example = _messages()["Example"]()
    features: dict[str, _Feature] = {}
    for index, record in enumerate(framed):
        try:
            example.ParseFromString(record)
        except DecodeError as error:
            raise StageError(f"file ({uri})", f"record {index} is no tf.Example: {error}") from None
        for name, feature in example.features.feature.items():
            kind = feature.WhichOneof("kind")
            found = features.setdefault(name, _Feature(kind))
            if kind is not None and found.kind not in (None, kind):
                raise StageError(
                    f"file ({uri})",
                    f"feature '{name}' holds {kind} in record {index} but {found.kind} before",
                )
            found.kind = found.kind or kind
            values = getattr(feature, kind).value if kind else ()
            found.rows.append(index)
            found.lengths.append(len(values))
            found.values.extend(values)
    return features


def _wire_sizes(lengths: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The encoded sizes of length-delimited fields (numbers below 16) holding ``lengths`` bytes."""
    import numpy as np

    varint = 1 + sum((lengths >= 1 << (7 * k)).astype(np.int64) for k in range(1, 10))
    return 1 + varint + lengths


def _owners(items: npt.NDArray[np.int64], parts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64] | None:
    """Which of the concatenated parts (of ``parts`` bytes each) each field (of ``items`` bytes) parsed
    from them came from, or None unless those fields tile the parts exactly (they hold more)."""
    import numpy as np

    ends = np.cumsum(_wire_sizes(items))
    part_ends = np.cumsum(parts)
    if (ends[-1] if ends.size else 0) != (part_ends[-1] if part_ends.size else 0):
        return None
    if not ends.size:
        return np.zeros(0, np.int64)
    found = np.searchsorted(ends, part_ends)  # each part's last field ends where the part does
    if not np.array_equal(ends[np.minimum(found, ends.size - 1)][parts > 0], part_ends[parts > 0]):
        return None
    return np.searchsorted(part_ends, ends)


def _lengths(parts: list[bytes]) -> npt.NDArray[np.int64]:
    import numpy as np

    return np.fromiter(map(len, parts), np.int64, len(parts))


def _utf8_lengths(texts: list[str]) -> npt.NDArray[np.int64]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    lengths = pc.binary_length(pa.array(texts, pa.string()))
    return np.asarray(lengths.to_numpy(zero_copy_only=False), np.int64)


def _columnar(framed: list[bytes]) -> dict[str, _Feature] | None:
    """The features of ``framed`` from a few parses of whole levels of nesting, when every record is laid
    out as TensorFlow writes it (one ``features`` field, entries of a key and a value, packed numbers);
    None otherwise."""
    import numpy as np
    import pyarrow as pa
    from google.protobuf.message import DecodeError  # type: ignore[import-untyped, unused-ignore]

    flat, kinds_of, entries_of = _messages()["BytesList"], _messages()["Kinds"], _messages()["Entries"]
    if not framed:
        return {}
    try:
        # An Example, and a Features, has the wire form of a BytesList: its one field is repeated bytes.
        features = list(flat.FromString(b"".join(framed)).value)
        feature_sizes = _lengths(features)
        if len(features) != len(framed) or not np.array_equal(_wire_sizes(feature_sizes), _lengths(framed)):
            return None
        entries = list(flat.FromString(b"".join(features)).value)
        entry_sizes = _lengths(entries)
        rows = _owners(entry_sizes, feature_sizes)
        parsed = entries_of.FromString(b"".join(entries))
        keys, values = list(parsed.key), list(parsed.value)
        if rows is None or not len(keys) == len(values) == len(entries):
            return None
        key_sizes = _wire_sizes(_utf8_lengths(keys))
        value_sizes = _lengths(values)
        if not np.array_equal(key_sizes + _wire_sizes(value_sizes), entry_sizes):
            return None
        encoded = pa.array(keys, pa.string()).dictionary_encode()
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        order = np.argsort(codes, kind="stable")
        bounds = np.cumsum(np.bincount(codes, minlength=len(encoded.dictionary)))
        found: dict[str, _Feature] = {}
        for name, group in zip(encoded.dictionary.to_pylist(), np.split(order, bounds[:-1]), strict=True):
            if np.any(np.diff(rows[group]) <= 0):  # a key twice in one record
                return None
            feature = _packed([values[i] for i in group], value_sizes[group], kinds_of, flat)
            if feature is None:
                return None
            feature.rows = rows[group]
            found[name] = feature
        return found
    except DecodeError:
        return None


def _packed(features: list[bytes], sizes: npt.NDArray[np.int64], kinds_of: Any, flat: Any) -> _Feature | None:
    """One feature's encoded ``Feature`` messages (one per record holding it) as a _Feature."""
    import numpy as np

    parsed = kinds_of.FromString(b"".join(features))
    present = [kind for kind in _KINDS if getattr(parsed, kind)]
    if len(present) > 1:
        return None
    kind = present[0] if present else None
    lists = list(getattr(parsed, kind)) if kind else []
    list_sizes = _lengths(lists)
    if not np.array_equal(_wire_sizes(list_sizes), sizes[sizes > 0]):
        return None
    chunks = list(flat.FromString(b"".join(lists)).value)  # bytes values, or packed numbers
    chunk_sizes = _lengths(chunks)
    owners = _owners(chunk_sizes, list_sizes)
    if owners is None:
        return None
    blob = b"".join(chunks)
    values: Any = chunks
    counts = np.ones(len(chunks), np.int64)
    if kind == "float_list":
        if np.any(chunk_sizes % 4):
            return None
        counts = chunk_sizes // 4
        values = np.frombuffer(blob, "<f4").astype(np.float64)
    elif kind == "int64_list":
        ends = np.concatenate(([0], np.cumsum(np.frombuffer(blob, np.uint8) < 0x80)))
        counts = np.diff(ends[np.concatenate(([0], np.cumsum(chunk_sizes)))])
        values = list(_messages()["Int64List"].FromString(b"".join(lists)).value)
    if len(values) != counts.sum():
        return None
    lengths = np.zeros(len(features), np.int64)
    lengths[sizes > 0] = np.bincount(owners, weights=counts, minlength=len(lists)).astype(np.int64)
    return _Feature(kind, lengths=lengths, values=values)


def _column(feature: _Feature, count: int) -> pa.Array:
    """A feature's values as a scalar column if every record holding it holds one, else a list column."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    types = {"bytes_list": pa.binary(), "float_list": pa.float64(), "int64_list": pa.int64()}
    values = pa.array(feature.values, types[feature.kind] if feature.kind else pa.null())
    if feature.kind == "bytes_list":
        with suppress(pa.ArrowInvalid):  # not UTF-8: it stays binary
            values = values.cast(pa.string())
    rows = np.asarray(feature.rows, dtype=np.int64)
    lengths = np.zeros(count, dtype=np.int64)
    lengths[rows] = feature.lengths
    missing = np.ones(count, dtype=np.bool_)
    missing[rows] = False
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int32)
    lists = pa.ListArray.from_arrays(pa.array(offsets), values, mask=pa.array(missing))
    if feature.kind is not None and bool((lengths[rows] == 1).all()):
        return pc.list_element(lists, 0)
    return lists
