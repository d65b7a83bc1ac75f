"""Per-workspace facts a legacy CSV row lacks (cloud, tier, region) and the deprecated-SKU mapping."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from pipelines.config import PipelineConfig

WORKSPACES_DDL = "workspace_id string, cloud string, tier string, region string"
SKU_MAP_DDL = "workspace_id string, sku_name_delivered string, sku_name string"


def workspaces_frame(spark: SparkSession, config: PipelineConfig) -> DataFrame:
    """One row per configured workspace."""
    rows = [(w.workspace_id, w.cloud, w.tier, w.region) for w in config.workspaces.values()]
    return spark.createDataFrame(rows, WORKSPACES_DDL)


def sku_map_frame(spark: SparkSession, config: PipelineConfig) -> DataFrame:
    """Deprecated name -> current name, per workspace (the replacement depends on tier and region)."""
    rows = [
        (workspace.workspace_id, deprecated, config.skus.current_name(deprecated, workspace))
        for workspace in config.workspaces.values()
        for deprecated in config.skus.deprecated
    ]
    return spark.createDataFrame(rows, SKU_MAP_DDL)
