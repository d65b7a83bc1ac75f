"""Refresh gold.focus_cost: only the usage dates whose cost, late corrections or prices changed."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlparse

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.config import PipelineConfig, fingerprint_of
from pipelines.gold.contracted import with_contracted_price
from pipelines.gold.cost import price_usage
from pipelines.gold.focus import PARTITION_COLUMN, FocusNames, to_focus, with_late_corrections
from pipelines.incremental import date_partitions, existing_usage_dates, refresh_by_date
from pipelines.storage import TableStore
from pipelines.tables import CONTRACTED_PRICES, COST, DISCOUNT_RULES, FOCUS_COST, LATE_CORRECTIONS, PRICES

VERSION = "focus-1.2-v1"


def focus_names(config: PipelineConfig) -> FocusNames:
    """The account, workspace and region names the FOCUS columns take from the configuration."""
    settings = config.focus
    dremio_host = urlparse(config.dremio.base_url).hostname if config.dremio is not None else None
    return FocusNames(
        account_id=config.account_id,
        account_name=settings.billing_account_name,
        invoice_issuer=settings.invoice_issuer,
        workspace_names=dict(config.workspace_names),
        workspace_regions={ws: workspace.region for ws, workspace in config.workspaces.items() if workspace.region},
        dremio_account_id=settings.dremio_billing_account_id or dremio_host or "dremio",
        dremio_account_name=settings.dremio_billing_account_name,
    )


def refresh_focus(store: TableStore, config: PipelineConfig) -> int | None:
    """Recompute the FOCUS rows of the usage dates whose gold cost or late corrections changed.

    Late corrections are priced exactly as gold cost prices usage (list, then contracted), so a
    corrected group's parts add up to the cost row they stand for.
    """
    names = focus_names(config)

    def build(dates: list[date] | None) -> DataFrame:
        partitions = None if dates is None else date_partitions(dates)
        cost = store.read(COST, partitions)
        corrections = price_usage(store.read(LATE_CORRECTIONS, partitions), store.read(PRICES), config.currency)
        corrections = with_contracted_price(corrections, store.read(CONTRACTED_PRICES), store.read(DISCOUNT_RULES))
        rows = with_late_corrections(cost, corrections)
        return to_focus(rows, names).repartition(F.col(PARTITION_COLUMN))

    fingerprint = fingerprint_of({"names": names, "currency": config.currency, "rule": VERSION})
    inputs = [COST, LATE_CORRECTIONS, PRICES, CONTRACTED_PRICES, DISCOUNT_RULES]
    existing = existing_usage_dates(store, FOCUS_COST, PARTITION_COLUMN)
    return refresh_by_date(store, FOCUS_COST, inputs, fingerprint, build, existing, date_column=PARTITION_COLUMN)
