"""A table contract's Arrow schema, parsed from its DDL in Python (no JVM, unlike Spark's `StructType.fromDDL`).

The read-only commands answer from Arrow without starting Spark; a table that does not exist yet
still reads as an empty table with its contract's columns. The types are the ones Spark's own
Arrow conversion gives (timestamps in UTC microseconds), every field nullable.
"""

from __future__ import annotations

import functools
import re

import pyarrow as pa

from pipelines.tables import TableSpec

_SIMPLE = {
    "string": pa.string(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "bigint": pa.int64(),
    "int": pa.int32(),
    "boolean": pa.bool_(),
    "double": pa.float64(),
}
_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")


def _split(text: str, separator: str) -> list[str]:
    """Split on `separator` where it is not inside <...> or (...)."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return [part for part in parts if part]


def _type(text: str) -> pa.DataType:
    text = text.strip()
    lowered = text.lower()
    if lowered in _SIMPLE:
        return _SIMPLE[lowered]
    decimal = _DECIMAL.fullmatch(lowered)
    if decimal:
        return pa.decimal128(int(decimal[1]), int(decimal[2]))
    if lowered.startswith("map<") and lowered.endswith(">"):
        key, value = _split(text[4:-1], ",")
        return pa.map_(_type(key), pa.field("value", _type(value), nullable=True))
    if lowered.startswith("array<") and lowered.endswith(">"):
        return pa.list_(pa.field("element", _type(text[6:-1]), nullable=True))
    if lowered.startswith("struct<") and lowered.endswith(">"):
        fields = [part.split(":", 1) for part in _split(text[7:-1], ",")]
        return pa.struct([pa.field(name.strip(), _type(kind), nullable=True) for name, kind in fields])
    raise ValueError(f"no Arrow type for the DDL type {text!r}")


@functools.cache
def contract_schema(table: TableSpec) -> pa.Schema:
    """The Arrow schema of `table`'s contract, every field nullable."""
    columns = [part.split(None, 1) for part in _split(table.ddl, ",")]
    return pa.schema([pa.field(name.strip("`"), _type(kind), nullable=True) for name, kind in columns])
