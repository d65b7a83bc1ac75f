"""Refresh silver.late_corrections from bronze system usage: only the usage dates whose records changed."""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.config import PipelineConfig, fingerprint_of
from pipelines.incremental import date_partitions, refresh_by_date
from pipelines.silver.late_corrections import split_late_corrections
from pipelines.storage import TableStore
from pipelines.tables import LATE_CORRECTIONS, SYSTEM_USAGE

VERSION = "late-corrections-v1"


def refresh_late_corrections(store: TableStore, config: PipelineConfig) -> int | None:
    """Recompute the late corrections of the usage dates whose bronze system records changed.

    A correction lands in the bronze partition of the usage date it corrects, so that date is
    recomputed; moving the invoice close day rebuilds the table.
    """
    close_day = config.focus.invoice_close_day

    def build(dates: list[date] | None) -> DataFrame:
        bronze = store.read(SYSTEM_USAGE, None if dates is None else date_partitions(dates))
        return split_late_corrections(bronze, close_day).repartition(F.col("usage_date"))

    fingerprint = fingerprint_of({"invoice_close_day": close_day, "rule": VERSION})
    return refresh_by_date(store, LATE_CORRECTIONS, [SYSTEM_USAGE], fingerprint, build)
