"""Which source is the truth for a workspace and day: system tables where they cover it, else legacy CSV."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

WORKSPACE_DAY = ["workspace_id", "usage_date"]


def covered_days(system_bronze: DataFrame) -> DataFrame:
    """(workspace_id, usage_date) pairs for which the system usage table delivered any record."""
    return system_bronze.select(*WORKSPACE_DAY).distinct()


def prefer_system_tables(legacy: DataFrame, system: DataFrame, covered: DataFrame) -> DataFrame:
    """System rows, plus the legacy rows of the workspace-days the system tables do not cover.

    Both sources report the same usage where they overlap; counting both would double it. The
    legacy rows left out are kept apart (`superseded_legacy`), so `gold.source_reconciliation`
    can show the totals the two give side by side.
    """
    uncovered = legacy.join(F.broadcast(covered), WORKSPACE_DAY, "left_anti")
    return uncovered.select(*legacy.columns).unionByName(system)


def superseded_legacy(legacy: DataFrame, covered: DataFrame) -> DataFrame:
    """The legacy rows `prefer_system_tables` leaves out: those of the workspace-days the system tables cover."""
    return legacy.join(F.broadcast(covered), WORKSPACE_DAY, "left_semi").select(*legacy.columns)
