"""gold.source_reconciliation from the two silver tables: totals side by side, coverage per workspace-day."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from pipelines.gold.reconciliation import source_reconciliation

ROWS = "source string, workspace_id string, usage_date date, sku_name string, usage_unit string, quantity string"
RECONCILED = (
    "usage_date date, workspace_id string, sku_name string, usage_unit string, legacy_quantity decimal(38,18),"
    " system_quantity decimal(38,18), difference decimal(38,18), legacy_record_count bigint,"
    " system_record_count bigint, source_used string"
)
D1, D2 = date(2024, 3, 5), date(2024, 3, 6)


def _silver(spark: SparkSession, rows: list[tuple]):
    frame = spark.createDataFrame(rows, ROWS)
    return frame.selectExpr("*", "CAST(quantity AS decimal(38,18)) AS usage_quantity").drop("quantity")


def test_covered_days_come_from_system_rows_and_superseded_legacy_rows(spark: SparkSession) -> None:
    usage = _silver(
        spark,
        [
            ("system_tables", "w1", D1, "JOBS", "DBU", "2.5"),
            ("system_tables", "w1", D1, "JOBS", "DBU", "1"),
            ("system_tables", "w1", D1, "STORAGE", "DSU", "7"),  # no legacy rows for it
            ("legacy_csv", "w1", D2, "JOBS", "DBU", "2"),  # not covered: silver kept it
            ("dremio", "w1", D1, "DREMIO", "DCU", "9"),  # neither side
        ],
    )
    superseded = _silver(
        spark,
        [
            ("legacy_csv", "w1", D1, "JOBS", "DBU", "3"),
            ("legacy_csv", "w1", D1, "SQL", "DBU", "4"),  # the system tables report no SQL that day
            ("legacy_csv", "w2", D1, "JOBS", "DBU", "5"),  # covered by system records that netted to zero
        ],
    )
    expected = spark.createDataFrame(
        [
            (D1, "w1", "JOBS", "DBU", Decimal("3"), Decimal("3.5"), Decimal("-0.5"), 1, 2, "system_tables"),
            (D1, "w1", "STORAGE", "DSU", None, Decimal("7"), Decimal("-7"), 0, 1, "system_tables"),
            (D1, "w1", "SQL", "DBU", Decimal("4"), None, Decimal("4"), 1, 0, "system_tables"),
            (D1, "w2", "JOBS", "DBU", Decimal("5"), None, Decimal("5"), 1, 0, "system_tables"),
            (D2, "w1", "JOBS", "DBU", Decimal("2"), None, Decimal("2"), 1, 0, "legacy_csv"),
        ],
        RECONCILED,
    )

    actual = source_reconciliation(usage, superseded)

    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
