"""FOCUS 1.2 conformance of a Cost and Usage dataset: `python -m pipelines.focus.conformance` (`make focus-check`).

Reads gold.focus_cost through the configured store (`--config`) or an exported Parquet/CSV file or folder
(`--data`), evaluates the FinOps Foundation's requirements model on it, prints the summary, and exits 0 when no
MUST / MUST NOT rule failed, 1 when one did, 2 when it could not evaluate.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from pipelines.errors import BillingLakehouseError
from pipelines.focus.evaluate import evaluate
from pipelines.focus.model import DEFAULT_MODEL, Model, load_model
from pipelines.focus.report import Report

__all__ = ["DATABRICKS_SUPPORTED", "Model", "Report", "evaluate", "load_model", "main"]

# What the provider of a Databricks billing dataset supports, in the model's ApplicabilityCriteria names.
DATABRICKS_SUPPORTED = frozenset(
    {
        "PUBLIC_PRICE_LIST_SUPPORTED",  # list prices per SKU are public (pricing pages, system.billing.list_prices)
        "NEGOTIATED_PRICING_SUPPORTED",  # accounts may have contracted prices below list (ContractedUnitPrice)
        "USAGE_MEASUREMENT_SUPPORTED",  # every record measures usage: DBUs and other units (ConsumedQuantity/Unit)
        "UNIT_PRICING_SUPPORTED",  # prices are per unit of a SKU (per DBU), so SkuId, SkuPriceId and SkuMeter exist
        "SUB_ACCOUNT_SUPPORTED",  # workspaces inside the account (SubAccountId/SubAccountName)
        "REGION_SUPPORTED",  # each workspace runs in one cloud region (RegionId/RegionName)
        "TAGGING_SUPPORTED",  # custom tags on compute, jobs and pipelines (Tags)
        # Billed per provisioned resource: clusters, SQL warehouses, jobs, pipelines and endpoints carry their ids
        # (usage_metadata), and each id has a type, so ResourceId, ResourceName and ResourceType apply.
        "BILLING_BASED_ON_PROVISIONED_RESOURCES_SUPPORTED",
        "RESOURCE_TYPE_ASSIGNMENT_SUPPORTED",
    }
)
# Left out, each for this dataset: AVAILABILITY_ZONE (usage is not reported per zone), CAPACITY_RESERVATION (none),
# COMMITMENT_DISCOUNT (committed-use contracts are not in this data), VIRTUAL_CURRENCY (prices are in national
# currency), PRICING_BILLING_CURRENCY_DIFFERENCES (priced and billed in the account's one currency),
# MULTIPLE_BILLING_ACCOUNT_TYPES (one kind: the Databricks account), MULTIPLE_SUB_ACCOUNT_TYPES (one kind: the
# workspace), MULTIPLE_PRICING_CATEGORIES (every row is priced at a list or contracted rate: one category),
# ACCOUNT_NAMING (the billing data carries the account id, no display name).


def read_export(spark: SparkSession, path: str, data_format: str) -> DataFrame:
    """An exported dataset: Parquet as written, CSV with a header and every column as text (the checks judge it)."""
    if data_format == "csv":
        return spark.read.option("header", True).option("inferSchema", False).csv(path)
    return spark.read.parquet(path)


def read_warehouse(config_path: str, overrides: Sequence[str] = ()) -> DataFrame:
    """gold.focus_cost through the store the config describes."""
    from pipelines.config import load_config
    from pipelines.spark import build_spark
    from pipelines.storage import open_store

    try:
        from pipelines.tables import FOCUS_COST
    except ImportError as error:
        raise BillingLakehouseError("this version of pipelines.tables has no FOCUS_COST (gold.focus_cost)") from error
    config = load_config(config_path, overrides)
    spark = build_spark(conf=config.spark_conf, s3=config.uses_s3)
    store = open_store(spark, config)
    if store.version(FOCUS_COST) is None:
        raise BillingLakehouseError(f"{store.location(FOCUS_COST)}: no gold.focus_cost table yet (run the pipeline)")
    return store.read(FOCUS_COST)


def parse_supported(text: str) -> frozenset[str]:
    return frozenset(name.strip() for name in text.split(",") if name.strip())


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, read the dataset, evaluate, print the summary; the exit code says whether it conforms."""
    parser = argparse.ArgumentParser(prog="python -m pipelines.focus.conformance", description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", help="pipeline config: evaluate its warehouse's gold.focus_cost")
    source.add_argument("--data", help="an exported FOCUS dataset (file or folder)")
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="format of --data")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="with --config: override a config value, as billing-lakehouse --set does (repeatable)",
    )
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help=f"the model JSON (default {DEFAULT_MODEL})")
    parser.add_argument(
        "--supported",
        type=parse_supported,
        default=DATABRICKS_SUPPORTED,
        help="comma-separated ApplicabilityCriteria the provider supports (default: Databricks')",
    )
    args = parser.parse_args(argv)
    try:
        model = load_model(args.model)
        if args.config:
            data = read_warehouse(args.config, args.overrides)
        else:
            from pipelines.spark import build_spark

            data = read_export(build_spark("focus-conformance"), args.data, args.format)
        report = evaluate(data, model, args.supported)
    except BillingLakehouseError as error:
        print(f"focus conformance: {error}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0 if report.conforms else 1


if __name__ == "__main__":
    sys.exit(main())
