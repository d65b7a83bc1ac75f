"""Aggregates over gold cost. Units and currencies are always grouping keys, never summed together.

Every aggregate reads `attribution(cost)`: the cost columns they use, with workload and identity
resolved and nested fields flattened (Spark then reads only the columns each aggregate groups by).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

DAILY_KEYS = ("usage_date", "source", "workspace_id", "cloud", "sku_name", "usage_unit", "currency_code")
ATTRIBUTION_KEYS = (*DAILY_KEYS, "billing_origin_product", "is_serverless")
# cost_daily also says which contracted price priced the usage (account price, a discount rule, list).
COST_DAILY_KEYS = (*DAILY_KEYS, "contracted_price_source")
WORKLOAD_COLUMNS = ("job_id", "job_name", "notebook_id", "notebook_path")
RESOURCE_COLUMNS = ("warehouse_id", "cluster_id", "endpoint_id", "endpoint_name", "dlt_pipeline_id")
UNPRICED_COLUMNS = (
    "usage_date",
    "record_id",
    "source",
    "workspace_id",
    "cloud",
    "sku_name",
    "sku_name_delivered",
    "usage_unit",
    "usage_quantity",
    "usage_start_time",
    "usage_end_time",
    "unpriced_reason",
)


def attribution(cost: DataFrame) -> DataFrame:
    """The gold cost columns the aggregates use, with workload and identity resolved and nested fields flat."""
    meta = F.col("usage_metadata")
    kind, workload_id, workload_name = _workload()
    identity, role = _identity()
    flat = {
        "is_serverless": F.col("product_features.is_serverless"),
        **{c: meta[c] for c in (*WORKLOAD_COLUMNS, *RESOURCE_COLUMNS)},
        "workload_type": kind,
        "workload_id": workload_id,
        "workload_name": workload_name,
        "identity": identity,
        "identity_role": role,
        **dict(_identity_roles()),
    }
    kept = dict.fromkeys([*DAILY_KEYS, *UNPRICED_COLUMNS, "billing_origin_product", "cluster_name"])
    measures = ("is_priced", "list_cost", "effective_cost", "contracted_cost", "contracted_price_source", "custom_tags")
    return cost.select(*kept, *measures, *[column.alias(name) for name, column in flat.items()])


def _workload() -> tuple[Column, Column, Column]:
    """(type, id, name) of the workload a record belongs to, most specific first."""
    meta = F.col("usage_metadata")
    kinds = [
        ("job", meta.job_id, meta.job_name),
        ("pipeline", meta.dlt_pipeline_id, F.lit(None).cast("string")),
        ("notebook", meta.notebook_id, meta.notebook_path),
        ("warehouse", meta.warehouse_id, F.lit(None).cast("string")),
        ("endpoint", F.coalesce(meta.endpoint_id, meta.endpoint_name), meta.endpoint_name),
        ("app", meta.app_id, meta.app_name),
        ("cluster", meta.cluster_id, F.col("cluster_name")),
    ]
    kind, ident, name = F.lit(None).cast("string"), F.lit(None).cast("string"), F.lit(None).cast("string")
    for label, id_column, name_column in reversed(kinds):
        present = id_column.isNotNull()
        kind = F.when(present, F.lit(label)).otherwise(kind)
        ident = F.when(present, id_column).otherwise(ident)
        name = F.when(present, name_column).otherwise(name)
    return kind, ident, name


def _identity_roles() -> list[tuple[str, Column]]:
    """(role, column) of each identity a record may carry, in the order `_identity` prefers them."""
    ident = F.col("identity_metadata")
    return [("run_as", ident.run_as), ("owned_by", ident.owned_by), ("cluster_owner", ident.cluster_owner_user_name)]


def _identity() -> tuple[Column, Column]:
    """(identity, role): who ran the usage, else who owns it, else who owns the cluster (legacy CSV)."""
    identity, role = F.lit(None).cast("string"), F.lit(None).cast("string")
    for label, column in reversed(_identity_roles()):
        identity = F.when(column.isNotNull(), column).otherwise(identity)
        role = F.when(column.isNotNull(), F.lit(label)).otherwise(role)
    return identity, role


def _measures() -> list[Column]:
    """Quantity and cost sums. Costs cover priced rows only; `priced_quantity` and `unpriced_record_count`
    say how much of the usage that is."""
    unpriced = (~F.col("is_priced")).cast("long")
    return [
        F.sum("usage_quantity").alias("usage_quantity"),
        F.sum(F.when(F.col("is_priced"), F.col("usage_quantity"))).alias("priced_quantity"),
        F.sum("list_cost").alias("list_cost"),
        F.sum("effective_cost").alias("effective_cost"),
        F.sum("contracted_cost").alias("contracted_cost"),
        F.count(F.lit(1)).alias("record_count"),
        F.sum(unpriced).alias("unpriced_record_count"),
    ]


def cost_daily(cost: DataFrame) -> DataFrame:
    """Quantity and cost per day, source, workspace, cloud, SKU, unit, currency and contracted price source."""
    return cost.groupBy(*COST_DAILY_KEYS).agg(*_measures())


def cost_by_tag(cost: DataFrame) -> DataFrame:
    """One row per custom tag key and value (per day, SKU, unit, job and notebook).

    A record with three tags counts under each of them: sum over one tag key, never across keys.
    Records without custom tags do not appear.
    """
    tagged = cost.select("*", F.explode("custom_tags").alias("tag_key", "tag_value"))
    return tagged.groupBy(*ATTRIBUTION_KEYS, "tag_key", "tag_value", *WORKLOAD_COLUMNS).agg(*_measures())


def cost_by_workload(cost: DataFrame) -> DataFrame:
    """Per day: job, pipeline, notebook, SQL warehouse, serving endpoint, app or cluster, with its ids and names."""
    keys = ("workload_type", "workload_id", "workload_name", *WORKLOAD_COLUMNS, *RESOURCE_COLUMNS, "cluster_name")
    return cost.groupBy(*ATTRIBUTION_KEYS, *keys).agg(*_measures())


def cost_by_identity(cost: DataFrame) -> DataFrame:
    """Per day: who ran (`run_as`), owns (`owned_by`, SQL warehouses) or owns the cluster (legacy CSV).

    `identity` is the first of those that is set and `identity_role` says which it is.
    """
    keys = ("identity", "identity_role", "run_as", "owned_by", "cluster_owner", *WORKLOAD_COLUMNS)
    return cost.groupBy(*ATTRIBUTION_KEYS, *keys).agg(*_measures())


def unpriced_usage(cost: DataFrame) -> DataFrame:
    """Every usage record without a price, with the reason."""
    return cost.where(~F.col("is_priced")).select(*UNPRICED_COLUMNS)
