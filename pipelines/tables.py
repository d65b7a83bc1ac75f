"""Table contracts: every table's name, layer, schema and partitioning, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql.types import StructType

LINEAGE = "_source string, _source_file string, _source_sha256 string, _ingested_at timestamp"

LEGACY_CSV_COLUMNS = (
    "workspaceId",
    "timestamp",
    "clusterId",
    "clusterName",
    "clusterNodeType",
    "clusterOwnerUserId",
    "clusterCustomTags",
    "sku",
    "dbus",
    "machineHours",
    "clusterOwnerUserName",
    "tags",
)

USAGE_METADATA = (
    "struct<cluster_id:string, warehouse_id:string, instance_pool_id:string, node_type:string, job_id:string,"
    " job_run_id:string, job_name:string, notebook_id:string, notebook_path:string, dlt_pipeline_id:string,"
    " dlt_update_id:string, dlt_maintenance_id:string, endpoint_name:string, endpoint_id:string, run_name:string,"
    " app_id:string, app_name:string, budget_policy_id:string, source_region:string, destination_region:string,"
    " project_id:string, engine_id:string>"
)
IDENTITY_METADATA = (
    "struct<run_as:string, owned_by:string, created_by:string, cluster_owner_user_id:string,"
    " cluster_owner_user_name:string>"
)
PRODUCT_FEATURES = (
    "struct<is_serverless:boolean, is_photon:boolean, jobs_tier:string, sql_tier:string, dlt_tier:string,"
    " serving_type:string, performance_target:string>"
)

USAGE_COLUMNS = (
    "record_id string, source string, provider string, account_id string, workspace_id string,"
    " sku_name string, sku_name_delivered string, cloud string,"
    " usage_start_time timestamp, usage_end_time timestamp, usage_date date,"
    " usage_unit string, usage_quantity decimal(38,18),"
    " custom_tags map<string,string>, tags map<string,string>,"
    f" usage_metadata {USAGE_METADATA}, identity_metadata {IDENTITY_METADATA},"
    f" billing_origin_product string, product_features {PRODUCT_FEATURES}, usage_type string,"
    " machine_hours decimal(38,18), cluster_name string, node_type string,"
    " _source_file string, _ingested_at timestamp"
)

PRICE_COLUMNS = (
    "currency_code string, price_start_time timestamp, price_end_time timestamp,"
    " list_price decimal(38,18), effective_list_price decimal(38,18)"
)


@dataclass(frozen=True)
class TableSpec:
    """One table's contract. `ddl` is a Spark DDL column list."""

    layer: str
    name: str
    ddl: str
    partition_by: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.layer}.{self.name}"

    def schema(self) -> StructType:
        """The Spark schema (needs an active SparkSession to parse the DDL)."""
        parsed = StructType.fromDDL(self.ddl)
        assert isinstance(parsed, StructType)
        return parsed

    def __str__(self) -> str:
        return self.key


LEGACY_USAGE = TableSpec(
    "bronze",
    "legacy_usage",
    ", ".join(f"{column} string" for column in LEGACY_CSV_COLUMNS)
    + f", {LINEAGE}, workspace_id string, usage_month string",
    ("workspace_id", "usage_month"),
)
LIST_PRICES = TableSpec(
    "bronze",
    "list_prices",
    "price_start_time timestamp, price_end_time timestamp, account_id string, sku_name string, cloud string,"
    f" currency_code string, usage_unit string, pricing string, {LINEAGE}",
)
QUARANTINE = TableSpec(
    "bronze",
    "quarantine",
    "source string, delivery string, source_file string, raw_record string, reason string,"
    " _source_sha256 string, _ingested_at timestamp",
    ("source", "delivery"),
)
INGEST_LOG = TableSpec(
    "bronze",
    "ingest_log",
    "run_id string, source string, delivery string, path string, size bigint, modification_time timestamp,"
    " sha256 string, status string, rows_read bigint, rows_landed bigint, rows_quarantined bigint,"
    " error string, table_version bigint, ingested_at timestamp",
)

USAGE = TableSpec("silver", "usage", USAGE_COLUMNS, ("usage_date",))
PRICES = TableSpec(
    "silver",
    "prices",
    "sku_name string, cloud string, usage_unit string, currency_code string, price_start_time timestamp,"
    " price_end_time timestamp, list_price decimal(38,18), effective_list_price decimal(38,18),"
    " promotional_price decimal(38,18), source string, overlaps_other_window boolean",
)

COST = TableSpec(
    "gold",
    "cost",
    f"{USAGE_COLUMNS}, {PRICE_COLUMNS}, list_cost decimal(38,18), effective_cost decimal(38,18),"
    " is_priced boolean, unpriced_reason string",
    ("usage_date",),
)
COST_DAILY = TableSpec(
    "gold",
    "cost_daily",
    "usage_date date, source string, workspace_id string, cloud string, sku_name string, usage_unit string,"
    " currency_code string, usage_quantity decimal(38,18), priced_quantity decimal(38,18),"
    " list_cost decimal(38,18), effective_cost decimal(38,18), record_count bigint, unpriced_record_count bigint",
    ("usage_date",),
)
UNPRICED_USAGE = TableSpec(
    "gold",
    "unpriced_usage",
    "usage_date date, record_id string, source string, workspace_id string, cloud string, sku_name string,"
    " sku_name_delivered string, usage_unit string, usage_quantity decimal(38,18), usage_start_time timestamp,"
    " usage_end_time timestamp, unpriced_reason string",
    ("usage_date",),
)

ALL_TABLES = (LEGACY_USAGE, LIST_PRICES, QUARANTINE, INGEST_LOG, USAGE, PRICES, COST, COST_DAILY, UNPRICED_USAGE)
