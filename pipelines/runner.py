"""One pipeline run: land what is new in bronze, then refresh silver and gold incrementally."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pyspark.sql import SparkSession

from pipelines import source_names
from pipelines.bronze.ingest_log import LandingResult, LogEntry, Run
from pipelines.bronze.land_account_api import fetch_account_usage
from pipelines.bronze.land_account_budgets import land_account_budgets
from pipelines.bronze.land_dremio import land_dremio_usage
from pipelines.bronze.land_legacy import land_legacy_usage
from pipelines.bronze.land_prices import land_account_prices, land_list_prices
from pipelines.bronze.land_system import land_system_usage
from pipelines.config import PipelineConfig
from pipelines.errors import SourceApiError, SourceMissing
from pipelines.gold.focus_refresh import refresh_focus
from pipelines.gold.refresh import refresh_aggregates, refresh_cost, refresh_reconciliation
from pipelines.gold.refresh_anomalies import refresh_anomalies
from pipelines.gold.refresh_forecast import refresh_budget_status, refresh_forecast
from pipelines.silver.refresh import refresh_prices, refresh_superseded_legacy_usage, refresh_usage
from pipelines.silver.refresh_budgets import refresh_budgets
from pipelines.silver.refresh_contracted import refresh_contracted_prices, refresh_discount_rules
from pipelines.silver.refresh_late_corrections import refresh_late_corrections
from pipelines.sources.files import location_exists
from pipelines.storage import TableStore, open_store

log = logging.getLogger(__name__)

API_SOURCES = ("account-api", "dremio")


@dataclass
class RunSummary:
    """What a run did: deliveries landed and rejected, API fetches that failed, and the tables it wrote."""

    run_id: str
    landed: list[LogEntry] = field(default_factory=list)
    rejected: list[LogEntry] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    unchanged: int = 0
    unchanged_by_source: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)

    def note(self, table: str, version: int | None) -> None:
        if version is not None:
            self.written[table] = version

    def add(self, table: str, landing: LandingResult, source: str) -> None:
        self.landed += landing.landed
        self.rejected += landing.rejected
        self.unchanged += landing.unchanged
        self.unchanged_by_source[source] = self.unchanged_by_source.get(source, 0) + landing.unchanged
        self.note(table, landing.bronze_version)


def check_locations(spark: SparkSession, config: PipelineConfig, only: str | None = None) -> None:
    """Every delivery folder or export this ingest reads must exist, checked before anything is written."""
    if only is not None:
        return  # an API fetch creates its own landing folder
    sources = {
        "sources.legacy_csv.path": config.legacy_csv and config.legacy_csv.path,
        "sources.system_usage.path": config.system_usage and config.system_usage.path,
        "sources.list_prices.path": config.list_prices and config.list_prices.path,
        "sources.account_prices.path": config.account_prices and config.account_prices.path,
    }
    for key, location in sources.items():
        if location and not location_exists(spark, location):
            raise SourceMissing(f"{key}: source location does not exist: {location}; nothing was written")


def ingest(
    spark: SparkSession,
    config: PipelineConfig,
    store: TableStore,
    only: str | None = None,
    months: list[str] | None = None,
) -> RunSummary:
    """Land every configured source in bronze, or fetch one API (`account-api`, `dremio`); no silver or gold.

    An API that fails is reported in `summary.failed` and the other sources still land: what each
    API delivered before it failed is committed, and the next run picks up from there.
    """
    check_locations(spark, config, only)
    store.begin()
    run, record_limit = Run(), config.max_record_bytes
    summary = RunSummary(run.run_id)
    if only in (None, "account-api") and config.account_api is not None:
        assert config.account_id is not None  # checked when the config was loaded
        try:
            summary.add(
                "bronze.ingest_log",
                fetch_account_usage(spark, store, config.account_api, config.account_id, run, months),
                source_names.ACCOUNT_API,
            )
        except SourceApiError as error:
            summary.failed.append(f"account-api: {error}")
        summary.add(
            "bronze.legacy_usage",
            land_legacy_usage(spark, store, config.account_api.landing, run, record_limit),
            source_names.LEGACY_CSV,
        )
    if only is None and config.legacy_csv is not None:
        legacy = land_legacy_usage(spark, store, config.legacy_csv.path, run, record_limit)
        summary.add("bronze.legacy_usage", legacy, source_names.LEGACY_CSV)
    if only is None and config.system_usage is not None:
        system = land_system_usage(spark, store, config.system_usage, run, record_limit)
        summary.add("bronze.system_usage", system, source_names.SYSTEM_USAGE)
    if only is None and config.list_prices is not None:
        summary.note("bronze.list_prices", land_list_prices(spark, store, config.list_prices, run))
    if only is None and config.account_prices is not None:
        summary.note("bronze.account_prices", land_account_prices(spark, store, config.account_prices, run))
    if only in (None, "dremio") and config.dremio is not None:
        try:
            summary.add("bronze.dremio_usage", land_dremio_usage(spark, store, config.dremio, run), source_names.DREMIO)
        except SourceApiError as error:
            summary.failed.append(f"dremio: {error}")
    if only is None and config.account_budgets is not None:
        assert config.account_id is not None  # checked when the config was loaded
        try:
            budgets = land_account_budgets(store, config.account_budgets, config.account_id, run)
            summary.add("bronze.account_budgets", budgets, source_names.ACCOUNT_BUDGETS)
        except SourceApiError as error:
            summary.failed.append(f"account-budgets: {error}")
    return summary


def transform(spark: SparkSession, config: PipelineConfig, store: TableStore, summary: RunSummary) -> None:
    """Refresh silver and gold from whatever bronze holds now: only the usage dates that changed."""
    store.begin()
    summary.note("silver.prices", refresh_prices(store, config.rate_cards))
    summary.note("silver.contracted_prices", refresh_contracted_prices(store, config.account_prices is not None))
    summary.note("silver.discount_rules", refresh_discount_rules(store, config.discounts))
    summary.note("silver.usage", refresh_usage(spark, store, config))
    summary.note("silver.superseded_legacy_usage", refresh_superseded_legacy_usage(spark, store, config))
    summary.note("silver.late_corrections", refresh_late_corrections(store, config))
    summary.note("silver.budgets", refresh_budgets(store, config))
    summary.note("gold.cost", refresh_cost(store, config))
    for table, version in refresh_aggregates(store, config).items():
        summary.note(table, version)
    summary.note("gold.cost_forecast", refresh_forecast(store, config))
    summary.note("gold.budget_status", refresh_budget_status(store, config))
    summary.note("gold.cost_anomalies", refresh_anomalies(store, config))
    summary.note("gold.source_reconciliation", refresh_reconciliation(store, config))
    summary.note("gold.focus_cost", refresh_focus(store, config))


def run_pipeline(
    spark: SparkSession,
    config: PipelineConfig,
    store: TableStore | None = None,
) -> RunSummary:
    """Bronze -> silver -> gold for whatever changed since the tables' last versions."""
    store = store or open_store(spark, config)
    summary = ingest(spark, config, store)
    transform(spark, config, store, summary)
    log.info("run %s wrote %s", summary.run_id, summary.written or "nothing (all tables up to date)")
    return summary
