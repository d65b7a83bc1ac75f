"""Table contracts: every table's name, layer, schema and partitioning, in one place."""

from __future__ import annotations

import functools
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

SYSTEM_USAGE_COLUMNS = (
    "record_id",
    "account_id",
    "workspace_id",
    "sku_name",
    "cloud",
    "usage_start_time",
    "usage_end_time",
    "usage_date",
    "custom_tags",
    "usage_unit",
    "usage_quantity",
    "usage_metadata",
    "identity_metadata",
    "record_type",
    "ingestion_date",
    "billing_origin_product",
    "product_features",
    "usage_type",
)
# Nested system-table columns are kept in bronze as JSON text: lossless, and new fields Databricks
# adds to these structs never break a load.
SYSTEM_JSON_COLUMNS = ("custom_tags", "usage_metadata", "identity_metadata", "product_features")

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


@functools.cache
def _parse_ddl(ddl: str) -> StructType:
    parsed = StructType.fromDDL(ddl)
    assert isinstance(parsed, StructType)
    return parsed


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
        """The Spark schema (needs an active SparkSession to parse the DDL the first time)."""
        return _parse_ddl(self.ddl)

    def __str__(self) -> str:
        return self.key


LEGACY_USAGE = TableSpec(
    "bronze",
    "legacy_usage",
    ", ".join(f"{column} string" for column in LEGACY_CSV_COLUMNS)
    + f", {LINEAGE}, workspace_id string, usage_month string",
    ("workspace_id", "usage_month"),
)
SYSTEM_USAGE = TableSpec(
    "bronze",
    "system_usage",
    "record_id string, account_id string, workspace_id string, sku_name string, cloud string,"
    " usage_start_time timestamp, usage_end_time timestamp, usage_date date, custom_tags string,"
    " usage_unit string, usage_quantity decimal(38,18), usage_metadata string, identity_metadata string,"
    " record_type string, ingestion_date date, billing_origin_product string, product_features string,"
    f" usage_type string, {LINEAGE}",
    ("usage_date",),
)
LIST_PRICES = TableSpec(
    "bronze",
    "list_prices",
    "price_start_time timestamp, price_end_time timestamp, account_id string, sku_name string, cloud string,"
    f" currency_code string, usage_unit string, pricing string, {LINEAGE}",
)
# The account's own (negotiated) prices: `system.billing.account_prices` or an export of it, as delivered.
ACCOUNT_PRICES = TableSpec(
    "bronze",
    "account_prices",
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
DREMIO_USAGE = TableSpec(
    "bronze",
    "dremio_usage",
    # The API's usage objects as sent (times and the DCU amount as their text), the window and grain asked for.
    # Partitioned by grain too: fetching one grain never replaces the rows of another.
    "id string, type string, start_time string, end_time string, usage string, window_start timestamp,"
    f" window_end timestamp, fetched_at timestamp, {LINEAGE}, group_by string, frequency string, usage_date date",
    ("group_by", "frequency", "usage_date"),
)
# One row per delivery landed or rejected, and per API request window fetched (window_*, pages).
INGEST_LOG = TableSpec(
    "bronze",
    "ingest_log",
    "run_id string, source string, delivery string, path string, size bigint, modification_time timestamp,"
    " sha256 string, status string, rows_read bigint, rows_landed bigint, rows_quarantined bigint,"
    " error string, table_version bigint, ingested_at timestamp, window_start timestamp, window_end timestamp,"
    " pages bigint",
)

USAGE = TableSpec("silver", "usage", USAGE_COLUMNS, ("usage_date",))
# The legacy CSV rows silver usage leaves out because the system tables cover their workspace-day,
# typed as silver usage rows: what gold.source_reconciliation sets against the system totals.
SUPERSEDED_LEGACY = TableSpec("silver", "superseded_legacy_usage", USAGE_COLUMNS, ("usage_date",))
# Corrections ingested after their month was invoiced, with the parts of the netted rows they correct
# (pipelines/silver/late_corrections.py): what the FOCUS view books apart from silver's netted usage.
LATE_CORRECTIONS = TableSpec(
    "silver",
    "late_corrections",
    f"{USAGE_COLUMNS}, record_type string, ingestion_date date, charge_class string, billing_period date,"
    " netted_record_id string",
    ("usage_date",),
)
PRICES = TableSpec(
    "silver",
    "prices",
    "sku_name string, cloud string, usage_unit string, currency_code string, price_start_time timestamp,"
    " price_end_time timestamp, list_price decimal(38,18), effective_list_price decimal(38,18),"
    " promotional_price decimal(38,18), source string, overlaps_other_window boolean",
)
# Account prices as validated windows: the same rules as `prices` (half-open, overlaps flagged and never used).
CONTRACTED_PRICES = TableSpec(
    "silver",
    "contracted_prices",
    "sku_name string, cloud string, usage_unit string, currency_code string, price_start_time timestamp,"
    " price_end_time timestamp, contracted_price decimal(38,18), source string, overlaps_other_window boolean",
)
# The configured `discounts:` rules, one row per rule: a percentage off list for the usage they match.
# NULL match columns match any value; the rules were checked not to overlap when the config was loaded.
DISCOUNT_RULES = TableSpec(
    "silver",
    "discount_rules",
    "rule_name string, percent_off decimal(38,18), sku_pattern string, billing_origin_product string,"
    " cloud string, workspace_ids array<string>, rule_start_time timestamp, rule_end_time timestamp",
)

COST = TableSpec(
    "gold",
    "cost",
    f"{USAGE_COLUMNS}, {PRICE_COLUMNS}, list_cost decimal(38,18), effective_cost decimal(38,18),"
    " contracted_unit_price decimal(38,18), contracted_cost decimal(38,18), contracted_price_source string,"
    " is_priced boolean, unpriced_reason string",
    ("usage_date",),
)
COST_DAILY = TableSpec(
    "gold",
    "cost_daily",
    "usage_date date, source string, workspace_id string, cloud string, sku_name string, usage_unit string,"
    " currency_code string, contracted_price_source string, usage_quantity decimal(38,18),"
    " priced_quantity decimal(38,18), list_cost decimal(38,18), effective_cost decimal(38,18),"
    " contracted_cost decimal(38,18), record_count bigint, unpriced_record_count bigint",
    ("usage_date",),
)
# What every attribution aggregate sums. Costs cover priced rows only; the counts say how much is unpriced.
MEASURES = (
    "usage_quantity decimal(38,18), priced_quantity decimal(38,18), list_cost decimal(38,18),"
    " effective_cost decimal(38,18), contracted_cost decimal(38,18), record_count bigint, unpriced_record_count bigint"
)
# The keys every attribution aggregate keeps, so the same filters work on each of them.
ATTRIBUTION_KEYS = (
    "usage_date date, source string, workspace_id string, cloud string, sku_name string, usage_unit string,"
    " currency_code string, billing_origin_product string, is_serverless boolean"
)
WORKLOAD = "job_id string, job_name string, notebook_id string, notebook_path string"

COST_BY_TAG = TableSpec(
    "gold",
    "cost_by_tag",
    f"{ATTRIBUTION_KEYS}, tag_key string, tag_value string, {WORKLOAD}, {MEASURES}",
    ("usage_date",),
)
COST_BY_WORKLOAD = TableSpec(
    "gold",
    "cost_by_workload",
    f"{ATTRIBUTION_KEYS}, workload_type string, workload_id string, workload_name string, {WORKLOAD},"
    " warehouse_id string, cluster_id string, cluster_name string, endpoint_id string, endpoint_name string,"
    f" dlt_pipeline_id string, {MEASURES}",
    ("usage_date",),
)
COST_BY_IDENTITY = TableSpec(
    "gold",
    "cost_by_identity",
    f"{ATTRIBUTION_KEYS}, identity string, identity_role string, run_as string, owned_by string,"
    f" cluster_owner string, {WORKLOAD}, {MEASURES}",
    ("usage_date",),
)
# The FOCUS 1.2 Cost and Usage columns a Databricks dataset has (pipelines/gold/focus.py), then its
# Databricks-specific columns, after the FOCUS ones (x_ prefixed, as FOCUS requires of custom columns).
FOCUS_COLUMNS = (
    "BilledCost decimal(38,18), BillingAccountId string, BillingAccountName string, BillingCurrency string,"
    " BillingPeriodEnd timestamp, BillingPeriodStart timestamp, ChargeCategory string, ChargeClass string,"
    " ChargeDescription string, ChargeFrequency string, ChargePeriodEnd timestamp, ChargePeriodStart timestamp,"
    " ConsumedQuantity decimal(38,18), ConsumedUnit string, ContractedCost decimal(38,18),"
    " ContractedUnitPrice decimal(38,18), EffectiveCost decimal(38,18), InvoiceIssuerName string,"
    " ListCost decimal(38,18), ListUnitPrice decimal(38,18), PricingCategory string,"
    " PricingQuantity decimal(38,18), PricingUnit string, ProviderName string, PublisherName string,"
    " RegionId string, RegionName string, ResourceId string, ResourceName string, ResourceType string,"
    " ServiceCategory string, ServiceName string, ServiceSubcategory string, SkuId string, SkuMeter string,"
    " SkuPriceDetails string, SkuPriceId string, SubAccountId string, SubAccountName string, Tags string"
)
FOCUS_CUSTOM_COLUMNS = (
    "x_RecordId string, x_Source string, x_RecordType string, x_IngestionDate date, x_SkuNameDelivered string,"
    " x_BillingOriginProduct string, x_UsageType string, x_ContractedPriceSource string,"
    " x_EffectiveListUnitPrice decimal(38,18), x_EffectiveListCost decimal(38,18), x_WorkspaceId string,"
    " x_ClusterId string, x_WarehouseId string, x_JobId string, x_JobRunId string, x_NotebookId string,"
    " x_EndpointName string, x_DltPipelineId string, x_RunAs string, x_UsageDate date"
)
# The FOCUS 1.2 Cost and Usage dataset (pipelines/gold/focus.py), partitioned by the usage date of its charge.
FOCUS_COST = TableSpec("gold", "focus_cost", f"{FOCUS_COLUMNS}, {FOCUS_CUSTOM_COLUMNS}", ("x_UsageDate",))
SOURCE_RECONCILIATION = TableSpec(
    "gold",
    "source_reconciliation",
    "usage_date date, workspace_id string, sku_name string, usage_unit string,"
    " legacy_quantity decimal(38,18), system_quantity decimal(38,18), difference decimal(38,18),"
    " legacy_record_count bigint, system_record_count bigint, source_used string",
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

# Budgets: the `budgets:` of the config and, where read, the account's own budgets (databricks-sdk
# AccountClient.budgets), one row per budget. A scope is the intersection of what is set: workspaces (empty = all),
# one tag key=value, one SKU glob. Thresholds are percents of `amount` (e.g. [50, 80, 100]).
ACCOUNT_BUDGETS = TableSpec(
    "bronze",
    "account_budgets",
    f"budget_configuration_id string, display_name string, configuration_json string, {LINEAGE}",
)
BUDGETS = TableSpec(
    "silver",
    "budgets",
    "budget_name string, budget_source string, amount decimal(38,18), currency_code string, cost_basis string,"
    " workspace_ids array<string>, tag_key string, tag_value string, sku_pattern string, thresholds array<int>",
)
# The daily netted cost of a scope and the month-end projection made from it: one row per scope, cost basis and day
# of the month the latest usage date falls in (earlier months keep the projection of their last day).
# scope_type: account, workspace, sku_group (billing_origin_product) or budget. Days after `as_of_date` hold
# the model's expected cost and its 80% interval; `cumulative_*` is actual to date, then projected.
COST_FORECAST = TableSpec(
    "gold",
    "cost_forecast",
    "month date, scope_type string, scope_id string, scope_name string, currency_code string, cost_basis string,"
    " usage_date date, actual_cost decimal(38,18), expected_cost decimal(38,18), expected_lower decimal(38,18),"
    " expected_upper decimal(38,18), cumulative_cost decimal(38,18), cumulative_lower decimal(38,18),"
    " cumulative_upper decimal(38,18), as_of_date date, month_end_forecast decimal(38,18),"
    " month_end_lower decimal(38,18), month_end_upper decimal(38,18), model string, history_days int",
    ("month",),
)
# Days whose netted cost for a scope departs from its expected value by more than the configured threshold.
# scope_type: account, workspace, sku_group or tag (scope_id `key=value`). `anomaly_id` is stable across runs
# (day, scope, basis, currency), so an alert is sent once. Contributors explain most of the change, largest first.
CONTRIBUTOR = (
    "struct<kind: string, id: string, name: string, actual_cost: decimal(38,18), expected_cost: decimal(38,18),"
    " change: decimal(38,18), share_of_change: decimal(38,6)>"
)
COST_ANOMALIES = TableSpec(
    "gold",
    "cost_anomalies",
    "anomaly_id string, usage_date date, scope_type string, scope_id string, scope_name string,"
    " currency_code string, cost_basis string, actual_cost decimal(38,18), expected_cost decimal(38,18),"
    " deviation decimal(38,18), deviation_percent decimal(38,6), direction string,"
    f" top_contributors array<{CONTRIBUTOR}>",
    ("usage_date",),
)
# Each budget in each month with usage: spend to date on its cost basis, the month-end forecast with its 80%
# interval, the day the projection first exceeds the amount, and the thresholds spend to date has crossed.
BUDGET_STATUS = TableSpec(
    "gold",
    "budget_status",
    "month date, budget_name string, budget_source string, currency_code string, cost_basis string,"
    " amount decimal(38,18), as_of_date date, spend_to_date decimal(38,18), percent_used decimal(38,6),"
    " forecast_month_end decimal(38,18), forecast_lower decimal(38,18), forecast_upper decimal(38,18),"
    " forecast_percent decimal(38,6), projected_breach_date date, thresholds array<int>,"
    " thresholds_crossed array<int>, status string",
    ("month",),
)
# What `billing-lakehouse alerts` has sent: one row per alert (a budget threshold crossed in a month, an anomaly),
# written only once it was delivered, so each alert goes out once. `delivered`: posted to the webhook (false:
# printed only, as no webhook was configured).
ALERT_LOG = TableSpec(
    "gold",
    "alert_log",
    "alert_id string, kind string, subject string, message string, first_sent_at timestamp, delivered boolean,"
    " run_id string",
)

ALL_TABLES = (
    LEGACY_USAGE,
    SYSTEM_USAGE,
    DREMIO_USAGE,
    LIST_PRICES,
    ACCOUNT_PRICES,
    QUARANTINE,
    INGEST_LOG,
    USAGE,
    SUPERSEDED_LEGACY,
    LATE_CORRECTIONS,
    PRICES,
    CONTRACTED_PRICES,
    DISCOUNT_RULES,
    COST,
    COST_DAILY,
    COST_BY_TAG,
    COST_BY_WORKLOAD,
    COST_BY_IDENTITY,
    SOURCE_RECONCILIATION,
    UNPRICED_USAGE,
    FOCUS_COST,
    ACCOUNT_BUDGETS,
    BUDGETS,
    COST_FORECAST,
    COST_ANOMALIES,
    BUDGET_STATUS,
    ALERT_LOG,
)
