"""Legacy billable-usage CSV rows (bronze) -> the unified silver usage schema."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from pipelines import source_names
from pipelines.columns import date_of_hour_ending, end_of_hour, json_map, parse_decimal, parse_timestamp, struct_of
from pipelines.tables import IDENTITY_METADATA, LEGACY_CSV_COLUMNS, PRODUCT_FEATURES, USAGE_METADATA

SOURCE = source_names.USAGE_LEGACY_CSV


def _billing_origin_product(sku: Column) -> Column:
    return (
        F.when(sku.contains("SERVERLESS_REAL_TIME_INFERENCE"), "MODEL_SERVING")
        .when(sku.contains("SQL"), "SQL")
        .when(sku.contains("DLT"), "DLT")
        .when(sku.contains("JOBS"), "JOBS")
        .when(sku.contains("ALL_PURPOSE"), "ALL_PURPOSE")
        .otherwise(F.lit(None))
    )


def record_id(columns: list[Column]) -> Column:
    """A stable id for a delivered row: sha256 of its fields, so re-deliveries keep their ids."""
    return F.sha2(F.concat_ws("\u001f", *[F.coalesce(c, F.lit("\u0000")) for c in columns]), 256)


def drop_duplicate_records(keyed: DataFrame) -> DataFrame:
    """Keep one row per `record_id`. Identical rows share their date, so this sorts within each date
    (cheaper than a distinct over every column) and leaves the rows clustered by date for writing."""
    by_record = Window.partitionBy("_usage_date").orderBy("record_id")
    with_previous = keyed.withColumn("_previous_id", F.lag("record_id").over(by_record))
    repeated = F.coalesce(F.col("_previous_id") == F.col("record_id"), F.lit(False))
    return with_previous.where(~repeated).drop("_previous_id")


def to_usage(bronze: DataFrame, workspaces: DataFrame, sku_map: DataFrame, account_id: str | None) -> DataFrame:
    """Type, map and deduplicate bronze legacy rows into silver usage rows.

    - `usage_end_time` is the delivered end-of-hour timestamp rounded up to the hour, start one hour before;
    - `usage_quantity` is `dbus` as an exact decimal, unit DBU;
    - deprecated SKUs get their current name for the workspace's tier and region, the delivered one is kept;
    - cloud comes from the workspace settings (NULL when the workspace is not configured);
    - rows identical in every delivered field are one record.
    """
    delivered = [F.col(c) for c in LEGACY_CSV_COLUMNS]
    usage_end = end_of_hour(parse_timestamp(F.col("timestamp")))
    sku = F.trim(F.col("sku"))
    is_sql = sku.contains("SQL")
    cluster = F.col("clusterId")
    keyed = bronze.withColumn("_usage_end", usage_end).withColumns(
        {"record_id": record_id(delivered), "_usage_date": date_of_hour_ending(F.col("_usage_end"))}
    )
    typed = (
        drop_duplicate_records(keyed)
        .join(F.broadcast(workspaces.select("workspace_id", "cloud")), "workspace_id", "left")
        .join(
            F.broadcast(
                sku_map.select(
                    F.col("workspace_id").alias("_map_workspace_id"),
                    F.col("sku_name_delivered").alias("_map_delivered"),
                    F.col("sku_name").alias("_mapped_sku"),
                )
            ),
            (F.col("workspace_id") == F.col("_map_workspace_id")) & (sku == F.col("_map_delivered")),
            "left",
        )
    )
    return typed.select(
        F.col("record_id"),
        F.lit(SOURCE).alias("source"),
        F.lit("databricks").alias("provider"),
        F.lit(account_id).cast("string").alias("account_id"),
        F.col("workspace_id"),
        F.coalesce(F.col("_mapped_sku"), sku).alias("sku_name"),
        sku.alias("sku_name_delivered"),
        F.col("cloud"),
        (F.col("_usage_end") - F.expr("INTERVAL 1 HOUR")).alias("usage_start_time"),
        F.col("_usage_end").alias("usage_end_time"),
        F.col("_usage_date").alias("usage_date"),
        F.lit("DBU").alias("usage_unit"),
        parse_decimal(F.col("dbus")).alias("usage_quantity"),
        json_map(F.col("clusterCustomTags")).alias("custom_tags"),
        json_map(F.col("tags")).alias("tags"),
        struct_of(
            USAGE_METADATA,
            {
                "cluster_id": F.when(~is_sql, cluster),
                "warehouse_id": F.when(is_sql, cluster),
                "node_type": F.col("clusterNodeType"),
            },
        ).alias("usage_metadata"),
        struct_of(
            IDENTITY_METADATA,
            {
                "cluster_owner_user_id": F.col("clusterOwnerUserId"),
                "cluster_owner_user_name": F.col("clusterOwnerUserName"),
            },
        ).alias("identity_metadata"),
        _billing_origin_product(F.coalesce(F.col("_mapped_sku"), sku)).alias("billing_origin_product"),
        struct_of(
            PRODUCT_FEATURES,
            {"is_serverless": sku.contains("SERVERLESS"), "is_photon": sku.contains("(PHOTON)")},
        ).alias("product_features"),
        F.lit("COMPUTE_TIME").alias("usage_type"),
        parse_decimal(F.col("machineHours")).alias("machine_hours"),
        F.col("clusterName").alias("cluster_name"),
        F.col("clusterNodeType").alias("node_type"),
        F.col("_source_file"),
        F.col("_ingested_at"),
    )
