"""Gold cost -> the FOCUS 1.2 Cost and Usage dataset (`gold.focus_cost`).

One row per priced gold cost record, except that a group of records with a correction ingested after
its month was invoiced (silver.late_corrections) appears as its parts: the netted records invoiced with
the month, and each late correction as a `ChargeClass = 'Correction'` row in the billing period of its
ingestion, with the original charge period. Every mapping choice is written down in the README
("FOCUS export"); the column definitions follow the FOCUS 1.2 specification.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines import source_names
from pipelines.gold.focus_services import lookup, region_name, resource, service
from pipelines.tables import FOCUS_COST

USAGE_CHARGE = "Usage"
USAGE_BASED = "Usage-Based"
STANDARD_PRICING = "Standard"

PARTITION_COLUMN = FOCUS_COST.partition_by[0]


@dataclass(frozen=True)
class FocusNames:
    """What the export needs beyond the usage rows: account names, workspace names and regions."""

    account_id: str | None
    account_name: str | None
    invoice_issuer: str
    workspace_names: Mapping[str, str]
    workspace_regions: Mapping[str, str]
    dremio_account_id: str
    dremio_account_name: str | None


def with_late_corrections(cost: DataFrame, corrections: DataFrame) -> DataFrame:
    """Gold cost rows, each late-corrected group replaced by its parts; adds the booking columns.

    `corrections` are silver.late_corrections rows priced like gold cost. A cost row whose record_id
    is a corrected group's `netted_record_id` is left out: its parts stand for it and add up to it.
    """
    replaced = corrections.select(F.col("netted_record_id").alias("record_id")).distinct()
    kept = cost.join(F.broadcast(replaced), "record_id", "left_anti").withColumns(
        {
            "record_type": F.lit(None).cast("string"),
            "ingestion_date": F.lit(None).cast("date"),
            "charge_class": F.lit(None).cast("string"),
            "billing_period": F.trunc(F.col("usage_date"), "month"),
        }
    )
    return kept.unionByName(corrections.drop("netted_record_id").select(*kept.columns))


def billing_period(focus: DataFrame, month: str) -> DataFrame:
    """The FOCUS rows of one billing period (`YYYY-MM`): its usage as invoiced plus the corrections booked to it."""
    return focus.where(F.col("BillingPeriodStart") == F.lit(f"{month}-01 00:00:00").cast("timestamp"))


def to_focus(rows: DataFrame, names: FocusNames) -> DataFrame:
    """FOCUS columns for every priced row of `with_late_corrections`' output (unpriced usage has no cost to show)."""
    priced = rows.where("is_priced")
    is_dremio = F.col("source") == source_names.USAGE_DREMIO
    metadata = F.col("usage_metadata")
    workspace = F.col("workspace_id")
    account_id = F.when(is_dremio, F.lit(names.dremio_account_id)).otherwise(
        F.coalesce(F.col("account_id"), F.lit(names.account_id))
    )
    account_name = F.when(is_dremio, F.lit(names.dremio_account_name or names.dremio_account_id)).otherwise(
        F.lit(names.account_name) if names.account_name else account_id
    )
    sub_account_id = F.when(is_dremio, F.coalesce(metadata["project_id"], metadata["engine_id"])).otherwise(workspace)
    sub_account_name = F.when(is_dremio, sub_account_id).otherwise(
        F.coalesce(lookup(names.workspace_names, workspace), workspace)
    )
    region = F.when(~is_dremio, lookup(names.workspace_regions, workspace))
    service_category, service_subcategory, service_name = service(F.col("billing_origin_product"), is_dremio)
    resource_id, resource_name, resource_type = resource(metadata, F.col("cluster_name"), workspace, is_dremio)
    provider = F.when(is_dremio, F.lit("Dremio")).otherwise(F.lit("Databricks"))
    period_start = F.col("billing_period").cast("timestamp")
    sku_price_id = F.concat_ws(
        "|",
        "sku_name",
        "cloud",
        "usage_unit",
        "currency_code",
        F.date_format("price_start_time", "yyyy-MM-dd'T'HH:mm:ss'Z'"),
    )
    tags = F.when(F.size(F.col("custom_tags")) > 0, F.to_json("custom_tags"))
    focus = {
        "BilledCost": F.col("contracted_cost"),
        "BillingAccountId": account_id,
        "BillingAccountName": account_name,
        "BillingCurrency": F.col("currency_code"),
        "BillingPeriodEnd": F.add_months(F.col("billing_period"), 1).cast("timestamp"),
        "BillingPeriodStart": period_start,
        "ChargeCategory": F.lit(USAGE_CHARGE),
        "ChargeClass": F.col("charge_class"),
        "ChargeDescription": F.concat(
            service_name, F.lit(": "), F.col("sku_name"), F.lit(" ("), "usage_unit", F.lit(")")
        ),
        "ChargeFrequency": F.lit(USAGE_BASED),
        "ChargePeriodEnd": F.col("usage_end_time"),
        "ChargePeriodStart": F.col("usage_start_time"),
        "ConsumedQuantity": F.col("usage_quantity"),
        "ConsumedUnit": F.col("usage_unit"),
        "ContractedCost": F.col("contracted_cost"),
        "ContractedUnitPrice": F.col("contracted_unit_price"),
        "EffectiveCost": F.col("contracted_cost"),
        "InvoiceIssuerName": F.when(is_dremio, F.lit("Dremio")).otherwise(F.lit(names.invoice_issuer)),
        "ListCost": F.col("list_cost"),
        "ListUnitPrice": F.col("list_price"),
        "PricingCategory": F.lit(STANDARD_PRICING),
        "PricingQuantity": F.col("usage_quantity"),
        "PricingUnit": F.col("usage_unit"),
        "ProviderName": provider,
        "PublisherName": provider,
        "RegionId": region,
        "RegionName": region_name(region),
        "ResourceId": resource_id,
        "ResourceName": resource_name,
        "ResourceType": resource_type,
        "ServiceCategory": service_category,
        "ServiceName": service_name,
        "ServiceSubcategory": service_subcategory,
        "SkuId": F.col("sku_name"),
        "SkuMeter": F.col("usage_unit"),
        "SkuPriceDetails": F.lit(None).cast("string"),
        "SkuPriceId": sku_price_id,
        "SubAccountId": sub_account_id,
        "SubAccountName": sub_account_name,
        "Tags": tags,
        "x_RecordId": F.col("record_id"),
        "x_Source": F.col("source"),
        "x_RecordType": F.col("record_type"),
        "x_IngestionDate": F.col("ingestion_date"),
        "x_SkuNameDelivered": F.col("sku_name_delivered"),
        "x_BillingOriginProduct": F.col("billing_origin_product"),
        "x_UsageType": F.col("usage_type"),
        "x_ContractedPriceSource": F.col("contracted_price_source"),
        "x_EffectiveListUnitPrice": F.col("effective_list_price"),
        "x_EffectiveListCost": F.col("effective_cost"),
        "x_WorkspaceId": workspace,
        "x_ClusterId": metadata["cluster_id"],
        "x_WarehouseId": metadata["warehouse_id"],
        "x_JobId": metadata["job_id"],
        "x_JobRunId": metadata["job_run_id"],
        "x_NotebookId": metadata["notebook_id"],
        "x_EndpointName": metadata["endpoint_name"],
        "x_DltPipelineId": metadata["dlt_pipeline_id"],
        "x_RunAs": F.col("identity_metadata")["run_as"],
        "x_UsageDate": F.col("usage_date"),
    }
    return priced.select(*[column.alias(name) for name, column in focus.items()])
