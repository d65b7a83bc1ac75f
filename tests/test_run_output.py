"""What a person reads on stdout: one line per source after a run, money with two decimals, aligned SKU names."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
from deltalake import write_deltalake

from pipelines.app import describe_run
from pipelines.bronze.ingest_log import LogEntry
from pipelines.runner import RunSummary
from pipelines.storage.arrow import contract_schema
from pipelines.storage.delta_rs import DeltaRsReader
from pipelines.summary import cost_summary
from pipelines.tables import COST_DAILY


def _delivery(source: str, number: int, status: str = "landed", error: str | None = None) -> LogEntry:
    entry = LogEntry(source, f"{source}-{number}", f"/in/{source}/{number}.csv", 10, 0, "sha", status, error=error)
    return entry.with_counts(100, 99, 1) if status == "landed" else entry


def _run() -> RunSummary:
    summary = RunSummary("r1", unchanged=3, written={"bronze.legacy_usage": 1})
    summary.unchanged_by_source = {"legacy_csv": 2, "system_usage": 0, "list_prices": 1}
    summary.landed = [_delivery("legacy_csv", n) for n in range(12)] + [_delivery("system_usage", n) for n in range(92)]
    summary.rejected = [_delivery("legacy_csv", 99, "rejected", "header is not the legacy usage header")]
    summary.failed = ["dremio: HTTP 503"]
    return summary


def test_a_run_prints_one_line_per_source_and_lists_only_what_needs_attention() -> None:
    lines = describe_run(_run()).splitlines()
    assert lines[0] == "run r1: 104 deliveries landed, 1 rejected, 3 unchanged"
    assert lines[1:] == [
        "  legacy_csv        12 landed, 1 rejected, 2 unchanged: 1,200 rows read = 1,188 landed + 12 quarantined",
        "  system_usage      92 landed, 0 rejected, 0 unchanged: 9,200 rows read = 9,108 landed + 92 quarantined",
        "  list_prices        0 landed, 0 rejected, 1 unchanged: 0 rows read = 0 landed + 0 quarantined",
        "  REJECTED /in/legacy_csv/99.csv: header is not the legacy usage header",
        "  FAILED   dremio: HTTP 503",
        "  tables written: bronze.legacy_usage v1",
    ]


def test_a_verbose_run_lists_each_delivery_under_its_source() -> None:
    lines = describe_run(_run(), verbose=True).splitlines()
    assert len([line for line in lines if line.startswith("    landed   ")]) == 104
    assert lines[2] == "    landed   legacy_csv-0: 100 read = 99 landed + 1 quarantined"


def _cost_daily(warehouse: Path, rows: list[tuple]) -> None:
    columns = ["usage_date", "sku_name", "usage_unit", "currency_code", "usage_quantity", "list_cost", "effective_cost"]
    columns += ["contracted_cost", "contracted_price_source"]
    schema = contract_schema(COST_DAILY)
    records = [dict(zip(columns, row, strict=True)) | {"unpriced_record_count": 0} for row in rows]
    data = pa.Table.from_pylist(records, schema=schema)
    write_deltalake(str(warehouse / "gold" / "cost_daily"), data, partition_by=["usage_date"])


def _at(contracted: str, source: str) -> tuple[Decimal, str]:
    """A cost_daily row's contracted cost and contracted price source."""
    return Decimal(contracted), source


def test_the_summary_prints_money_with_two_decimals_and_aligns_long_sku_names(tmp_path: Path) -> None:
    long_sku = "PREMIUM_INTERACTIVE_SERVERLESS_COMPUTE_US_EAST_N_VIRGINIA_WITH_A_LONGER_NAME"
    day = date(2024, 3, 5)
    _cost_daily(
        tmp_path,
        [
            (day, long_sku, "DBU", "USD", Decimal("10.5"), Decimal("1234.5"), Decimal("1000.126"), *_at("900", "list")),
            (day, "JOBS", "DBU", "USD", Decimal("2"), Decimal("0.333333"), Decimal("0.3"), *_at("0.25", "discount:j")),
            (day, "JOBS", "DBU", "EUR", Decimal("1"), Decimal("7"), Decimal("7"), *_at("6", "account_prices")),
        ],
    )
    text = cost_summary(DeltaRsReader(str(tmp_path)))

    per_day = text.split("Cost per SKU")[0]
    assert re.search(r"2024-03-05 +DBU +12\.500 +1,234\.83 +1,000\.43 +900\.25 USD", per_day)  # never across currencies
    assert re.search(r"2024-03-05 +DBU +1\.000 +7\.00 +7\.00 +6\.00 EUR", per_day)
    sku_lines = [line for line in text.splitlines() if "DBU" in line and ("JOBS" in line or long_sku in line)]
    sku_lines = [line for line in sku_lines if not line.strip().startswith("2024")]
    assert len(sku_lines) == 3
    assert len({line.index(" DBU ") for line in sku_lines}) == 1  # the unit column lines up after the longest name
    assert f"{long_sku}  DBU" in text
    assert "total DBU 2024-03-05..2024-03-05: list 1,234.83 USD, effective 1,000.43 USD, contracted 900.25 USD" in text
    assert "total DBU 2024-03-05..2024-03-05: list 7.00 EUR, effective 7.00 EUR, contracted 6.00 EUR" in text
    per_source = text.split("Contracted price per source")[1].split("Unpriced usage")[0]
    assert re.search(r"list +DBU +10\.500 +1,234\.50 +900\.00 USD", per_source)
    assert re.search(r"discount:j +DBU +2\.000 +0\.33 +0\.25 USD", per_source)
    assert re.search(r"account_prices +DBU +1\.000 +7\.00 +6\.00 EUR", per_source)
    amounts = re.findall(r"\d[\d,]*\.\d+ (?:USD|EUR)", text)
    assert amounts and all(re.fullmatch(r"[\d,]+\.\d{2} (USD|EUR)", a) for a in amounts)
