"""Small Column -> Column helpers shared by the layers: exact decimals, timestamps, money."""

from __future__ import annotations

import re

from pyspark.sql import Column
from pyspark.sql import functions as F

QUANTITY = "decimal(38,18)"
# Spark keeps p1+p2+1 digits for a product and cuts the scale when that passes 38. Narrowing the
# operands first (14 integer digits for quantities, 10 for prices: far above any real record) keeps
# 13 decimals in the product instead of the 6 that two decimal(38,18) operands would leave.
_QUANTITY_FOR_PRODUCT = "decimal(32,18)"
_PRICE_FOR_PRODUCT = "decimal(28,18)"
MAX_QUANTITY = 10**14  # bronze quarantines larger quantities, so every product fits
MAX_PRICE = 10**10


def first_failure(checks: list[tuple[Column, str]]) -> Column:
    """The reason of the first check that fails (is true), or NULL when none does."""
    reason = F.lit(None).cast("string")
    for failed, why in reversed(checks):
        reason = F.when(failed, F.lit(why)).otherwise(reason)
    return reason


def file_name_of(path: Column) -> Column:
    """The file name at the end of a (URL-encoded) path such as `_metadata.file_path`."""
    return F.regexp_extract(F.url_decode(path), r"([^/]+)$", 1)


def normalised_path(path: str) -> str:
    """A file path as listed by Hadoop (`file:/x/y`) in the form `normalised_path_column` gives (`/x/y`)."""
    return re.sub(r"^file:/+", "/", path)


def normalised_path_column(path: Column) -> Column:
    """A (URL-encoded) `_metadata.file_path` such as `file:///x/y` as `/x/y`; other schemes kept."""
    return F.regexp_replace(F.url_decode(path), r"^file:/+", "/")


def parse_decimal(text: Column) -> Column:
    """Exact decimal(38,18) from text (never through a float); NULL when not a number."""
    return F.trim(text).try_cast(QUANTITY)


def parse_timestamp(text: Column) -> Column:
    """A UTC timestamp from ISO-8601 text such as 2024-01-05T09:59:59.999Z; NULL when unparseable."""
    return F.try_to_timestamp(F.trim(text))


def end_of_hour(timestamp: Column) -> Column:
    """Round up to the next full hour (09:59:59.999 -> 10:00:00); a full hour stays as it is."""
    truncated = F.date_trunc("hour", timestamp)
    return F.when(truncated == timestamp, timestamp).otherwise(truncated + F.expr("INTERVAL 1 HOUR"))


def date_of_hour_ending(end: Column) -> Column:
    """The usage date of an hour given its end: the date it starts on (an hour ending at midnight is the day before)."""
    return F.to_date(end - F.expr("INTERVAL 1 HOUR"))


def multiply_money(quantity: Column, price: Column) -> Column:
    """quantity * price as decimal(38,18), exact to 13 decimals (see the note on the operand types)."""
    return (quantity.cast(_QUANTITY_FOR_PRODUCT) * price.cast(_PRICE_FOR_PRODUCT)).cast(QUANTITY)


def json_map(text: Column) -> Column:
    """A JSON object's text as map<string,string>; NULL for empty or invalid JSON."""
    return F.from_json(text, "map<string,string>")


def struct_of(ddl: str, values: dict[str, Column]) -> Column:
    """A struct of the given DDL type with the named fields set and the rest NULL."""
    names = [part.split(":")[0].strip() for part in ddl.removeprefix("struct<").removesuffix(">").split(",")]
    return F.struct(*[values.get(name, F.lit(None).cast("string")).alias(name) for name in names]).cast(ddl)
