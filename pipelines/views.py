"""Temporary views named like the tables, so SQL written for Databricks schemas runs on any backend."""

from __future__ import annotations

from collections.abc import Iterable

from pyspark.sql import functions as F

from pipelines.storage import TableStore
from pipelines.tables import PRICES, TableSpec


def register_views(store: TableStore, tables: Iterable[TableSpec]) -> list[str]:
    """A temporary view per table, named by the table (`cost_by_tag`, `usage`, ...); returns the names."""
    names = []
    for table in tables:
        store.read(table).createOrReplaceTempView(table.name)
        names.append(table.name)
    return names


def register_list_prices_view(store: TableStore) -> None:
    """`list_prices`: silver prices shaped like `system.billing.list_prices` (`pricing.effective_list.default`)."""
    pricing = F.struct(
        F.col("list_price").alias("default"),
        F.struct(F.col("effective_list_price").alias("default")).alias("effective_list"),
    )
    prices = store.read(PRICES).where(~F.col("overlaps_other_window"))
    prices.withColumn("pricing", pricing).createOrReplaceTempView("list_prices")
