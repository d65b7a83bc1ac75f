"""Bronze `system_usage` records -> silver usage rows, with corrections netted.

Databricks corrects a record by adding a RETRACTION (the same record with the quantity negated)
and usually a RESTATEMENT (the corrected record). Summing the quantity over every attribute except
`record_id`, `record_type` and `ingestion_date`, and dropping groups that sum to zero, leaves the
usage as corrected: a retracted record vanishes, a restated one is what remains.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines import source_names
from pipelines.tables import (
    IDENTITY_METADATA,
    PRODUCT_FEATURES,
    SYSTEM_JSON_COLUMNS,
    SYSTEM_USAGE_COLUMNS,
    USAGE_METADATA,
)

SOURCE = source_names.USAGE_SYSTEM_TABLES
NOT_ATTRIBUTES = ("record_id", "record_type", "ingestion_date")
# What a record is about: everything but its identity, its correction bookkeeping and its quantity.
SCALAR_ATTRIBUTES = tuple(
    c for c in SYSTEM_USAGE_COLUMNS if c not in (*NOT_ATTRIBUTES, *SYSTEM_JSON_COLUMNS, "usage_quantity")
)


def canonical(json_text: Column) -> Column:
    """A JSON object's entries sorted by key, NULL values dropped; empty for NULL or unreadable text.

    Spark cannot group by a map, and the same object can arrive with its keys in any order: this
    form is equal exactly when the objects say the same thing.
    """
    entries = F.from_json(json_text, "map<string,string>")
    present = F.map_filter(entries, lambda _, value: value.isNotNull())
    return F.coalesce(F.array_sort(F.map_entries(present)), F.array().cast("array<struct<key:string,value:string>>"))


def net_corrections(bronze: DataFrame, carry: Sequence[str] = ()) -> DataFrame:
    """One row per distinct set of attributes with the summed quantity; groups summing to zero dropped.

    `record_id` of a group is the record's own id when it stands alone, otherwise a hash of the ids
    it nets (`netted_record_id`), so it is stable across reruns. The nested columns keep their JSON
    text (any copy: they are equal by construction); lineage is the newest record's. `carry` names
    extra columns that split groups further and are kept.
    """
    keys = {f"_key_{c}": canonical(F.col(c)) for c in SYSTEM_JSON_COLUMNS}
    # Clustering by date first makes the grouping reuse that shuffle (usage_date is one of its keys),
    # so each date's rows end up in one task and silver gets one file per date.
    netted = (
        bronze.repartition("usage_date")
        # A record bronze holds twice (two runs that both appended it) counts once: netting sums quantities.
        # A record_id has one usage_date, so this reuses the date clustering (no extra shuffle).
        .dropDuplicates(["usage_date", "record_id"])
        .withColumns(keys)
        .groupBy(*SCALAR_ATTRIBUTES, *keys, *carry)
        .agg(
            F.sum("usage_quantity").alias("usage_quantity"),
            netted_record_id(F.col("record_id")).alias("record_id"),
            *[F.first(c).alias(c) for c in SYSTEM_JSON_COLUMNS if c != "custom_tags"],
            F.max(F.struct("_ingested_at", "_source_file")).alias("_newest"),
        )
    )
    return netted.where(F.col("usage_quantity") != 0).withColumn("custom_tags", F.map_from_entries("_key_custom_tags"))


def netted_record_id(record_id: Column) -> Column:
    """An aggregate: the id of a group of records netted together (the record's own id when it is alone)."""
    ids = F.array_sort(F.collect_list(record_id))
    return F.when(F.size(ids) == 1, ids[0]).otherwise(F.sha2(F.array_join(ids, ","), 256))


def to_usage(bronze: DataFrame) -> DataFrame:
    """Net corrections, then shape the records as silver usage rows (source `system_tables`)."""
    return usage_rows(net_corrections(bronze))


def usage_rows(netted: DataFrame, *carry: str) -> DataFrame:
    """Netted records as silver usage rows (source `system_tables`), with the `carry` columns after them."""
    metadata = F.from_json("usage_metadata", USAGE_METADATA)
    return netted.select(
        F.col("record_id"),
        F.lit(SOURCE).alias("source"),
        F.lit("databricks").alias("provider"),
        "account_id",
        "workspace_id",
        "sku_name",
        F.col("sku_name").alias("sku_name_delivered"),
        "cloud",
        "usage_start_time",
        "usage_end_time",
        "usage_date",
        "usage_unit",
        "usage_quantity",
        F.col("custom_tags"),
        F.lit(None).cast("map<string,string>").alias("tags"),
        metadata.alias("usage_metadata"),
        F.from_json("identity_metadata", IDENTITY_METADATA).alias("identity_metadata"),
        "billing_origin_product",
        F.from_json("product_features", PRODUCT_FEATURES).alias("product_features"),
        "usage_type",
        F.lit(None).cast("decimal(38,18)").alias("machine_hours"),
        F.lit(None).cast("string").alias("cluster_name"),
        metadata["node_type"].alias("node_type"),
        F.col("_newest._source_file").alias("_source_file"),
        F.col("_newest._ingested_at").alias("_ingested_at"),
        *carry,
    )
