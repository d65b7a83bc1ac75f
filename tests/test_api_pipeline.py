"""Both usage APIs through bronze, silver and gold, against real local HTTP servers.

Failures midway, late data, re-downloads and malformed answers: each run must leave the tables as
a clean run would, never duplicate, and never write a secret anywhere.
"""

from __future__ import annotations

import csv
import io
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipelines.cli import main
from pipelines.config import load_config
from pipelines.runner import run_pipeline
from pipelines.storage import open_store
from pipelines.tables import COST, DREMIO_USAGE, INGEST_LOG, LEGACY_USAGE, UNPRICED_USAGE, USAGE
from tests.api_servers import AccountApi, Answer, DremioUsage, hourly, serve
from tests.conftest import HEADER, usage_row, write_config

DREMIO_TOKEN = "dremio-secret-token"
DATABRICKS_TOKEN = "dapi-secret-token"


def _midnight(days_ago: int) -> datetime:
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC) - timedelta(days=days_ago)


def _dremio_config(tmp_path: Path, url: str, gap_hour: datetime, storage: str) -> Path:
    (tmp_path / "rate_cards.yml").write_text(
        "version: 1\n"
        "rate_cards:\n"
        "  - {sku_name: DREMIO_DCU, cloud: AWS, usage_unit: DCU, currency_code: USD, windows: [\n"
        f'      {{start: 2020-01-01T00:00:00Z, end: {gap_hour.isoformat()}, price: "0.50"}},\n'
        f'      {{start: {(gap_hour + timedelta(hours=1)).isoformat()}, price: "0.40", effective_price: "0.36"}}]}}\n'
    )
    dremio = (
        f"  dremio:\n    base_url: {url}\n    backfill_days: 100\n    refetch_hours: 48\n"
        "    page_size: 7\n    timeout_seconds: 5\n"
    )
    return write_config(tmp_path, None, None, extra="rate_cards: rate_cards.yml\n", sources=dremio, storage=storage)


def _every_value(store, tables) -> str:
    return "\n".join(str(row) for table in tables for row in store.read(table).collect())


def test_dremio_usage_lands_once_is_priced_by_the_rate_card_and_survives_failures(
    spark: SparkSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    backend: str,
) -> None:
    monkeypatch.setenv("DREMIO_TOKEN", DREMIO_TOKEN)
    gap_hour = _midnight(2) + timedelta(hours=12)
    old = hourly(["p-old"], _midnight(95), 2, lambda ident, hour: "3.5")
    recent = hourly(["p-1", "p-2"], _midnight(3), 72, lambda ident, hour: f"{hour % 5}.{len(ident)}25")
    api = DremioUsage(old + recent, DREMIO_TOKEN)
    api.fail_windows_from = _midnight(20)  # the second 90-day window fails on the first run
    for logger in ("pipelines", "databricks.sdk", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=logger)

    with serve(api) as (url, seen):
        config = load_config(_dremio_config(tmp_path, url, gap_hour, backend))
        store = open_store(spark, config)

        assert main(["ingest", "dremio", "--config", config.source_file]) == 1  # the second window fails
        assert store.row_count(DREMIO_USAGE) == 2  # the first window landed, nothing of the failed one
        log = {row["status"]: row for row in store.read_rows(INGEST_LOG) if row["source"] == "dremio"}
        assert log["landed"]["rows_read"] == 2 and log["landed"]["pages"] == 1
        assert (
            log["failed"]["window_start"] is not None
            and "(HTTP 500): temporarily unavailable" in log["failed"]["error"]
        )

        api.fail_windows_from = None
        assert main(["ingest", "dremio", "--config", config.source_file]) == 0  # picks up from the last window
        assert store.row_count(DREMIO_USAGE) == len(old) + len(recent)

        late = next(o for o in recent if o["startTime"].startswith(_midnight(1).strftime("%Y-%m-%dT05")))
        late["usage"] = "9.75"  # usage arrives late for an hour already fetched
        api.objects.append({**late, "id": "p-3"})
        assert not run_pipeline(spark, config, store).failed
        assert store.row_count(DREMIO_USAGE) == len(api.objects)  # re-fetched days replaced, never duplicated

        before = (store.version(DREMIO_USAGE), store.read(DREMIO_USAGE).count())
        api.faults[api.requests + 1] = Answer(200, b'{"data": [{"id": "p-1", "usage": 1.0,')
        assert main(["ingest", "dremio", "--config", config.source_file]) == 1
        assert (store.version(DREMIO_USAGE), store.read(DREMIO_USAGE).count()) == before
        assert any("malformed JSON" in (row["error"] or "") for row in store.read_rows(INGEST_LOG))

    cost = store.read(COST).where(F.col("source") == "dremio")
    expected_quantity = sum(Decimal(o["usage"]) for o in api.objects)
    assert cost.agg(F.sum("usage_quantity")).collect()[0][0] == expected_quantity
    gap = gap_hour.strftime("%Y-%m-%dT%H:%M:%SZ")
    expected_cost = sum(
        Decimal(o["usage"]) * (Decimal("0.50") if o["startTime"] < gap else Decimal("0.36"))
        for o in api.objects
        if o["startTime"] != gap
    )
    assert cost.agg(F.sum("effective_cost")).collect()[0][0] == expected_cost
    unpriced = store.read(UNPRICED_USAGE).where(F.col("source") == "dremio")
    unpriced_hours = unpriced.select(
        F.date_format("usage_start_time", "yyyy-MM-dd'T'HH:mm:ss'Z'").alias("usage_start_time"), "usage_unit"
    )
    at_gap = [(gap, "DCU") for o in api.objects if o["startTime"] == gap]  # no rate-card window holds that hour
    assert at_gap
    expected_unpriced = spark.createDataFrame(at_gap, "usage_start_time string, usage_unit string")
    assert_df_equality(unpriced_hours, expected_unpriced, ignore_row_order=True, ignore_nullable=True)
    assert cost.where(~F.col("is_priced")).where(F.col("effective_cost").isNotNull()).count() == 0
    silver = store.read(USAGE).where(F.col("source") == "dremio")
    assert silver.where(F.col("usage_metadata.project_id").isNull()).count() == 0
    assert silver.select("record_id").distinct().count() == len(api.objects)
    assert all(r.headers["Authorization"] == f"Bearer {DREMIO_TOKEN}" for r in seen)
    assert DREMIO_TOKEN not in caplog.text
    assert DREMIO_TOKEN not in _every_value(store, [INGEST_LOG, DREMIO_USAGE])


def _month_csv(rows: list[list[str]]) -> str:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return text.getvalue()


def test_account_api_months_become_deliveries_that_land_like_delivered_files(
    spark: SparkSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    backend: str,
) -> None:
    monkeypatch.setenv("DATABRICKS_TOKEN", DATABRICKS_TOKEN)
    for name in ("DATABRICKS_HOST", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET", "DATABRICKS_CONFIG_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for logger in ("pipelines", "databricks.sdk", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=logger)
    a, b = "1111111111111111", "2222222222222222"
    months = {
        "2024-01": _month_csv(
            [usage_row(a, "2024-01-05T09:59:59.999Z", dbus="1.5"), usage_row(b, "2024-01-06T09:59:59.999Z", dbus="2")]
        ),
        "2024-02": _month_csv(
            [usage_row(a, "2024-02-05T09:59:59.999Z", dbus="4"), usage_row(a, "2024-02-06T09:59:59.999Z", dbus="0.25")]
        ),
        "2024-03": _month_csv([usage_row(b, "2024-03-01T00:59:59.999Z", dbus="7")]),
    }
    api = AccountApi("acc-1", months, DATABRICKS_TOKEN)
    api.faults["2024-03"] = Answer(200, b"<html>maintenance</html>", {"Content-Type": "text/html"})

    with serve(api) as (url, seen):
        source = (
            f"  account_api:\n    host: {url}\n    start_month: '2024-01'\n    end_month: '2024-03'\n"
            "    refresh_months: 2\n    timeout_seconds: 10\n"
        )
        config = load_config(
            write_config(tmp_path, None, None, extra="account_id: acc-1\n", sources=source, storage=backend)
        )
        store = open_store(spark, config)

        assert main(["ingest", "account-api", "--config", config.source_file]) == 1
        failed = [row for row in store.read_rows(INGEST_LOG) if row["status"] == "failed"]
        assert [row["delivery"] for row in failed] == ["account_api:2024-03"]
        assert "2024-03 is not the billable-usage CSV" in failed[0]["error"]
        landing = Path(config.account_api.landing)  # type: ignore[union-attr]
        assert sorted(p.name for p in landing.iterdir()) == [
            f"workspaceId={a}-usageMonth=2024-01.csv",
            f"workspaceId={a}-usageMonth=2024-02.csv",
            f"workspaceId={b}-usageMonth=2024-01.csv",
        ]
        assert store.row_count(LEGACY_USAGE) == 4

        del api.faults["2024-03"]
        months["2024-02"] = _month_csv([usage_row(a, "2024-02-05T09:59:59.999Z", dbus="4")])  # re-download shrinks
        requested = len(seen)
        second = run_pipeline(spark, config, store)
        assert not second.failed
        assert [r.query["start_month"] for r in seen[requested:] if "download" in r.path] == ["2024-02", "2024-03"]
        assert store.row_count(LEGACY_USAGE) == 4  # February lost a row, March gained one

        requested = len(seen)
        assert (
            main(
                [
                    "ingest",
                    "account-api",
                    "--config",
                    config.source_file,
                    "--start-month",
                    "2024-01",
                    "--end-month",
                    "2024-01",
                ]
            )
            == 0
        )
        assert [r.query for r in seen[requested:] if "download" in r.path] == [
            {"start_month": "2024-01", "end_month": "2024-01", "personal_data": "false"}
        ]

    monthly = (
        store.read(USAGE)
        .groupBy(F.date_format("usage_date", "yyyy-MM").alias("month"))
        .agg(F.sum("usage_quantity").alias("usage_quantity"))
    )
    expected = spark.createDataFrame(
        [("2024-01", Decimal("3.5")), ("2024-02", Decimal("4")), ("2024-03", Decimal("7"))],
        "month string, usage_quantity decimal(38,18)",
    )
    assert_df_equality(monthly, expected, ignore_row_order=True, ignore_nullable=True)
    assert store.read(USAGE).where(F.col("source") != "legacy_csv").count() == 0
    downloads = [row for row in store.read_rows(INGEST_LOG) if row["source"] == "account_api"]
    assert {(row["delivery"], row["status"]) for row in downloads} >= {
        ("account_api:2024-03", "failed"),
        ("account_api:2024-03", "landed"),
    }
    assert DATABRICKS_TOKEN not in caplog.text
    assert DATABRICKS_TOKEN not in _every_value(store, [INGEST_LOG, LEGACY_USAGE])
