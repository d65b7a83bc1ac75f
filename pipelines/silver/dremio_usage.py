"""Bronze Dremio usage objects -> the unified silver usage schema (source `dremio`, unit DCU)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines import source_names
from pipelines.columns import parse_decimal, parse_timestamp, struct_of
from pipelines.config import DremioSource
from pipelines.tables import IDENTITY_METADATA, PRODUCT_FEATURES, USAGE_METADATA

SOURCE = source_names.USAGE_DREMIO
UNIT = "DCU"


def to_usage(bronze: DataFrame, source: DremioSource) -> DataFrame:
    """One silver row per landed usage object of the configured grain.

    Only the configured frequency and grouping are used, so hourly and daily (or project and engine)
    figures of the same usage are never added together. The project or engine id goes to
    `usage_metadata`; the record id is a hash of grain, id and start time, stable across re-fetches.
    """
    grain = bronze.where((F.col("frequency") == source.frequency) & (F.col("group_by") == source.group_by))
    start = parse_timestamp(F.col("start_time"))
    is_project = F.col("group_by") == "PROJECT"
    identity = F.concat_ws("\u001f", F.lit(SOURCE), "group_by", "frequency", "id", start.cast("string"))
    return grain.select(
        F.sha2(identity, 256).alias("record_id"),
        F.lit(SOURCE).alias("source"),
        F.lit("dremio").alias("provider"),
        F.lit(None).cast("string").alias("account_id"),
        F.lit(None).cast("string").alias("workspace_id"),
        F.lit(source.sku_name).alias("sku_name"),
        F.lit(source.sku_name).alias("sku_name_delivered"),
        F.lit(source.cloud).alias("cloud"),
        start.alias("usage_start_time"),
        parse_timestamp(F.col("end_time")).alias("usage_end_time"),
        F.col("usage_date"),
        F.lit(UNIT).alias("usage_unit"),
        parse_decimal(F.col("usage")).alias("usage_quantity"),
        F.lit(None).cast("map<string,string>").alias("custom_tags"),
        F.lit(None).cast("map<string,string>").alias("tags"),
        struct_of(
            USAGE_METADATA,
            {"project_id": F.when(is_project, F.col("id")), "engine_id": F.when(~is_project, F.col("id"))},
        ).alias("usage_metadata"),
        struct_of(IDENTITY_METADATA, {}).alias("identity_metadata"),
        F.lit("DREMIO").alias("billing_origin_product"),
        struct_of(PRODUCT_FEATURES, {}).alias("product_features"),
        F.lit("COMPUTE_TIME").alias("usage_type"),
        F.lit(None).cast("decimal(38,18)").alias("machine_hours"),
        F.lit(None).cast("string").alias("cluster_name"),
        F.lit(None).cast("string").alias("node_type"),
        F.col("_source_file"),
        F.col("_ingested_at"),
    )
