"""Reading and landing legacy billable-usage CSV deliveries (bronze)."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import cast

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines.bronze import legacy_usage
from pipelines.bronze.ingest_log import Run
from pipelines.bronze.land_legacy import land_legacy_usage
from pipelines.errors import SourceMissing
from pipelines.sources.files import _executor_sha256, list_files, sha256_of
from pipelines.sources.legacy_csv import read_legacy_csv
from pipelines.storage.delta_rs import DeltaRsStore
from pipelines.tables import INGEST_LOG, LEGACY_CSV_COLUMNS, LEGACY_USAGE, QUARANTINE
from tests.conftest import usage_row, write_delivery

WS = "1111111111111111"


def test_quoted_json_tags_and_commas_in_cluster_names_survive(spark: SparkSession, tmp_path: Path) -> None:
    tags = '{"dept":"mktg, ops","owner":"José \\"JJ\\" Núñez"}'
    path = write_delivery(tmp_path, WS, "2024-01", [usage_row(cluster_name='etl, "nightly"', custom_tags=tags)])
    assert '""dept"":""mktg, ops""' in path.read_text(encoding="utf-8")  # the delivered `""` escaping

    row = legacy_usage.validate(read_legacy_csv(spark, [str(path)])).collect()[0]
    assert row["_reason"] is None
    assert row["clusterName"] == 'etl, "nightly"'
    assert row["clusterCustomTags"] == tags
    assert row["dbus"] == "1.5"
    assert (row["workspace_id"], row["usage_month"]) == (WS, "2024-01")


def test_bad_rows_are_quarantined_with_a_reason_and_nothing_is_lost(spark: SparkSession, tmp_path: Path) -> None:
    good = usage_row()
    too_few = good[:10]
    too_many = [*good, "extra"]
    rows = [
        good,
        too_few,
        too_many,
        usage_row(timestamp="not-a-time"),
        usage_row(dbus="12,5"),
        usage_row(dbus="abc"),
        usage_row(timestamp="2024-02-03T10:59:59.999Z"),
        usage_row(workspace_id="999"),
    ]
    write_delivery(tmp_path / "csv", WS, "2024-01", rows)
    store = DeltaRsStore(spark, str(tmp_path / "wh"))

    result = land_legacy_usage(spark, store, str(tmp_path / "csv"), Run())

    entry = result.landed[0]
    assert (entry.rows_read, entry.rows_landed, entry.rows_quarantined) == (8, 1, 7)
    assert store.row_count(LEGACY_USAGE) + store.row_count(QUARANTINE) == len(rows)
    reasons = [
        "wrong number of fields: expected 12",
        "wrong number of fields: expected 12",
        "unparseable timestamp",
        "unparseable dbus",
        "unparseable dbus",
        "timestamp outside the file's usage month",
        "workspaceId does not match the file name",
    ]
    expected = spark.createDataFrame([(reason,) for reason in reasons], "reason string")
    assert_df_equality(store.read(QUARANTINE).select("reason"), expected, ignore_row_order=True, ignore_nullable=True)
    raw = store.read(QUARANTINE).where(F.col("reason").startswith("wrong number")).collect()
    assert {r.raw_record.count(",") for r in raw} == {9, 12}  # the delivered line, kept as it was


def test_wrong_header_or_name_rejects_the_file_and_the_others_still_land(spark: SparkSession, tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    write_delivery(folder, WS, "2024-01", [usage_row()])
    bad_header = ["workspace", *legacy_usage.LEGACY_CSV_COLUMNS[1:]]
    write_delivery(folder, WS, "2024-02", [usage_row(timestamp="2024-02-01T10:59:59.999Z")], header=bad_header)
    (folder / "usage-2024-03.csv").write_text("whatever\n")
    (folder / f"workspaceId={WS}-usageMonth=2024-04.csv").write_bytes(b"")
    store = DeltaRsStore(spark, str(tmp_path / "wh"))

    result = land_legacy_usage(spark, store, str(folder), Run())

    assert [e.delivery for e in result.landed] == [f"workspaceId={WS}-usageMonth=2024-01"]
    errors = {e.delivery: cast(str, e.error) for e in result.rejected}
    assert errors[f"workspaceId={WS}-usageMonth=2024-02"].startswith("unexpected header")
    assert errors["usage-2024-03"].startswith("file name does not match")
    assert store.row_count(LEGACY_USAGE) == 1
    statuses = {(r.delivery, r.status) for r in store.read(INGEST_LOG).collect()}
    assert (f"workspaceId={WS}-usageMonth=2024-02", "rejected") in statuses

    again = land_legacy_usage(spark, store, str(folder), Run())
    assert (again.landed, again.rejected, again.unchanged) == ([], [], 4)


def test_unchanged_file_is_skipped_and_a_touched_identical_file_writes_nothing(
    spark: SparkSession, tmp_path: Path
) -> None:
    path = write_delivery(tmp_path / "csv", WS, "2024-01", [usage_row()])
    store = DeltaRsStore(spark, str(tmp_path / "wh"))
    land_legacy_usage(spark, store, str(tmp_path / "csv"), Run())
    versions = (store.version(LEGACY_USAGE), store.version(INGEST_LOG))

    path.write_bytes(path.read_bytes())  # same content, new modification time
    result = land_legacy_usage(spark, store, str(tmp_path / "csv"), Run())

    assert result.landed == [] and result.unchanged == 1
    assert (store.version(LEGACY_USAGE), store.version(INGEST_LOG)) == versions


def test_checksums_of_local_files_match_the_executor_checksums(spark: SparkSession, tmp_path: Path) -> None:
    write_delivery(tmp_path / "in", WS, "2024-01", [usage_row()])
    (tmp_path / "in" / "empty.csv").write_bytes(b"")
    (tmp_path / "in" / "name with space.csv").write_bytes(bytes(range(256)) * 40_000)  # several read chunks
    files = list_files(spark, str(tmp_path / "in"))
    expected = {f.path: hashlib.sha256(Path(f.path.removeprefix("file:")).read_bytes()).hexdigest() for f in files}

    assert sha256_of(spark, files) == expected  # local files: hashed by the driver
    non_empty = [f for f in files if f.size > 0]
    remote = {path: digest.sha256 for path, digest in _executor_sha256(spark, non_empty).items()}
    assert remote == {f.path: expected[f.path] for f in non_empty}  # s3:// and others

    (tmp_path / "in" / "name with space.csv").unlink()
    with pytest.raises(SourceMissing, match=r"name with space\.csv"):
        sha256_of(spark, files)


def test_a_record_belongs_to_the_month_its_usage_hour_starts_in(spark: SparkSession, tmp_path: Path) -> None:
    rows = [
        usage_row(timestamp="2024-02-01T00:00:00Z"),  # the hour 2024-01-31 23:00-24:00: January
        usage_row(timestamp="2024-01-31T23:59:59.999Z"),  # the same hour, end-of-hour style: January
        usage_row(timestamp="2024-01-01T00:00:00Z"),  # the hour 2023-12-31 23:00-24:00: December
        usage_row(timestamp="2024-01-01T00:00:00.001Z"),  # the hour 00:00-01:00 on January 1st
    ]
    path = write_delivery(tmp_path, WS, "2024-01", rows)

    reasons = legacy_usage.validate(read_legacy_csv(spark, [str(path)])).select("timestamp", "_reason")

    expected = spark.createDataFrame(
        [
            ("2024-02-01T00:00:00Z", None),
            ("2024-01-31T23:59:59.999Z", None),
            ("2024-01-01T00:00:00Z", "timestamp outside the file's usage month"),
            ("2024-01-01T00:00:00.001Z", None),
        ],
        "timestamp string, _reason string",
    )
    assert_df_equality(reasons, expected, ignore_row_order=True, ignore_nullable=True)


def test_changed_usage_dates_compare_each_date_s_rows_as_a_multiset(spark: SparkSession) -> None:
    schema = ", ".join(f"`{c}` string" for c in (*LEGACY_CSV_COLUMNS, "_source_file"))
    file = "/deliveries/a.csv"

    def row(day: str, hour: str = "09:59:59.999", **fields: str | None) -> list[str | None]:
        values: list[str | None] = [*usage_row(timestamp=f"2024-01-{day}T{hour}Z"), file]
        for name, value in fields.items():
            values[[*LEGACY_CSV_COLUMNS, "_source_file"].index(name)] = value
        return values

    before = [
        row("05"),
        row("06", clusterId=None, clusterName="etl"),
        row("07"),
        row("07"),
        row("08"),
        row("10"),
        row("12", "00:00:00.000"),  # the hour ending at midnight is the 11th's
    ]
    after = [
        row("12", "00:00:00.000"),
        row("05"),  # unchanged, listed in another order
        row("06", clusterId="etl", clusterName=None),  # the value moved to the next column
        row("07"),  # one of two identical rows withdrawn
        row("09"),  # a new day
        row("10", _source_file="/deliveries/elsewhere/a.csv"),
        row("13", "00:00:00.000"),  # a new hour ending at midnight: the 12th changes
    ]
    changed = legacy_usage.changed_usage_dates(
        spark.createDataFrame(before, schema), spark.createDataFrame(after, schema)
    )
    expected = spark.createDataFrame([(date(2024, 1, d),) for d in (6, 7, 8, 9, 10, 12)], "usage_date date")
    assert_df_equality(changed, expected, ignore_row_order=True, ignore_nullable=True)

    gone = legacy_usage.changed_usage_dates(spark.createDataFrame(before, schema), spark.createDataFrame([], schema))
    expected_gone = spark.createDataFrame([(date(2024, 1, d),) for d in (5, 6, 7, 8, 10, 11)], "usage_date date")
    assert_df_equality(gone, expected_gone, ignore_row_order=True, ignore_nullable=True)
