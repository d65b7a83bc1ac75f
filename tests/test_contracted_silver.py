"""Silver contracted prices and discount rules: exact windows, overlaps flagged, rebuilt only when their input
changed, and each commit naming the usage-date ranges the change touches (what gold recomputes)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from pipelines.bronze.ingest_log import Run
from pipelines.bronze.land_prices import land_account_prices
from pipelines.config import DiscountRule, ListPricesSource, load_config
from pipelines.silver.contracted import rule_ranges, to_contracted_prices
from pipelines.silver.refresh_contracted import refresh_contracted_prices, refresh_discount_rules
from pipelines.storage import TableStore, open_store
from pipelines.storage.delta_rs import DeltaRsStore
from pipelines.tables import ACCOUNT_PRICES, CONTRACTED_PRICES, DISCOUNT_RULES
from tests.conftest import write_config, write_prices

JOBS, SQL = "PREMIUM_JOBS_COMPUTE", "PREMIUM_SQL_COMPUTE"
WINDOWS = "price_start_time timestamp, price_end_time timestamp, contracted_price decimal(38,18)"


def _changed(store: TableStore, table: Any) -> dict[str, Any]:
    commit = store.last_commit(table)
    assert commit is not None
    return commit.metadata["changed"]


def test_account_prices_become_exact_windows_with_overlaps_flagged_and_duplicates_removed(
    spark: SparkSession,
) -> None:
    bronze = spark.createDataFrame(
        [
            (datetime(2024, 1, 1), datetime(2024, 7, 1), JOBS, '{"default":"0.120000000000000001"}'),
            (datetime(2024, 1, 1), datetime(2024, 7, 1), JOBS, '{"default":"0.120000000000000001"}'),  # again
            (datetime(2024, 7, 1), None, JOBS, '{"default":0.11,"list_discount":"x"}'),
            (datetime(2024, 1, 1), None, SQL, '{"default":"0.5"}'),
            (datetime(2024, 3, 1), datetime(2024, 4, 1), SQL, '{"default":"0.4"}'),  # inside the open SQL window
        ],
        "price_start_time timestamp, price_end_time timestamp, sku_name string, pricing string",
    ).selectExpr("*", "'AWS' as cloud", "'DBU' as usage_unit", "'USD' as currency_code")

    windows = to_contracted_prices(bronze).select(
        "sku_name", "price_start_time", "price_end_time", "contracted_price", "source", "overlaps_other_window"
    )

    expected = spark.createDataFrame(
        [
            (
                JOBS,
                datetime(2024, 1, 1),
                datetime(2024, 7, 1),
                Decimal("0.120000000000000001"),
                "account_prices",
                False,
            ),
            (JOBS, datetime(2024, 7, 1), None, Decimal("0.11"), "account_prices", False),
            (SQL, datetime(2024, 1, 1), None, Decimal("0.5"), "account_prices", True),
            (SQL, datetime(2024, 3, 1), datetime(2024, 4, 1), Decimal("0.4"), "account_prices", True),
        ],
        f"sku_name string, {WINDOWS}, source string, overlaps_other_window boolean",
    )
    assert_df_equality(windows, expected, ignore_row_order=True, ignore_nullable=True)


def test_a_changed_account_price_records_only_the_dates_it_touches_and_a_rerun_writes_nothing(
    spark: SparkSession, tmp_path: Path
) -> None:
    export = tmp_path / "account_prices.csv"
    source = ListPricesSource(str(export), "csv")
    store = DeltaRsStore(spark, str(tmp_path / "wh"))
    write_prices(
        export, [(JOBS, "2024-01-01T00:00:00Z", "2024-07-01T00:00:00Z", "0.12"), (JOBS, "2024-07-01", "", "0.11")]
    )
    land_account_prices(spark, store, source, Run())

    assert refresh_contracted_prices(store, configured=True) == 0
    # Usage is priced by its end time and dated by its start: a window from midnight also prices the day before.
    assert _changed(store, CONTRACTED_PRICES) == {"price_ranges": [["2023-12-31", None]]}
    expected = spark.createDataFrame(
        [(datetime(2024, 1, 1), datetime(2024, 7, 1), Decimal("0.12")), (datetime(2024, 7, 1), None, Decimal("0.11"))],
        WINDOWS,
    )
    actual = store.read(CONTRACTED_PRICES).select("price_start_time", "price_end_time", "contracted_price")
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)

    # The contract's second period moves from July to August: only July's usage changes price.
    write_prices(export, [(JOBS, "2024-01-01", "2024-08-01", "0.12"), (JOBS, "2024-08-01", "", "0.11")])
    land_account_prices(spark, store, source, Run())
    assert refresh_contracted_prices(store, configured=True) == 1
    assert _changed(store, CONTRACTED_PRICES) == {"price_ranges": [["2024-06-30", "2024-08-01"]]}
    commit = store.last_commit(CONTRACTED_PRICES)
    assert commit is not None and commit.metadata["inputs"] == {"bronze.account_prices": store.version(ACCOUNT_PRICES)}

    assert refresh_contracted_prices(store, configured=True) is None  # nothing changed: no new version
    assert store.version(CONTRACTED_PRICES) == 1

    # Switched off: emptied once, the dates its windows covered recorded; then nothing again.
    assert refresh_contracted_prices(store, configured=False) == 2
    assert store.read(CONTRACTED_PRICES).isEmpty()
    assert _changed(store, CONTRACTED_PRICES) == {"price_ranges": [["2023-12-31", None]]}
    assert refresh_contracted_prices(store, configured=False) is None


def test_without_account_prices_the_silver_table_is_never_written(spark: SparkSession, tmp_path: Path) -> None:
    store = DeltaRsStore(spark, str(tmp_path / "wh"))
    assert refresh_contracted_prices(store, configured=False) is None
    assert store.version(CONTRACTED_PRICES) is None and store.read(CONTRACTED_PRICES).isEmpty()
    # Configured but nothing landed yet: an empty table, built once.
    assert refresh_contracted_prices(store, configured=True) == 0
    assert _changed(store, CONTRACTED_PRICES) == {"price_ranges": []}
    assert refresh_contracted_prices(store, configured=True) is None


def _rule(name: str, percent: str, start: datetime, end: datetime | None = None, **match: Any) -> DiscountRule:
    return DiscountRule(name=name, percent_off=Decimal(percent), start=start, end=end, **match)


JAN, JUL, NEXT_JAN = (
    datetime(2024, 1, 1, tzinfo=UTC),
    datetime(2024, 7, 1, tzinfo=UTC),
    datetime(2025, 1, 1, tzinfo=UTC),
)
JOBS_RULE = _rule("jobs", "12.5", JAN, JUL, sku="*JOBS*")
SQL_RULE = _rule("sql", "7.25", JAN, None, billing_origin_product="SQL", cloud="AWS", workspaces=("1", "2"))


def test_discount_rules_become_one_row_each_on_each_backend(spark: SparkSession, tmp_path: Path, backend: str) -> None:
    store = open_store(spark, load_config(write_config(tmp_path, None, None, storage=backend)))
    assert refresh_discount_rules(store, (JOBS_RULE, SQL_RULE)) == 0
    expected = spark.createDataFrame(
        [
            ("jobs", Decimal("12.5"), "*JOBS*", None, None, None, datetime(2024, 1, 1), datetime(2024, 7, 1)),
            ("sql", Decimal("7.25"), None, "SQL", "AWS", ["1", "2"], datetime(2024, 1, 1), None),
        ],
        DISCOUNT_RULES.ddl,
    )
    assert_df_equality(store.read(DISCOUNT_RULES), expected, ignore_row_order=True, ignore_nullable=True)
    assert _changed(store, DISCOUNT_RULES) == {"price_ranges": [["2024-01-01", "2024-06-30"], ["2024-01-01", None]]}
    assert refresh_discount_rules(store, (JOBS_RULE, SQL_RULE)) is None


def test_a_changed_discount_rule_records_its_old_and_new_windows_only_and_a_rerun_writes_nothing(
    spark: SparkSession, tmp_path: Path
) -> None:
    store = DeltaRsStore(spark, str(tmp_path / "wh"))
    refresh_discount_rules(store, (JOBS_RULE, SQL_RULE))

    longer = _rule("jobs", "12.5", JAN, NEXT_JAN, sku="*JOBS*")
    assert refresh_discount_rules(store, (longer, SQL_RULE)) == 1
    # The old window ends with June (its end at midnight 1 July is not in it); the new one with December.
    assert _changed(store, DISCOUNT_RULES) == {
        "price_ranges": [["2024-01-01", "2024-06-30"], ["2024-01-01", "2024-12-31"]]
    }
    assert refresh_discount_rules(store, (longer, SQL_RULE)) is None
    assert store.version(DISCOUNT_RULES) == 1

    added = _rule("summer", "5", datetime(2025, 6, 1, 12, tzinfo=UTC), datetime(2025, 9, 1, tzinfo=UTC), sku="*JOBS*")
    assert refresh_discount_rules(store, (longer, SQL_RULE, added)) == 2
    assert _changed(store, DISCOUNT_RULES) == {"price_ranges": [["2025-06-01", "2025-08-31"]]}

    assert refresh_discount_rules(store, ()) == 3  # every rule removed: the table emptied once
    assert store.read(DISCOUNT_RULES).isEmpty()
    assert _changed(store, DISCOUNT_RULES)["price_ranges"] == [
        ["2024-01-01", "2024-12-31"],
        ["2024-01-01", None],
        ["2025-06-01", "2025-08-31"],
    ]
    assert refresh_discount_rules(store, ()) is None


def test_without_discount_rules_the_silver_table_is_never_written(spark: SparkSession, tmp_path: Path) -> None:
    store = DeltaRsStore(spark, str(tmp_path / "wh"))
    assert refresh_discount_rules(store, ()) is None
    assert store.version(DISCOUNT_RULES) is None and store.read(DISCOUNT_RULES).isEmpty()


def test_rule_windows_touch_usage_dates_from_their_start_date_to_the_date_of_their_last_instant() -> None:
    windows = [
        (datetime(2024, 1, 1), datetime(2024, 2, 1)),
        (datetime(2024, 1, 1), datetime(2024, 2, 1)),  # the same window twice: one range
        (datetime(2024, 3, 1, 6), datetime(2024, 3, 1, 7)),
        (datetime(2024, 5, 1), None),
    ]
    assert rule_ranges(windows) == [["2024-01-01", "2024-01-31"], ["2024-03-01", "2024-03-01"], ["2024-05-01", None]]
