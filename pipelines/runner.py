"""One pipeline run: land what is new in bronze, then refresh silver and gold incrementally."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pyspark.sql import SparkSession

from pipelines.bronze.ingest_log import LogEntry, Run
from pipelines.bronze.land_legacy import land_legacy_usage
from pipelines.bronze.land_prices import land_list_prices
from pipelines.bronze.land_system import land_system_usage
from pipelines.config import PipelineConfig
from pipelines.gold.refresh import refresh_aggregates, refresh_cost, refresh_reconciliation
from pipelines.silver.refresh import refresh_prices, refresh_usage
from pipelines.storage import TableStore, open_store

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    """What a run did: deliveries landed and rejected, and the tables it wrote (new versions)."""

    run_id: str
    landed: list[LogEntry] = field(default_factory=list)
    rejected: list[LogEntry] = field(default_factory=list)
    unchanged: int = 0
    written: dict[str, int] = field(default_factory=dict)

    def note(self, table: str, version: int | None) -> None:
        if version is not None:
            self.written[table] = version


def run_pipeline(spark: SparkSession, config: PipelineConfig, store: TableStore | None = None) -> RunSummary:
    """Bronze -> silver -> gold for whatever changed since the tables' last versions."""
    store = store or open_store(spark, config)
    run = Run()
    summary = RunSummary(run.run_id)
    if config.legacy_csv is not None:
        landing = land_legacy_usage(spark, store, config.legacy_csv.path, run)
        summary.landed, summary.rejected, summary.unchanged = landing.landed, landing.rejected, landing.unchanged
        summary.note("bronze.legacy_usage", landing.bronze_version)
    if config.system_usage is not None:
        landing = land_system_usage(spark, store, config.system_usage, run)
        summary.landed += landing.landed
        summary.rejected += landing.rejected
        summary.unchanged += landing.unchanged
        summary.note("bronze.system_usage", landing.bronze_version)
    if config.list_prices is not None:
        summary.note("bronze.list_prices", land_list_prices(spark, store, config.list_prices, run))
    summary.note("silver.prices", refresh_prices(store))
    summary.note("silver.usage", refresh_usage(spark, store, config))
    summary.note("gold.cost", refresh_cost(store, config))
    for table, version in refresh_aggregates(store, config).items():
        summary.note(table, version)
    summary.note("gold.source_reconciliation", refresh_reconciliation(store, config))
    log.info("run %s wrote %s", run.run_id, summary.written or "nothing (all tables up to date)")
    return summary
