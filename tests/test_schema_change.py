"""A contract that gains columns: replacing the whole table writes the new schema, on both backends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession

from pipelines.storage import Replace, TableStore
from pipelines.tables import TableSpec
from tests.conftest import require_delta_spark

OLD = TableSpec("gold", "widened", "usage_date date, a string, c string", ("usage_date",))
# The new column sits in the middle, as contracted_cost sits after effective_cost.
NEW = TableSpec("gold", "widened", "usage_date date, a string, b string, c string", ("usage_date",))


def _store(spark: SparkSession, backend: str, warehouse: Path) -> TableStore:
    if backend == "delta-rs":
        from pipelines.storage.delta_rs import DeltaRsStore

        return DeltaRsStore(spark, str(warehouse))
    from pipelines.storage.delta_spark import DeltaSparkStore

    return DeltaSparkStore(spark, str(warehouse), None, {})


@pytest.fixture
def catalog_store(spark: SparkSession, tmp_path: Path) -> Iterator[TableStore]:
    """A delta-spark store of catalog tables in a schema of its own."""
    require_delta_spark(spark)
    from pipelines.storage.delta_spark import DeltaSparkStore

    schema = f"widened_{uuid.uuid4().hex[:8]}"
    yield DeltaSparkStore(spark, str(tmp_path), "spark_catalog", {"gold": schema})
    spark.sql(f"DROP SCHEMA IF EXISTS spark_catalog.{schema} CASCADE")


def test_replacing_every_row_with_a_wider_contract_changes_the_schema(
    spark: SparkSession, backend: str, tmp_path: Path
) -> None:
    _replace_with_wider_contract(spark, _store(spark, backend, tmp_path))


def test_replacing_every_row_of_a_catalog_table_with_a_wider_contract_adds_the_columns(
    spark: SparkSession, catalog_store: TableStore
) -> None:
    _replace_with_wider_contract(spark, catalog_store)

    # replaceWhere 'true' keeps the table's definition, so Delta appends the new column (readers select by name).
    assert catalog_store.read(NEW).columns == ["usage_date", "a", "c", "b"]


def _replace_with_wider_contract(spark: SparkSession, store: TableStore) -> None:
    old = spark.createDataFrame([(date(2024, 3, 1), "a1", "c1")], OLD.schema())
    store.write(OLD, old, Replace.nothing(), {"fingerprint": "v1"})
    new = spark.createDataFrame(
        [(date(2024, 3, 1), "a2", "b2", "c2"), (date(2024, 3, 2), "a3", None, "c3")], NEW.schema()
    )

    version = store.write(NEW, new, Replace.all(), {"fingerprint": "v2"})

    assert version == 1
    assert_df_equality(store.read(NEW).select(*NEW.schema().names), new, ignore_row_order=True, ignore_nullable=True)
    assert store.read_arrow(NEW, ["b"]).column("b").to_pylist() in (["b2", None], [None, "b2"])
