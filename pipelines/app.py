"""Entry-point glue shared by the CLI and the spark-submit jobs: config -> session -> one action."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import functions as F

from pipelines.alerts.send import WEBHOOK_VARIABLE, describe_alerts, send_alerts
from pipelines.bronze.ingest_log import LogEntry, Run
from pipelines.bronze.land_account_api import month_range
from pipelines.config import PipelineConfig, load_config
from pipelines.errors import BillingLakehouseError, ConfigError, WarehouseBusy
from pipelines.gold.focus import billing_period
from pipelines.logs import register_secret_variable
from pipelines.report import build_report
from pipelines.runner import RunSummary, ingest, run_pipeline, transform
from pipelines.spark import build_spark
from pipelines.status import format_status
from pipelines.storage import open_reader, open_store
from pipelines.storage.exports import write_files
from pipelines.storage.lease import warehouse_lease
from pipelines.summary import cost_summary
from pipelines.tables import FOCUS_COST

WRITING_COMMANDS = ("run", "ingest", "transform", "alerts")  # each holds the warehouse's lease while it runs
EXIT_WAREHOUSE_BUSY = 4  # another run held the warehouse for longer than lease_wait_seconds
EXIT_NEW_ALERTS = 5  # alerts: new budget thresholds crossed or anomalies (printed, posted when a webhook is set)
EXIT_WEBHOOK_FAILED = 6  # alerts: the webhook failed after its retries; nothing was recorded as sent

READ_ONLY_COMMANDS = ("status", "summary", "report")  # answered from Arrow, without Spark where possible

log = logging.getLogger(__name__)


def describe_run(summary: RunSummary, verbose: bool = False) -> str:
    """What a run did, one line per source; each delivery landed only when `verbose` (rejections and failures always).

    A year of daily exports is hundreds of deliveries: listing each by default buries what needs attention.
    """
    lines = [
        f"run {summary.run_id}: {len(summary.landed)} deliveries landed, {len(summary.rejected)} rejected, "
        f"{summary.unchanged} unchanged"
    ]
    by_source: dict[str, tuple[list[LogEntry], list[LogEntry]]] = {}
    for entry in summary.landed:
        by_source.setdefault(entry.source, ([], []))[0].append(entry)
    for entry in summary.rejected:
        by_source.setdefault(entry.source, ([], []))[1].append(entry)
    for source in summary.unchanged_by_source:
        by_source.setdefault(source, ([], []))
    for source, (landed, rejected) in by_source.items():
        read = sum(e.rows_read for e in landed)
        rows = f"{read:,} rows read = {sum(e.rows_landed for e in landed):,} landed"
        rows += f" + {sum(e.rows_quarantined for e in landed):,} quarantined"
        unchanged = summary.unchanged_by_source.get(source, 0)
        counts = f"{len(landed):>5,} landed, {len(rejected):,} rejected, {unchanged:,} unchanged"
        lines.append(f"  {source:<14} {counts}: {rows}")
        if verbose:
            lines.extend(
                f"    landed   {e.delivery}: {e.rows_read:,} read = {e.rows_landed:,} landed"
                f" + {e.rows_quarantined:,} quarantined"
                for e in landed
            )
    for entry in summary.rejected:
        lines.append(f"  REJECTED {entry.path}: {entry.error}")
    for failure in summary.failed:
        lines.append(f"  FAILED   {failure}")
    written = ", ".join(f"{table} v{version}" for table, version in summary.written.items())
    lines.append(f"  tables written: {written or 'none (everything was up to date)'}")
    return "\n".join(lines)


def check_ingest_source(config: PipelineConfig, source: str | None, months: tuple[str | None, str | None]) -> None:
    """The API source named on the command line must be configured; a month range applies to the Account API."""
    configured = {"account-api": config.account_api, "dremio": config.dremio}
    if source is None:
        if months != (None, None):
            raise BillingLakehouseError("--start-month and --end-month apply to `ingest account-api` only")
        return
    if source not in configured:
        raise BillingLakehouseError(f"unknown source {source!r}: expected one of {', '.join(configured)}")
    if configured[source] is None:
        key = "sources." + source.replace("-", "_")
        raise ConfigError(config.source_file, key, f"a configured {source} source to ingest from", "not set")
    if months != (None, None) and source != "account-api":
        raise BillingLakehouseError("--start-month and --end-month apply to account-api only")


def _month_bounds(config: PipelineConfig, months: tuple[str | None, str | None]) -> tuple[str, str]:
    """The explicit month range, with the configured start and end (or this month) where one is left out."""
    assert config.account_api is not None
    start = months[0] or config.account_api.start_month
    end = months[1] or config.account_api.end_month or datetime.now(UTC).strftime("%Y-%m")
    if end < start:
        raise BillingLakehouseError(f"--end-month {end} is before the start month {start}")
    return start, end


def _exit_code(summary: RunSummary) -> int:
    """1 when a delivery was rejected or an API fetch failed (what did land is committed), else 0."""
    print(describe_run(summary, verbose=log.isEnabledFor(logging.INFO)))  # the CLI's -v
    if summary.rejected:
        print(f"{len(summary.rejected)} deliveries were rejected: see above and bronze.ingest_log", file=sys.stderr)
    if summary.failed:
        print(f"{len(summary.failed)} API fetches failed: see above and bronze.ingest_log", file=sys.stderr)
    return 1 if summary.rejected or summary.failed else 0


def _write(command: str, config: PipelineConfig, source: str | None, months: tuple[str | None, str | None]) -> int:
    """run, ingest or transform, while this process holds the warehouse's lease."""
    spark = build_spark(conf=config.spark_conf, s3=config.uses_s3)
    store = open_store(spark, config)
    if command == "run":
        return _exit_code(run_pipeline(spark, config, store))
    if command == "ingest":
        chosen = None if months == (None, None) else month_range(*_month_bounds(config, months))
        return _exit_code(ingest(spark, config, store, source, chosen))
    summary = RunSummary("transform")
    transform(spark, config, store, summary)
    return _exit_code(summary)


def _read_only(command: str, config: PipelineConfig, out: str | None) -> int:
    """status, summary or report: local delta-rs tables are read without a JVM (`open_reader`)."""
    store = open_reader(
        config, lambda: build_spark(conf=config.spark_conf, s3=config.uses_s3)
    )  # a session only where one is needed
    if command == "status":
        print(format_status(store))
    elif command == "summary":
        print(cost_summary(store, workspace_names=config.workspace_names))
    else:
        target = Path(out or "report.html")
        target.write_text(build_report(store, config.currency, config.workspace_names), encoding="utf-8")
        print(f"report written to {target.resolve()}")
    return 0


def send_new_alerts(config: PipelineConfig) -> int:
    """`alerts`: print the new alerts, post them to the webhook in $BILLING_LAKEHOUSE_ALERT_WEBHOOK, record them."""
    register_secret_variable(WEBHOOK_VARIABLE)  # its value is a credential: redacted wherever it would appear
    webhook = os.environ.get(WEBHOOK_VARIABLE, "").strip() or None
    store = open_store(build_spark(conf=config.spark_conf, s3=config.uses_s3), config)
    result = send_alerts(store, webhook, Run().run_id)
    print(describe_alerts(result))
    if result.webhook_error:
        return EXIT_WEBHOOK_FAILED
    return EXIT_NEW_ALERTS if result.new else 0


def export_focus(config: PipelineConfig, month: str, out: str, file_format: str) -> int:
    """Write one billing period of gold.focus_cost to `<out>/billing_period=<month>` and print its totals."""
    spark = build_spark(conf=config.spark_conf, s3=config.uses_s3)
    store = open_store(spark, config)
    if store.version(FOCUS_COST) is None:
        raise BillingLakehouseError(f"{FOCUS_COST} does not exist yet: run `billing-lakehouse run` first")
    period = billing_period(store.read(FOCUS_COST), month)
    folder = f"{out.rstrip('/')}/billing_period={month}"
    write_files(period, folder, file_format)
    totals = (
        period.groupBy("BillingCurrency")
        .agg(
            F.count(F.lit(1)).alias("rows"),
            F.sum("BilledCost").alias("billed"),
            F.sum(F.when(F.col("ChargeClass") == "Correction", F.col("BilledCost"))).alias("corrections"),
        )
        .orderBy("BillingCurrency")
        .collect()
    )
    print(f"FOCUS 1.2 billing period {month} written to {folder} ({file_format})")
    if not totals:
        print("  no charges in this billing period (the file holds the columns only)")
    for row in totals:
        corrections = f", of which corrections to invoiced periods {row.corrections:.2f}" if row.corrections else ""
        print(f"  {row.rows} rows, BilledCost {row.billed:.2f} {row.BillingCurrency}{corrections}")
    return 0


def run_command(
    command: str,
    config_path: str,
    source: str | None = None,
    months: tuple[str | None, str | None] = (None, None),
    overrides: Sequence[str] = (),
    out: str | None = None,
    export: tuple[str, str] | None = None,
) -> int:
    """Load and check the config before any write, then run one command. Returns the exit code.

    `export` is (billing month, file format) for `export focus`, written under `out`.
    """
    config = load_config(config_path, overrides)
    if command == "export":
        assert export is not None and out is not None
        return export_focus(config, export[0], out, export[1])
    if command == "ingest":
        check_ingest_source(config, source, months)
    if command in READ_ONLY_COMMANDS:
        return _read_only(command, config, out)
    if command in WRITING_COMMANDS:
        try:
            with warehouse_lease(config.warehouse, config.lease_wait_seconds, f"billing-lakehouse {command}"):
                if command == "alerts":  # writes gold.alert_log
                    return send_new_alerts(config)
                return _write(command, config, source, months)
        except WarehouseBusy as error:
            print(f"billing-lakehouse: {error}", file=sys.stderr)
            return EXIT_WAREHOUSE_BUSY
    raise ValueError(f"unknown command {command}")
