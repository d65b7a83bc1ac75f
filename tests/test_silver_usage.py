"""Bronze legacy rows -> silver usage: types, times, tags, deprecated SKUs, duplicates."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines.bronze import legacy_usage
from pipelines.silver.legacy_usage import to_usage
from pipelines.silver.sku_mapping import sku_map_frame, workspaces_frame
from pipelines.sources.legacy_csv import read_legacy_csv
from tests.conftest import config_for, usage_row, write_delivery


def _silver(spark: SparkSession, tmp_path: Path, rows: list[list[str]], workspace: str = "1111111111111111"):
    config = config_for(tmp_path, tmp_path / "csv")
    path = write_delivery(tmp_path / "csv", workspace, "2024-01", rows)
    validated = legacy_usage.validate(read_legacy_csv(spark, [str(path)]))
    bronze = legacy_usage.landed_rows(validated, F.lit("sha"), F.current_timestamp())
    return to_usage(bronze, workspaces_frame(spark, config), sku_map_frame(spark, config), "acc")


def test_times_quantities_and_tags_are_typed_exactly(spark: SparkSession, tmp_path: Path) -> None:
    tags = '{"dept":"mktg, ops","note":"say \\"hi\\"","ort":"Zürich"}'
    usage = _silver(spark, tmp_path, [usage_row(dbus="0.123456789012345678", custom_tags=tags)]).collect()[0]

    assert usage.usage_end_time == datetime(2024, 1, 5, 10, 0, 0)
    assert usage.usage_start_time == datetime(2024, 1, 5, 9, 0, 0)
    assert usage.usage_date == date(2024, 1, 5)
    assert usage.usage_quantity == Decimal("0.123456789012345678")
    assert usage.usage_unit == "DBU" and usage.cloud == "AWS" and usage.source == "legacy_csv"
    assert usage.custom_tags == {"dept": "mktg, ops", "note": 'say "hi"', "ort": "Zürich"}
    assert usage.usage_metadata.cluster_id == "0101-000000-abc123"
    assert usage.identity_metadata.cluster_owner_user_name == "ana@example.com"


def test_last_hour_of_a_month_stays_on_that_day(spark: SparkSession, tmp_path: Path) -> None:
    usage = _silver(spark, tmp_path, [usage_row(timestamp="2024-01-31T23:59:59.999Z")]).collect()[0]
    assert usage.usage_end_time == datetime(2024, 2, 1, 0, 0)
    assert usage.usage_date == date(2024, 1, 31)


@pytest.mark.parametrize(
    ("workspace", "delivered", "current"),
    [
        ("1111111111111111", "LIGHT_AUTOMATED_NON_OPSEC", "PREMIUM_JOBS_LIGHT_COMPUTE"),
        ("2222222222222222", "LIGHT_AUTOMATED_OPSEC", "ENTERPRISE_JOBS_LIGHT_COMPUTE"),
        ("2222222222222222", "STANDARD_INTERACTIVE_OPSEC", "ENTERPRISE_ALL_PURPOSE_COMPUTE"),
        ("1111111111111111", "PREMIUM_ALL_PURPOSE_COMPUTE_(DLT)", "PREMIUM_DLT_CORE_COMPUTE"),
        ("1111111111111111", "PREMIUM_SERVERLESS_SQL_COMPUTE", "PREMIUM_SERVERLESS_SQL_COMPUTE_US_EAST_N_VIRGINIA"),
        ("2222222222222222", "ENTERPRISE_SERVERLESS_SQL_COMPUTE", "ENTERPRISE_SERVERLESS_SQL_COMPUTE_US_WEST_OREGON"),
        ("1111111111111111", "PREMIUM_JOBS_COMPUTE", "PREMIUM_JOBS_COMPUTE"),
    ],
)
def test_deprecated_skus_map_by_workspace_tier_and_region(
    spark: SparkSession, tmp_path: Path, workspace: str, delivered: str, current: str
) -> None:
    usage = _silver(spark, tmp_path, [usage_row(workspace_id=workspace, sku=delivered)], workspace).collect()[0]
    assert (usage.sku_name, usage.sku_name_delivered) == (current, delivered)


def test_unconfigured_workspace_keeps_its_sku_and_has_no_cloud(spark: SparkSession, tmp_path: Path) -> None:
    usage = _silver(spark, tmp_path, [usage_row(workspace_id="5", sku="LIGHT_AUTOMATED_OPSEC")], "5").collect()[0]
    assert (usage.sku_name, usage.cloud) == ("LIGHT_AUTOMATED_OPSEC", None)


def test_identical_rows_are_one_record_and_ids_are_stable(spark: SparkSession, tmp_path: Path) -> None:
    rows = [usage_row(), usage_row(), usage_row(dbus="2")]
    first = _silver(spark, tmp_path, rows).select("record_id")
    again = _silver(spark, tmp_path, list(reversed(rows))).select("record_id")
    assert first.count() == 2
    assert_df_equality(again, first, ignore_row_order=True, ignore_nullable=True)


def test_malformed_tag_json_keeps_the_billable_row_with_no_tags(spark: SparkSession, tmp_path: Path) -> None:
    usage = _silver(spark, tmp_path, [usage_row(custom_tags="{broken")]).collect()[0]
    assert usage.custom_tags is None and usage.tags is None
    assert usage.usage_quantity == Decimal("1.5")
