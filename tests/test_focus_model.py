"""The FOCUS 1.2 requirements model, evaluated on small FOCUS-shaped datasets (pipelines/focus)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from pipelines.focus import Model, Report, evaluate, load_model
from pipelines.focus.conformance import DATABRICKS_SUPPORTED
from pipelines.focus.model import DEFAULT_MODEL
from pipelines.focus.report import FAILED, NOT_APPLICABLE, PASSED

REPO = Path(__file__).resolve().parent.parent
MODEL_FILE = REPO / DEFAULT_MODEL

# Mandatory FOCUS 1.2 columns (MUST presence, no applicability criteria), then ChargeFrequency (RECOMMENDED), then
# the columns the DATABRICKS_SUPPORTED criteria make mandatory.
MANDATORY = (
    "BilledCost decimal(38,18), BillingAccountId string, BillingAccountName string, BillingCurrency string,"
    " BillingPeriodEnd timestamp, BillingPeriodStart timestamp, ChargeCategory string, ChargeClass string,"
    " ChargeDescription string, ChargePeriodEnd timestamp, ChargePeriodStart timestamp,"
    " ContractedCost decimal(38,18), EffectiveCost decimal(38,18), InvoiceIssuerName string,"
    " ListCost decimal(38,18), PricingQuantity decimal(38,18), PricingUnit string, ProviderName string,"
    " PublisherName string, ServiceCategory string, ServiceName string"
)
RECOMMENDED = "ChargeFrequency string"
CONDITIONAL = (
    "ConsumedQuantity decimal(38,18), ConsumedUnit string, ContractedUnitPrice decimal(38,18),"
    " ListUnitPrice decimal(38,18), RegionId string, RegionName string, ResourceId string, ResourceName string,"
    " ResourceType string, SkuId string, SkuMeter string, SkuPriceDetails string, SkuPriceId string,"
    " SubAccountId string, SubAccountName string, Tags string"
)
SCHEMA = f"{MANDATORY}, {RECOMMENDED}, {CONDITIONAL}"
START, END = datetime(2024, 3, 1), datetime(2024, 4, 1)
DAY_START, DAY_END = datetime(2024, 3, 5), datetime(2024, 3, 6)
NO_RESOURCE = {"ResourceId": None, "ResourceName": None, "ResourceType": None}


def usage_row(**changes: Any) -> dict[str, Any]:
    """One Databricks usage charge at a contracted price below list: 2 DBUs at 0.55 list, 0.44 contracted."""
    row: dict[str, Any] = {
        "BilledCost": Decimal("0.88"),
        "BillingAccountId": "acc-1",
        "BillingAccountName": "Example account",
        "BillingCurrency": "USD",
        "BillingPeriodEnd": END,
        "BillingPeriodStart": START,
        "ChargeCategory": "Usage",
        "ChargeClass": None,
        "ChargeDescription": "Jobs compute DBUs",
        "ChargePeriodEnd": DAY_END,
        "ChargePeriodStart": DAY_START,
        "ContractedCost": Decimal("0.88"),
        "EffectiveCost": Decimal("0.88"),
        "InvoiceIssuerName": "Databricks",
        "ListCost": Decimal("1.10"),
        "PricingQuantity": Decimal("2"),
        "PricingUnit": "DBU",
        "ProviderName": "Databricks",
        "PublisherName": "Databricks",
        "ServiceCategory": "Analytics",
        "ServiceName": "Jobs Compute",
        "ChargeFrequency": "Usage-Based",
        "ConsumedQuantity": Decimal("2"),
        "ConsumedUnit": "DBU",
        "ContractedUnitPrice": Decimal("0.44"),
        "ListUnitPrice": Decimal("0.55"),
        "RegionId": "us-east-1",
        "RegionName": "US East (N. Virginia)",
        "ResourceId": "0305-123456-abcdef",
        "ResourceName": "nightly-etl",
        "ResourceType": "Cluster",
        "SkuId": "PREMIUM_JOBS_COMPUTE",
        "SkuMeter": "Jobs Compute",
        "SkuPriceDetails": '{"x_Edition": "PREMIUM"}',
        "SkuPriceId": "PREMIUM_JOBS_COMPUTE:USD",
        "SubAccountId": "ws-1",
        "SubAccountName": "analytics-zürich",  # FOCUS strings are Unicode, not ASCII
        "Tags": '{"team": "data", "env": "prod"}',
    }
    row.update(changes)
    return row


def dataset(spark: SparkSession, rows: Sequence[dict[str, Any]], schema: str = SCHEMA) -> DataFrame:
    names = re.findall(r"(?:^|,)\s*(\w+)\s", schema)
    return spark.createDataFrame([tuple(row[name] for name in names) for row in rows], schema)


@pytest.fixture(scope="module")
def model() -> Model:
    assert MODEL_FILE.is_file(), f"{MODEL_FILE} is missing: run `make install` (it fetches the FOCUS model)"
    return load_model(MODEL_FILE)


@pytest.fixture(scope="module")
def conforming(spark: SparkSession, model: Model) -> Report:
    rows = [
        usage_row(),
        # Serverless SQL: no resource of the account's own; untagged.
        usage_row(ServiceName="SQL", SkuId="PREMIUM_SQL", SkuPriceId="PREMIUM_SQL:USD", Tags=None, **NO_RESOURCE),
        # A correction of an earlier charge: ChargeClass 'Correction', no unit prices needed, negative costs.
        usage_row(
            ChargeClass="Correction",
            BilledCost=Decimal("-0.44"),
            ContractedCost=Decimal("-0.44"),
            EffectiveCost=Decimal("-0.44"),
            ListCost=Decimal("-0.55"),
            PricingQuantity=Decimal("-1"),
            ConsumedQuantity=Decimal("-1"),
        ),
    ]
    return evaluate(dataset(spark, rows), model, DATABRICKS_SUPPORTED)


def failed_ids(report: Report) -> set[str]:
    return {outcome.rule_id for outcome in report.must_failures}


def test_model_has_every_rule_of_focus_1_2(model: Model) -> None:
    assert (model.version, model.focus_version, len(model.rules)) == ("1.2.0.1", "1.2", 621)
    assert "USD" in model.currency_codes


def test_conforming_dataset_fails_no_must_rule(conforming: Report) -> None:
    assert conforming.must_failures == [], conforming.summary()
    assert conforming.conforms


def test_conforming_dataset_counts_cover_every_rule_once(conforming: Report) -> None:
    assert conforming.evaluated + len(conforming.not_applicable) == 621
    assert conforming.evaluated == len(conforming.passed) + len(conforming.failed)
    assert conforming.outcomes["BilledCost-C-003-M"].status == PASSED
    assert conforming.outcomes["CostAndUsage-D-000-M"].status == PASSED


def test_absent_recommended_columns_are_warnings_and_their_rules_not_applicable(conforming: Report) -> None:
    assert {o.rule_id for o in conforming.warnings} >= {"CostAndUsage-D-033-O", "CostAndUsage-D-042-O"}
    invoice = conforming.outcomes["InvoiceId-C-001-M"]
    assert (invoice.status, invoice.reason) == (
        NOT_APPLICABLE,
        "optional column not present (RECOMMENDED in the model)",
    )


def test_unsupported_criterion_makes_its_column_rules_not_applicable(conforming: Report) -> None:
    for rule_id in ("CostAndUsage-D-003-C", "AvailabilityZone-C-001-M", "CommitmentDiscountId-C-000-C"):
        outcome = conforming.outcomes[rule_id]
        assert outcome.status == NOT_APPLICABLE
        assert outcome.reason.startswith("criterion not supported: ")
    assert "AVAILABILITY_ZONE_SUPPORTED" in conforming.outcomes["AvailabilityZone-C-001-M"].reason


def test_dynamic_rules_are_not_applicable(conforming: Report, model: Model) -> None:
    dynamic = [rule_id for rule_id, rule in model.rules.items() if rule.dynamic]
    assert len(dynamic) == 201
    assert all(conforming.outcomes[rule_id].status == NOT_APPLICABLE for rule_id in dynamic)
    assert "Dynamic rule" in conforming.summary()


def test_violations_fail_exactly_the_rules_that_forbid_them(spark: SparkSession, model: Model) -> None:
    rows = [
        usage_row(),
        usage_row(ChargeClass="Corection"),  # misspelt
        usage_row(BilledCost=None),
        usage_row(Tags='{"team": "data"'),  # not JSON
        usage_row(ListUnitPrice=Decimal("-0.55"), ListCost=Decimal("-1.10")),  # a negative list price
        usage_row(BillingCurrency="usd"),
        usage_row(ListCost=Decimal("1.11")),  # not ListUnitPrice * PricingQuantity (1.10)
        usage_row(ListCost=Decimal("1.1000000000001")),  # within the reference's relative tolerance of 1e-9
    ]
    report = evaluate(dataset(spark, rows), model, DATABRICKS_SUPPORTED)
    assert failed_ids(report) == {
        "ChargeClass-C-005-C",  # ChargeClass MUST be "Correction" when not null
        "BilledCost-C-003-M",  # BilledCost MUST NOT be null
        "Tags-C-001-M",  # KeyValueFormat
        "ListUnitPrice-C-008-M",  # non-negative
        "BillingCurrency-C-003-M",  # CurrencyFormat
        "BillingCurrency-C-006-M",  # national currency
        "ListCost-C-009-C",  # ListUnitPrice * PricingQuantity = ListCost
        "ListUnitPrice-C-010-C",  # the same product, required by ListUnitPrice too
        # and the composites above them
        "ChargeClass-C-000-M",
        "BilledCost-C-000-M",
        "Tags-C-000-C",
        "ListUnitPrice-C-000-C",
        "ListUnitPrice-C-007-C",
        "BillingCurrency-C-000-M",
        "ListCost-C-000-M",
        "CostAndUsage-D-002-M",
        "CostAndUsage-D-000-M",
    }, report.summary()
    billed = report.outcomes["BilledCost-C-003-M"]
    assert (billed.status, billed.violations, billed.samples) == (FAILED, 1, ("BilledCost=NULL",))
    assert "BilledCost MUST NOT be null." in report.summary()
    assert report.outcomes["ListCost-C-009-C"].violations == 1  # 1.1000000000001 is within the tolerance


def test_missing_mandatory_column_fails_its_presence_and_its_rules(spark: SparkSession, model: Model) -> None:
    schema = SCHEMA.replace("ChargeDescription string, ", "")
    report = evaluate(dataset(spark, [usage_row()], schema), model, DATABRICKS_SUPPORTED)
    assert failed_ids(report) == {
        "CostAndUsage-D-025-M",  # ChargeDescription MUST be present
        "ChargeDescription-C-001-M",  # MUST be of type String: the column is absent
        "ChargeDescription-C-002-M",
        "ChargeDescription-C-000-M",
        "CostAndUsage-D-001-M",
        "CostAndUsage-D-002-M",
        "CostAndUsage-D-000-M",
    }, report.summary()
    assert report.outcomes["ChargeDescription-C-001-M"].reason == "column ChargeDescription is absent"


def test_supporting_fewer_criteria_turns_their_rules_off(spark: SparkSession, model: Model) -> None:
    report = evaluate(dataset(spark, [usage_row()]), model, DATABRICKS_SUPPORTED - {"TAGGING_SUPPORTED"})
    tags = report.outcomes["Tags-C-001-M"]
    assert (tags.status, tags.reason) == (NOT_APPLICABLE, "criterion not supported: TAGGING_SUPPORTED")
    assert report.evaluated + len(report.not_applicable) == 621


def test_unknown_criterion_is_an_error(spark: SparkSession, model: Model) -> None:
    with pytest.raises(Exception, match="unknown applicability criteria"):
        evaluate(dataset(spark, [usage_row()]), model, frozenset({"TAGGING_SUPORTED"}))


def test_command_on_a_conforming_csv_export_exits_zero(spark: SparkSession, tmp_path: Path) -> None:
    export = tmp_path / "focus"
    frame = dataset(spark, [usage_row(), usage_row(Tags=None)])
    text = frame.selectExpr(
        *(
            f"date_format({name}, \"yyyy-MM-dd'T'HH:mm:ss'Z'\") AS {name}" if kind == "timestamp" else name
            for name, kind in frame.dtypes
        )
    )
    text.coalesce(1).write.option("header", True).csv(str(export))
    command = [sys.executable, "-m", "pipelines.focus.conformance", "--data", str(export), "--format", "csv"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Result: conforms: no MUST rule failed" in done.stdout
    assert "621 rules" in done.stdout
