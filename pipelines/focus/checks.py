"""The model's check functions as Spark column expressions, with the semantics the reference validator gives them.

A requirement compiles to a `Check`: a `Verdict` when it is decided by the schema alone (a column is present, has a
type), a boolean `Column` that is true where a row satisfies it, or a `DistinctCount` (evaluated per group). As in
the reference (focus_validator 2.2.1, focus_to_duckdb_converter.py), a row-level check never blames a NULL: only
Check(Not)Value with Value null judges nulls. A condition compiles to a row filter; where the reference cannot
compile a condition (an unknown function, a node missing its keys) it filters nothing, and so does this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import reduce
from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DataType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegralType,
    MapType,
    StringType,
    StructType,
    TimestampNTZType,
    TimestampType,
)

from pipelines.focus.model import ModelError

Schema = Mapping[str, DataType]

NUMERIC = r"^[+-]?([0-9]*[.])?[0-9]+([eE][+-]?[0-9]+)?$"  # FormatNumeric, on the trimmed text
DATETIME_Z = r"^[0-9]{4}-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z$"  # TypeDateTime on text
DATETIME_Z_OPTIONAL = r"^[0-9]{4}-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z?$"  # FormatDateTime on text
# FormatString: StringHandling asks for valid Unicode. The reference checks for ASCII only, which would fail names
# such as "Zürich"; Spark strings are Unicode, and invalid bytes read from a file become U+FFFD, so look for that.
REPLACEMENT_CHARACTER = "\ufffd"
CURRENCY = r"^[A-Z]{3}$"  # FormatCurrency
EXACT = DecimalType(38, 18)  # text and whole numbers are compared as this decimal
FACTOR = DecimalType(26, 14)  # a product of two of these keeps 13 decimal places inside decimal(38, _)
RELATIVE_TOLERANCE = Decimal("1E-9")  # ColumnByColumnEqualsColumnValue, as the reference


def _unit_regex() -> str:
    """FormatUnit: the reference's five unit shapes (plain, per-time, rate, with a quantity), alternated."""
    prefixes = ("K", "M", "G", "T", "P", "E")
    sizes = "|".join(
        ["b", *(p + "b" for p in prefixes), "B", *(p + "B" for p in prefixes)]
        + [p + "i" + unit for unit in ("b", "B") for p in prefixes]
    )
    singular = "Year|Month|Day|Hour|Minute|Second"
    plural = "Years|Months|Days|Hours|Minutes|Seconds"
    count = r"[A-Za-z][A-Za-z0-9]*(?:\s+[A-Za-z][A-Za-z0-9]*)*"
    shapes = (
        f"^({sizes}|{singular}|{plural}|{count})$",
        f"^({sizes}|{count})-({plural})$",
        f"^({sizes}|{count}|{plural})/({singular})$",
        f"^[0-9]+ ({sizes}|{singular}|{plural}|{count})$",
        f"^({sizes}|{count}|{plural})/[0-9]+ ({plural})$",
    )
    return "|".join(f"({shape})" for shape in shapes)


UNIT = _unit_regex()


@dataclass(frozen=True)
class Verdict:
    """A requirement decided by the schema: `ok`, and what was found when not."""

    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class DistinctCount:
    """For each value of `key` (rows passing the condition), exactly `expected` distinct non-null `value`s."""

    key: str
    value: str
    expected: int


Check = Verdict | Column | DistinctCount


def is_string(dtype: DataType) -> bool:
    return isinstance(dtype, StringType)


def is_decimal(dtype: DataType) -> bool:
    """The reference's TypeDecimal: DECIMAL, DOUBLE or FLOAT."""
    return isinstance(dtype, DecimalType | DoubleType | FloatType)


def is_datetime(dtype: DataType) -> bool:
    return isinstance(dtype, TimestampType | TimestampNTZType | DateType)


def as_decimal(column: Column, dtype: DataType) -> Column:
    """A column as an exact decimal: decimals as they are, text and numbers through a try_cast (NULL if unparsable)."""
    if isinstance(dtype, DecimalType):
        return column
    if is_string(dtype):
        return F.trim(column).try_cast(EXACT)
    return column.try_cast(EXACT)


def equals(column: Column, dtype: DataType, value: Any) -> Column:
    """`column = value`: numbers compare as decimals, text as text (NULL where either side is NULL)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        text = column if is_string(dtype) else column.cast("string")
        return text == F.lit(str(value))
    return as_decimal(column, dtype) == F.lit(Decimal(str(value)))


def _names(node: Mapping[str, Any]) -> list[str]:
    return [node[key] for key in ("ColumnName", "ColumnAName", "ColumnBName", "ResultColumnName") if key in node]


def referenced_columns(node: Any) -> list[str]:
    """Every column a requirement tree names, in order, without repeats."""
    if isinstance(node, list):
        found = [name for item in node for name in referenced_columns(item)]
    elif isinstance(node, dict):
        found = _names(node) + [name for value in node.values() for name in referenced_columns(value)]
    else:
        found = []
    return list(dict.fromkeys(name for name in found if isinstance(name, str)))


def _combine(function: str, checks: list[Check]) -> Check:
    """AND/OR inside one rule: verdicts decide first, row checks combine row by row (as the reference's OR does)."""
    if any(isinstance(check, DistinctCount) for check in checks):
        raise ModelError("CheckDistinctCount inside AND/OR is not supported")
    verdicts = [check for check in checks if isinstance(check, Verdict)]
    rows = [check for check in checks if isinstance(check, Column)]
    if function == "AND":
        failed = [verdict for verdict in verdicts if not verdict.ok]
        if failed:
            return failed[0]
        return reduce(lambda a, b: a & b, rows) if rows else Verdict(True)
    if any(verdict.ok for verdict in verdicts):
        return Verdict(True)
    if rows:
        return reduce(lambda a, b: a | b, rows)
    return Verdict(False, "; ".join(verdict.detail for verdict in verdicts))


def _typed(dtype: DataType, accept: Callable[[DataType], bool], text: Callable[[], Column], kind: str) -> Check:
    """A type or format check: the right Spark type passes, text is judged row by row, anything else fails."""
    if accept(dtype):
        return Verdict(True)
    if is_string(dtype):
        return text()
    return Verdict(False, f"is {dtype.simpleString()}, not {kind}")


def compile_requirement(node: Mapping[str, Any], schema: Schema, currency_codes: frozenset[str]) -> Check:
    """The Check for a requirement tree (CheckModelRule is the evaluator's business, not this function's)."""
    function = node.get("CheckFunction")
    if function in ("AND", "OR"):
        return _combine(function, [compile_requirement(item, schema, currency_codes) for item in node["Items"]])
    if function == "ColumnPresent":
        name = node["ColumnName"]
        return Verdict(name in schema, f"column {name} is absent")
    absent = [name for name in _names(node) if name not in schema]
    if absent:
        return Verdict(False, f"column {absent[0]} is absent")
    name = node.get("ColumnName", "")
    c = F.col(f"`{name}`") if name else F.lit(None)
    dtype = schema.get(name, StringType())
    if function == "TypeString":
        return Verdict(is_string(dtype), f"is {dtype.simpleString()}, not string")
    if function == "TypeDecimal":
        return _typed(dtype, is_decimal, lambda: c.isNull() | F.trim(c).rlike(NUMERIC), "decimal")
    if function == "TypeDateTime":
        return _typed(dtype, is_datetime, lambda: c.isNull() | c.rlike(DATETIME_Z), "a date/time")
    if function == "FormatDateTime":
        text = lambda: c.isNull() | (c.rlike(DATETIME_Z_OPTIONAL) & c.try_cast("timestamp").isNotNull())  # noqa: E731
        return _typed(dtype, is_datetime, text, "a date/time")
    if function == "FormatNumeric":
        numeric = lambda d: is_decimal(d) or isinstance(d, IntegralType)  # noqa: E731
        return _typed(dtype, numeric, lambda: c.isNull() | F.trim(c).rlike(NUMERIC), "numeric")
    if function == "CheckDecimalValue":
        return _typed(dtype, is_decimal, lambda: c.isNull() | F.trim(c).try_cast(EXACT).isNotNull(), "decimal")
    if function == "FormatKeyValue":
        key_value = lambda d: isinstance(d, MapType | StructType)  # noqa: E731
        return _typed(dtype, key_value, lambda: c.isNull() | F.try_parse_json(c).isNotNull(), "key-value")
    if function == "FormatString":
        return c.isNull() | ~c.cast("string").contains(REPLACEMENT_CHARACTER)
    if function == "FormatUnit":
        return c.isNull() | c.cast("string").rlike(UNIT)
    if function == "FormatCurrency":
        return c.isNull() | F.trim(c.cast("string")).rlike(CURRENCY)
    if function == "CheckNationalCurrency":
        return c.isNull() | F.trim(c.cast("string")).isin(sorted(currency_codes))
    if function == "CheckValue":
        value = node["Value"]
        return c.isNull() if value is None else c.isNull() | equals(c, dtype, value)
    if function == "CheckNotValue":
        value = node["Value"]
        return c.isNotNull() if value is None else c.isNull() | ~equals(c, dtype, value)
    if function == "CheckGreaterOrEqualThanValue":
        return c.isNull() | (as_decimal(c, dtype) >= F.lit(Decimal(str(node["Value"]))))
    a, b = F.col(f"`{node.get('ColumnAName')}`"), F.col(f"`{node.get('ColumnBName')}`")
    if function in ("CheckSameValue", "CheckNotSameValue"):
        same = _same(node, schema)
        return a.isNull() | b.isNull() | (same if function == "CheckSameValue" else ~same)
    if function == "ColumnByColumnEqualsColumnValue":
        return _product_matches(node, schema)
    if function == "CheckDistinctCount":
        return DistinctCount(node["ColumnAName"], node["ColumnBName"], int(node["ExpectedCount"]))
    raise ModelError(f"unknown check function {function!r}")


def _same(node: Mapping[str, Any], schema: Schema) -> Column:
    """ColumnA = ColumnB, as text unless both are of one type."""
    a_name, b_name = node["ColumnAName"], node["ColumnBName"]
    a, b = F.col(f"`{a_name}`"), F.col(f"`{b_name}`")
    if schema.get(a_name) == schema.get(b_name):
        return a == b
    return a.cast("string") == b.cast("string")


def _product_matches(node: Mapping[str, Any], schema: Schema) -> Column:
    """|A * B - Result| <= 1e-9 * max(|Result|, 1), the reference's relative tolerance, in decimal arithmetic.

    A and B are cast to decimal(26,14) so that Spark keeps 13 decimal places of their product (two decimal(38,18)
    would keep 6); a factor with more than 12 integer digits does not fit and the row is not judged.
    """
    names = [node["ColumnAName"], node["ColumnBName"], node["ResultColumnName"]]
    a, b, r = (as_decimal(F.col(f"`{n}`"), schema[n]) for n in names)
    product = a.try_cast(FACTOR) * b.try_cast(FACTOR)
    within = F.abs(product - r) <= F.lit(RELATIVE_TOLERANCE) * F.greatest(F.abs(r), F.lit(Decimal(1)))
    return a.isNull() | b.isNull() | r.isNull() | product.isNull() | within


def compile_condition(node: Any, schema: Schema) -> Column | None:
    """The rows a rule applies to, as the reference's predicates (NULL equals no value, so it is "not" every value,
    where the reference leaves NULL out of CheckNotValue too); absent columns are NULL.

    None means "no filter": an empty condition, or one the reference cannot compile either.
    """
    if not isinstance(node, dict) or not node.get("CheckFunction"):
        return None
    function = node["CheckFunction"]
    if function in ("AND", "OR"):
        parts = [part for item in node.get("Items") or [] if (part := compile_condition(item, schema)) is not None]
        if not parts:
            return F.lit(function == "AND")
        return reduce((lambda x, y: x & y) if function == "AND" else (lambda x, y: x | y), parts)

    def column(key: str) -> tuple[Column, DataType]:
        name = node[key]
        if name not in schema:
            return F.lit(None).cast("string"), StringType()
        return F.col(f"`{name}`"), schema[name]

    if function in ("CheckValue", "CheckNotValue") and {"ColumnName", "Value"} <= node.keys():
        c, dtype = column("ColumnName")
        value = node["Value"]
        if function == "CheckValue":
            return c.isNull() if value is None else equals(c, dtype, value)
        # The reference reads "is not 'Correction'" as "is set and is not 'Correction'", which leaves out every
        # regular row (ChargeClass NULL) and makes rules such as ListUnitPrice-C-005-C vacuous: NULL is not a value.
        return c.isNotNull() if value is None else c.isNull() | ~equals(c, dtype, value)
    if function in ("CheckSameValue", "CheckNotSameValue") and {"ColumnAName", "ColumnBName"} <= node.keys():
        (a, a_type), (b, b_type) = column("ColumnAName"), column("ColumnBName")
        same = a == b if a_type == b_type else a.cast("string") == b.cast("string")
        return a.isNotNull() & b.isNotNull() & (same if function == "CheckSameValue" else ~same)
    return None
