"""Which source is the truth for a workspace and day: system tables where they cover it, else legacy CSV."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def covered_days(system_bronze: DataFrame) -> DataFrame:
    """(workspace_id, usage_date) pairs for which the system usage table delivered any record."""
    return system_bronze.select("workspace_id", "usage_date").distinct()


def prefer_system_tables(legacy: DataFrame, system: DataFrame, covered: DataFrame) -> DataFrame:
    """System rows, plus the legacy rows of the workspace-days the system tables do not cover.

    Both sources report the same usage where they overlap; counting both would double it.
    `gold.source_reconciliation` shows the totals the two give side by side.
    """
    uncovered = legacy.join(F.broadcast(covered), ["workspace_id", "usage_date"], "left_anti")
    return uncovered.select(*legacy.columns).unionByName(system)
