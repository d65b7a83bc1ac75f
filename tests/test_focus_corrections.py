"""Corrections in the FOCUS view: netted while their month is open, `Correction` rows once it was invoiced.

Every pattern seed 003 describes (a restatement of the quantity, a restatement that changes an attribute,
a lone retraction), each ingested before and after the close of its month (`focus.invoice_close_day`,
5 by default: March counts as invoiced from 2024-04-05).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.config import load_config
from pipelines.runner import run_pipeline
from pipelines.silver import system_usage as silver
from pipelines.silver.late_corrections import split_late_corrections
from pipelines.storage import open_store
from pipelines.tables import COST, FOCUS_COST
from tests.conftest import SERVERLESS_JOBS, correction, system_record, write_config, write_prices, write_system_export
from tests.test_system_usage import landed

CLOSE_DAY = 5
BEFORE_CLOSE, ON_CLOSE, AFTER_CLOSE = "2024-04-04", "2024-04-05", "2024-04-20"
ORIGINAL = system_record("o1", "10", tags={"team": "ml"})  # 2024-03-05 10:00, ingested 2024-03-06


def quantity_restated(ingested: str, original: tuple = ORIGINAL, prefix: str = "") -> list[tuple]:
    return [
        original,
        correction(original, f"{prefix}r1", "RETRACTION", ingested),
        correction(original, f"{prefix}s1", "RESTATEMENT", ingested, usage_quantity=Decimal("4")),
    ]


def tag_restated(ingested: str, original: tuple = ORIGINAL, prefix: str = "") -> list[tuple]:
    return [
        original,
        correction(original, f"{prefix}r1", "RETRACTION", ingested),
        correction(original, f"{prefix}s1", "RESTATEMENT", ingested, custom_tags={"team": "bi"}),
    ]


def retracted(ingested: str, original: tuple = ORIGINAL, prefix: str = "") -> list[tuple]:
    return [original, correction(original, f"{prefix}r1", "RETRACTION", ingested)]


PATTERNS = {"quantity restated": quantity_restated, "tag restated": tag_restated, "retracted": retracted}
PARTS = (
    "record_id string, team string, usage_quantity decimal(38,18), record_type string, charge_class string,"
    " billing_period string"
)


def parts(corrections: DataFrame) -> DataFrame:
    return corrections.select(
        "record_id",
        F.col("custom_tags")["team"].alias("team"),
        "usage_quantity",
        "record_type",
        "charge_class",
        F.col("billing_period").cast("string").alias("billing_period"),
    )


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("ingested", [BEFORE_CLOSE, "2024-03-20"])
def test_a_correction_ingested_while_its_month_is_open_is_only_netted(spark, pattern, ingested):
    bronze = landed(spark, PATTERNS[pattern](ingested))
    assert split_late_corrections(bronze, CLOSE_DAY).count() == 0


@pytest.mark.parametrize("ingested", [ON_CLOSE, AFTER_CLOSE])
def test_a_late_quantity_restatement_is_the_invoiced_original_plus_two_correction_rows(spark, ingested):
    april = "2024-04-01"
    expected = spark.createDataFrame(
        [
            ("o1", "ml", Decimal("10"), None, None, "2024-03-01"),
            ("r1", "ml", Decimal("-10"), "RETRACTION", "Correction", april),
            ("s1", "ml", Decimal("4"), "RESTATEMENT", "Correction", april),
        ],
        PARTS,
    )
    bronze = landed(spark, quantity_restated(ingested))
    actual = split_late_corrections(bronze, CLOSE_DAY)
    assert_df_equality(parts(actual), expected, ignore_row_order=True, ignore_nullable=True)
    # The parts stand for silver's one netted row (original + retraction + restatement = 4 DBU).
    netted = silver.to_usage(bronze).select("record_id", "usage_quantity").collect()
    assert [(r.usage_quantity) for r in netted] == [Decimal("4")]
    assert {r.netted_record_id for r in actual.collect()} == {netted[0].record_id}


def test_a_late_tag_restatement_books_the_retraction_and_the_restatement_to_the_month_of_ingestion(spark):
    april = "2024-04-01"
    expected = spark.createDataFrame(
        [
            ("o1", "ml", Decimal("10"), None, None, "2024-03-01"),
            ("r1", "ml", Decimal("-10"), "RETRACTION", "Correction", april),
            ("s1", "bi", Decimal("10"), "RESTATEMENT", "Correction", april),
        ],
        PARTS,
    )
    bronze = landed(spark, tag_restated(AFTER_CLOSE))
    actual = split_late_corrections(bronze, CLOSE_DAY)
    assert_df_equality(parts(actual), expected, ignore_row_order=True, ignore_nullable=True)
    # The restatement is silver's row (team bi); the original's group nets to nothing in silver.
    assert [r.record_id for r in silver.to_usage(bronze).collect()] == ["s1"]
    by_part = {r.record_id: r.netted_record_id for r in actual.collect()}
    assert by_part["s1"] == "s1" and by_part["o1"] == by_part["r1"] != "s1"


def test_a_late_lone_retraction_keeps_the_invoiced_original_and_books_its_reversal(spark):
    expected = spark.createDataFrame(
        [
            ("o1", "ml", Decimal("10"), None, None, "2024-03-01"),
            ("r1", "ml", Decimal("-10"), "RETRACTION", "Correction", "2024-05-01"),
        ],
        PARTS,
    )
    actual = split_late_corrections(landed(spark, retracted("2024-05-02")), CLOSE_DAY)
    assert_df_equality(parts(actual), expected, ignore_row_order=True, ignore_nullable=True)


def test_a_late_original_record_is_usage_of_its_own_month_not_a_correction(spark):
    late_original = system_record("o9", "3", ingested=AFTER_CLOSE)
    assert split_late_corrections(landed(spark, [late_original]), CLOSE_DAY).count() == 0


def test_corrections_ingested_on_both_sides_of_the_close_split_at_the_close(spark):
    early = correction(ORIGINAL, "r1", "RETRACTION", BEFORE_CLOSE)
    restated = correction(ORIGINAL, "s1", "RESTATEMENT", BEFORE_CLOSE, usage_quantity=Decimal("6"))
    late = correction(restated, "r2", "RETRACTION", AFTER_CLOSE)
    expected = spark.createDataFrame(
        [
            # o1 + r1 + s1 were invoiced with March (6 DBU); r2 reverses s1 in April.
            ("o1", "ml", Decimal("6"), None, None, "2024-03-01"),
            ("r2", "ml", Decimal("-6"), "RETRACTION", "Correction", "2024-04-01"),
        ],
        PARTS,
    )
    actual = split_late_corrections(landed(spark, [ORIGINAL, early, restated, late]), CLOSE_DAY)
    actual = parts(actual).withColumn(
        "record_id", F.when(F.col("record_type").isNull(), "o1").otherwise(F.col("record_id"))
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


# End to end: the run writes gold.focus_cost; each pattern in its own workspace, on both sides of the close.
WORKSPACES = {"before": "1111111111111111", "after": "2222222222222222"}


def all_patterns(workspace: str, ingested: str, prefix: str) -> list[tuple]:
    """Each pattern on its own hour of 2024-03-05 in `workspace`."""
    records = []
    for hour, make in enumerate(PATTERNS.values()):
        original = system_record(f"{prefix}o{hour}", "10", hour=hour, workspace_id=workspace, tags={"team": "ml"})
        records += make(ingested, original, f"{prefix}{hour}")
    return records


@pytest.fixture(scope="module")
def focus_run(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("focus_corrections")
    records = all_patterns(WORKSPACES["before"], BEFORE_CLOSE, "b") + all_patterns(
        WORKSPACES["after"], AFTER_CLOSE, "a"
    )
    write_system_export(spark, tmp / "system", "export", records)
    write_prices(tmp / "prices" / "prices.csv", [(SERVERLESS_JOBS, "2023-01-01T00:00:00Z", "", "0.35")])
    sources = f"  system_usage:\n    path: {tmp / 'system'}\n    format: parquet\n"
    workspaces = "".join(f'  "{ws}": {{cloud: AWS, tier: PREMIUM, region: us-east-1}}\n' for ws in WORKSPACES.values())
    extra = 'discounts:\n  - {name: commit, percent_off: "20", start: 2024-01-01T00:00:00Z}\n'
    config = load_config(write_config(tmp, None, tmp / "prices", extra=extra, workspaces=workspaces, sources=sources))
    run_pipeline(spark, config)
    return config, open_store(spark, config)


def billed(focus: DataFrame, *where: str) -> Decimal:
    rows = focus
    for condition in where:
        rows = rows.where(condition)
    return rows.agg(F.sum("BilledCost").alias("billed")).collect()[0].billed or Decimal(0)


def test_focus_rows_of_an_open_month_are_the_netted_gold_rows(focus_run):
    _, store = focus_run
    focus = store.read(FOCUS_COST).where(F.col("SubAccountId") == WORKSPACES["before"])
    gold = store.read(COST).where(F.col("workspace_id") == WORKSPACES["before"])
    assert focus.where("ChargeClass IS NOT NULL").count() == 0
    assert sorted(r.x_RecordId for r in focus.collect()) == sorted(r.record_id for r in gold.collect())
    # 20% off list (0.35): quantity restated to 4, tag restated 10, retracted 0 -> 14 DBU at 0.28.
    assert billed(focus) == Decimal("3.92")


def test_focus_books_late_corrections_to_the_month_of_their_ingestion(focus_run):
    _, store = focus_run
    focus = store.read(FOCUS_COST).where(F.col("SubAccountId") == WORKSPACES["after"])
    march, april = "BillingPeriodStart = '2024-03-01'", "BillingPeriodStart = '2024-04-01'"
    # March as invoiced: the three originals (30 DBU at 0.28); April: the five corrections (-30 + 4 + 10 DBU).
    assert billed(focus, march) == Decimal("8.40")
    assert focus.where(march).where("ChargeClass IS NULL").count() == 3
    assert billed(focus, april) == Decimal("-4.48")
    corrections = focus.where(april).collect()
    assert {r.ChargeClass for r in corrections} == {"Correction"} and len(corrections) == 5
    assert {r.x_RecordType for r in corrections} == {"RETRACTION", "RESTATEMENT"}
    assert all(r.ChargePeriodStart.strftime("%Y-%m-%d") == "2024-03-05" for r in corrections)
    # Both periods together are the netted usage, the same as the open month's workspace.
    gold = store.read(COST).where(F.col("workspace_id") == WORKSPACES["after"])
    assert billed(focus) == gold.agg(F.sum("contracted_cost").alias("c")).collect()[0].c == Decimal("3.92")


def test_a_billing_periods_billed_cost_is_gold_contracted_cost_plus_corrections_booked_to_it(focus_run):
    _, store = focus_run
    focus, gold = store.read(FOCUS_COST), store.read(COST).where("is_priced")
    for month in ("2024-03-01", "2024-04-01"):
        in_period = focus.where(F.col("BillingPeriodStart") == F.lit(month).cast("timestamp"))
        corrections = in_period.where("ChargeClass = 'Correction'")
        # Corrections to this month's usage that were booked to a later period, once it had been invoiced.
        moved_out = focus.where("ChargeClass = 'Correction'").where(
            (F.trunc("x_UsageDate", "month") == F.lit(month).cast("date"))
            & (F.col("BillingPeriodStart") != F.lit(month).cast("timestamp"))
        )
        contracted = gold.where(F.trunc("usage_date", "month") == F.lit(month).cast("date"))
        expected = (
            (contracted.agg(F.sum("contracted_cost").alias("c")).collect()[0].c or Decimal(0))
            - billed(moved_out)
            + billed(corrections)
        )
        assert billed(in_period) == expected, month


def test_moving_the_close_day_rebuilds_the_focus_view(spark, focus_run, tmp_path: Path):
    config, _ = focus_run
    path = Path(config.source_file)
    text = path.read_text() + "focus:\n  invoice_close_day: 25\n"  # April 20 is now before the close
    path.write_text(text)
    try:
        moved = load_config(path)
        run_pipeline(spark, moved)
        assert open_store(spark, moved).read(FOCUS_COST).where("ChargeClass IS NOT NULL").count() == 0
    finally:
        path.write_text(text.replace("focus:\n  invoice_close_day: 25\n", ""))
        run_pipeline(spark, load_config(path))


def test_a_correction_arriving_after_the_close_recomputes_only_its_usage_date(spark, focus_run):
    config, store = focus_run
    original = system_record("bo0", "10", hour=0, workspace_id=WORKSPACES["before"], tags={"team": "ml"})
    restatement = quantity_restated(BEFORE_CLOSE, original, "b0")[2]  # 4 DBU, invoiced with March
    late = correction(restatement, "late-r", "RETRACTION", "2024-05-10")
    assert config.system_usage is not None and config.system_usage.path is not None
    write_system_export(spark, Path(config.system_usage.path), "export_late", [late])
    before = store.version(FOCUS_COST)
    run_pipeline(spark, config)
    commit = store.last_commit(FOCUS_COST)
    assert commit is not None and commit.version == (before or 0) + 1
    assert commit.metadata["changed"] == {"usage_dates": ["2024-03-05"]}
    may = store.read(FOCUS_COST).where("BillingPeriodStart = '2024-05-01'").collect()
    assert [(r.x_RecordId, r.ChargeClass, r.BilledCost) for r in may] == [("late-r", "Correction", Decimal("-1.12"))]
    run_pipeline(spark, config)  # nothing new: no table is written
    assert store.version(FOCUS_COST) == commit.version
