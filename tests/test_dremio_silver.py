"""Dremio usage in silver (one grain, exact DCUs) and in gold (a rate-card window must hold the whole period)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession

from pipelines.config.apis import DremioSource, RateCard, RateWindow
from pipelines.gold.cost import price_usage
from pipelines.silver import dremio_usage
from pipelines.silver.prices import rate_card_windows, to_prices
from pipelines.storage import Replace
from pipelines.storage.delta_rs import DeltaRsStore
from pipelines.tables import DREMIO_USAGE, LIST_PRICES

T = datetime


def _bronze(spark: SparkSession, rows: list[tuple[str, str, str, str, str, str, str]]) -> DataFrame:
    """Bronze rows from (id, type, startTime, endTime, usage, frequency, group_by)."""
    window = T(2024, 5, 1, tzinfo=UTC)
    full = [
        (
            *row[:5],
            window,
            window,
            window,
            "dremio",
            "url",
            "sha",
            window,
            row[6],
            row[5],
            T.fromisoformat(row[2]).date(),
        )
        for row in rows
    ]
    return spark.createDataFrame(full, DREMIO_USAGE.schema())


def test_only_the_configured_grain_reaches_silver_with_exact_dcus(spark: SparkSession) -> None:
    bronze = _bronze(
        spark,
        [
            ("p-1", "PROJECT", "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z", "7.2", "HOURLY", "PROJECT"),
            (
                "e-1",
                "ENGINE",
                "2024-05-01T00:00:00Z",
                "2024-05-02T00:00:00Z",
                "0.100000000000000001",
                "DAILY",
                "ENGINE",
            ),
            ("e-1", "ENGINE", "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z", "3", "HOURLY", "ENGINE"),
        ],
    )
    source = DremioSource(frequency="DAILY", group_by="ENGINE", sku_name="DREMIO_DCU", cloud="AZURE")
    usage = dremio_usage.to_usage(bronze, source)

    actual = usage.select(
        "source",
        "sku_name",
        "cloud",
        "usage_unit",
        "usage_quantity",
        "usage_metadata.engine_id",
        "usage_metadata.project_id",
        "usage_start_time",
        "usage_end_time",
    )
    exact = Decimal("0.100000000000000001")
    expected = spark.createDataFrame(
        [("dremio", "DREMIO_DCU", "AZURE", "DCU", exact, "e-1", None, T(2024, 5, 1), T(2024, 5, 2))],
        "source string, sku_name string, cloud string, usage_unit string, usage_quantity decimal(38,18),"
        " engine_id string, project_id string, usage_start_time timestamp, usage_end_time timestamp",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
    again = dremio_usage.to_usage(bronze, source)
    assert_df_equality(
        again.select("record_id"), usage.select("record_id"), ignore_row_order=True, ignore_nullable=True
    )


def test_a_rate_card_window_must_hold_the_whole_usage_period(spark: SparkSession, tmp_path: object) -> None:
    change = T(2024, 5, 1, 12, tzinfo=UTC)
    card = RateCard(
        "DREMIO_DCU",
        "AWS",
        "DCU",
        "USD",
        (
            RateWindow(T(2024, 1, 1, tzinfo=UTC), change, Decimal("0.50"), Decimal("0.50")),
            RateWindow(change, None, Decimal("0.40"), Decimal("0.30")),
        ),
    )
    store = DeltaRsStore(spark, str(tmp_path))
    prices = to_prices(store.empty(LIST_PRICES), rate_card_windows(spark, [card]))
    bronze = _bronze(
        spark,
        [
            ("p-1", "PROJECT", "2024-05-01T11:00:00Z", "2024-05-01T12:00:00Z", "2", "HOURLY", "PROJECT"),
            ("p-2", "PROJECT", "2024-05-01T12:00:00Z", "2024-05-01T13:00:00Z", "2", "HOURLY", "PROJECT"),
        ],
    )
    hourly = dremio_usage.to_usage(bronze, DremioSource())
    daily = dremio_usage.to_usage(
        _bronze(spark, [("p-3", "PROJECT", "2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z", "2", "DAILY", "PROJECT")]),
        DremioSource(frequency="DAILY"),
    )
    priced = price_usage(hourly.unionByName(daily), prices, "USD").select("usage_metadata.project_id", "effective_cost")
    # the hour ending at the change gets the old rate (not the new one, as an end-time rule would give);
    # the day that straddles the change has no window holding it: unpriced, never a blend or a guess
    expected = spark.createDataFrame(
        [("p-1", Decimal("1.00")), ("p-2", Decimal("0.60")), ("p-3", None)],
        "project_id string, effective_cost decimal(38,18)",
    )
    assert_df_equality(priced, expected, ignore_row_order=True, ignore_nullable=True)
    store.write(DREMIO_USAGE, bronze, Replace.nothing(), {})  # the contract's schema is what bronze stores
