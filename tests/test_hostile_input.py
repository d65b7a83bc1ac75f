"""Deliveries an outside tester would send: quoted line breaks, CRLF and BOM, a 1 GB line, an unreadable file,
a file whose every record is bad, a missing source; none of them may lose a record or block the others."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from chispa import assert_df_equality
from deltalake import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from benchmarks.generate import HEADER
from pipelines.bronze.ingest_log import REJECTED, Run
from pipelines.bronze.land_legacy import land_legacy_usage
from pipelines.cli import main
from pipelines.config import load_config
from pipelines.runner import run_pipeline
from pipelines.sources.files import RecordLimit, RecordScan
from pipelines.storage.delta_rs import DeltaRsStore
from pipelines.tables import ALL_TABLES, COST, LEGACY_USAGE, QUARANTINE
from tests.conftest import REPO, usage_row, write_config, write_delivery, write_prices
from tests.test_system_pipeline import write_stage_one

WS = "1111111111111111"
GIB = 1024**3


def _csv_text(rows: list[list[str]], line_end: str) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=line_end)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue()


def test_a_quoted_line_break_is_one_record_with_its_cost_in_crlf_and_bom_files(spark, tmp_path: Path) -> None:
    deliveries = tmp_path / "csv"
    deliveries.mkdir()
    broken_name = usage_row(timestamp="2024-01-05T09:59:59.999Z", dbus="2", cluster_name="etl\nnightly")
    last_tags = '{"note":"first line\nsecond line"}'
    rows = [
        broken_name,
        usage_row(timestamp="2024-01-05T10:59:59.999Z", dbus="3")[:10],  # genuinely short: quarantined
        [*usage_row(timestamp="2024-01-05T11:59:59.999Z", dbus="5"), "extra"],  # genuinely long: quarantined
        usage_row(timestamp="2024-01-05T12:59:59.999Z", dbus="7", custom_tags=last_tags),  # line break in last field
    ]
    text = _csv_text(rows, "\r\n")
    (deliveries / f"workspaceId={WS}-usageMonth=2024-01.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    write_delivery(deliveries, WS, "2024-02", [usage_row(timestamp="2024-02-05T09:59:59.999Z", dbus="11")])
    config = load_config(write_config(tmp_path, deliveries, write_prices(tmp_path / "prices.csv", PRICES)))

    summary = run_pipeline(spark, config)

    counts = {e.delivery: (e.rows_read, e.rows_landed, e.rows_quarantined) for e in summary.landed}
    assert counts == {
        f"workspaceId={WS}-usageMonth=2024-01": (4, 2, 2),  # records, not physical lines
        f"workspaceId={WS}-usageMonth=2024-02": (1, 1, 0),
    }
    store = DeltaRsStore(spark, config.warehouse)
    landed = store.read(LEGACY_USAGE).select("clusterName", "tags", "dbus")
    expected = spark.createDataFrame(
        [("etl\nnightly", '{"team":"data"}', "2"), ("etl", last_tags, "7"), ("etl", '{"team":"data"}', "11")],
        "clusterName string, tags string, dbus string",
    )
    assert_df_equality(landed, expected, ignore_row_order=True, ignore_nullable=True)
    reasons = [r.reason for r in store.read(QUARANTINE).collect()]
    assert sorted(reasons) == ["wrong number of fields: expected 12"] * 2
    total = store.read(COST).agg(F.sum("list_cost")).first()
    assert total is not None and total[0] == Decimal("20") * Decimal("0.15")


PRICES = [("PREMIUM_JOBS_COMPUTE", "2023-01-01T00:00:00Z", "", "0.15")]


def _write_huge_line_delivery(folder: Path, size: int) -> Path:
    """A delivery whose second record carries a tags value of `size` bytes, written in chunks (never held whole)."""
    path = folder / f"workspaceId={WS}-usageMonth=2024-01.csv"
    good = usage_row(timestamp="2024-01-07T09:59:59.999Z", dbus="1")
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(_csv_text([good], "\n"))
        handle.write(",".join(usage_row(timestamp="2024-01-07T10:59:59.999Z")[:11]) + ',"')
        chunk = "x" * (64 * 1024 * 1024)
        written = 0
        while written < size:
            handle.write(chunk[: size - written])
            written += len(chunk)
        handle.write('"\n')
    return path


def test_a_1_gb_line_and_an_unreadable_file_are_rejected_by_name_while_everything_else_lands(
    spark: SparkSession, tmp_path: Path
) -> None:
    config_path = Path(write_stage_one(spark, tmp_path).source_file)  # legacy CSVs, system exports, prices
    legacy = tmp_path / "legacy"
    huge = _write_huge_line_delivery(legacy, GIB)
    unreadable = write_delivery(legacy, WS, "2024-05", [usage_row(timestamp="2024-05-02T09:59:59.999Z")])
    unreadable.chmod(0)
    # As root, drop the capabilities that let root read any file, so that permission denied is real.
    as_user = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    command = [*as_user, sys.executable, "-m", "pipelines.cli", "run", "--config", str(config_path)]
    command += ["--log-format", "json"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False, cwd=REPO)

    assert result.returncode == 1, result.stderr[-3000:]
    rejected = [line for line in result.stdout.splitlines() if "REJECTED" in line]
    assert any(huge.name in line and "max_record_bytes" in line for line in rejected), result.stdout
    assert any(unreadable.name in line and "Permission denied" in line for line in rejected), result.stdout
    warehouse = load_config(config_path).warehouse
    log = DeltaTable(f"{warehouse}/bronze/ingest_log").to_pyarrow_table().to_pylist()
    statuses = {(row["source"], Path(row["path"]).name): row["status"] for row in log}
    assert statuses[("legacy_csv", huge.name)] == REJECTED
    assert statuses[("legacy_csv", unreadable.name)] == REJECTED
    assert statuses[("legacy_csv", f"workspaceId={WS}-usageMonth=2024-02.csv")] == "landed"
    assert any(source == "system_usage" and status == "landed" for (source, _), status in statuses.items())
    assert any(source == "list_prices" for source, _ in statuses)
    store = DeltaRsStore(spark, warehouse)
    assert store.version(COST) is not None
    assert store.read(LEGACY_USAGE).where(F.col("usage_month") == "2024-01").count() == 0


def test_a_delivery_whose_every_record_is_quarantined_is_reported_as_rejected(spark, tmp_path: Path) -> None:
    deliveries = tmp_path / "csv"
    write_delivery(deliveries, WS, "2024-01", [usage_row(dbus="4")])
    store = DeltaRsStore(spark, str(tmp_path / "warehouse"))
    land_legacy_usage(spark, store, str(deliveries), Run())
    write_delivery(deliveries, WS, "2024-01", [usage_row(dbus="abc"), usage_row(timestamp="never")])

    result = land_legacy_usage(spark, DeltaRsStore(spark, store.warehouse), str(deliveries), Run())

    assert [r.dbus for r in store.read(LEGACY_USAGE).collect()] == ["4"]  # the month keeps its last good delivery
    assert result.landed == []
    assert [(e.status, e.rows_read, e.rows_quarantined, e.error) for e in result.rejected] == [
        (REJECTED, 2, 2, "all 2 records quarantined")
    ]
    assert store.read(QUARANTINE).count() == 2


def test_a_landing_that_quarantines_nothing_writes_no_quarantine_commit(spark, tmp_path: Path) -> None:
    deliveries = tmp_path / "csv"
    write_delivery(deliveries, WS, "2024-01", [usage_row(dbus="abc"), usage_row()])
    store = DeltaRsStore(spark, str(tmp_path / "warehouse"))
    land_legacy_usage(spark, store, str(deliveries), Run())
    assert store.version(QUARANTINE) == 0

    write_delivery(deliveries, WS, "2024-02", [usage_row(timestamp="2024-02-05T09:59:59.999Z")])
    land_legacy_usage(spark, DeltaRsStore(spark, store.warehouse), str(deliveries), Run())
    assert store.version(QUARANTINE) == 0

    write_delivery(deliveries, WS, "2024-01", [usage_row()])  # the bad row corrected: its quarantine row goes
    land_legacy_usage(spark, DeltaRsStore(spark, store.warehouse), str(deliveries), Run())
    assert store.version(QUARANTINE) == 1
    assert store.read(QUARANTINE).count() == 0


def test_a_clean_run_of_every_file_source_writes_no_quarantine_table(spark, tmp_path: Path) -> None:
    deliveries = tmp_path / "csv"
    write_delivery(deliveries, WS, "2024-01", [usage_row()])
    config = load_config(write_config(tmp_path, deliveries, write_prices(tmp_path / "prices.csv", PRICES)))
    summary = run_pipeline(spark, config)
    assert "bronze.list_prices" in summary.written
    assert DeltaRsStore(spark, config.warehouse).version(QUARANTINE) is None


def test_a_missing_source_location_stops_the_run_before_anything_is_written(tmp_path: Path, capsys) -> None:
    deliveries = tmp_path / "csv"
    write_delivery(deliveries, WS, "2024-01", [usage_row()])
    config = write_config(tmp_path, deliveries, tmp_path / "no-such-prices")

    assert main(["run", "--config", str(config)]) == 2

    assert "sources.list_prices.path" in capsys.readouterr().err
    store_root = Path(load_config(config).warehouse)
    assert not [t for t in ALL_TABLES if DeltaTable.is_deltatable(str(store_root / t.layer / t.name))]


def test_records_are_measured_across_read_chunks_and_quoted_line_breaks() -> None:
    def longest_over(data: bytes, limit: int, chunk: int, quoted: bool = True) -> str | None:
        scan = RecordScan(RecordLimit(limit, quoted))
        for start in range(0, len(data), chunk):
            scan.feed(data[start : start + chunk])
        return scan.problem()

    text = b'h1,h2\n1,"a\nb ""quoted"" c"\n2,short\n'
    assert all(longest_over(text, 20, size) is None for size in (1, 2, 3, 7, 100))  # longest record: 20 bytes
    assert all("record 2 (counting the header) is 20 bytes" in str(longest_over(text, 19, n)) for n in (1, 5, 100))
    assert longest_over(text, 19, 4, quoted=False) is None  # as lines (JSON lines), no line exceeds 19 bytes
    assert "record 3 " in str(longest_over(b"a\nb\n" + b"x" * 50, 40, 8))  # a last record without a line break


def test_a_refused_file_lands_once_the_limit_allows_it_and_is_not_reported_again_before(spark, tmp_path: Path) -> None:
    deliveries = tmp_path / "csv"
    write_delivery(deliveries, WS, "2024-01", [usage_row(custom_tags='{"note":"' + "x" * 2000 + '"}')])
    store = DeltaRsStore(spark, str(tmp_path / "warehouse"))

    first = land_legacy_usage(spark, store, str(deliveries), Run(), max_record_bytes=1024)
    again = land_legacy_usage(spark, DeltaRsStore(spark, store.warehouse), str(deliveries), Run(), 1024)
    raised = land_legacy_usage(spark, DeltaRsStore(spark, store.warehouse), str(deliveries), Run(), 8192)

    assert [e.error for e in first.rejected] == [
        "record 2 (counting the header) is 4,170 bytes, longer than max_record_bytes (1,024): the file is not read"
    ]
    assert (again.rejected, again.landed, again.unchanged) == ([], [], 1)  # not reported twice
    assert [(e.rows_read, e.rows_landed) for e in raised.landed] == [(1, 1)]
