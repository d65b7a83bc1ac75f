"""Corrections that arrived after their month was invoiced, kept apart for the FOCUS view of cost.

Silver usage nets every RETRACTION and RESTATEMENT into the record it corrects, whenever it arrived:
the usage as it really was. An invoice cannot change once issued, so FOCUS books a correction to an
already invoiced billing period as its own row (`ChargeClass = 'Correction'`) in the period in which
it was ingested, with the original charge period. A month counts as invoiced from a configured day of
the next month (`focus.invoice_close_day`); corrections ingested before that are netted as silver nets
them.

For every group of records silver nets together (same attributes) that holds at least one such late
correction, this table holds what replaces silver's single row in the FOCUS view:
- the part invoiced with the month: the records ingested before the close, netted (dropped when zero);
- each late correction on its own, booked to the month of its `ingestion_date`.
The parts add up to silver's row, whose id is kept in `netted_record_id` so gold can swap it out.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines.silver.system_usage import SCALAR_ATTRIBUTES, canonical, net_corrections, netted_record_id, usage_rows
from pipelines.tables import SYSTEM_JSON_COLUMNS

CORRECTION = "Correction"  # FOCUS ChargeClass of a correction to an invoiced period
CORRECTION_TYPES = ("RETRACTION", "RESTATEMENT")
EXTRA_COLUMNS = ("record_type", "ingestion_date", "charge_class", "billing_period", "netted_record_id")


def invoice_close_date(usage_date: Column, close_day: int) -> Column:
    """The first date on which the month of `usage_date` counts as invoiced: day `close_day` of the next month."""
    return F.date_add(F.add_months(F.trunc(usage_date, "month"), 1), close_day - 1)


def is_late_correction(close_day: int) -> Column:
    """A RETRACTION or RESTATEMENT ingested on or after the close of its usage month."""
    return F.col("record_type").isin(*CORRECTION_TYPES) & (
        F.col("ingestion_date") >= invoice_close_date(F.col("usage_date"), close_day)
    )


def _group_key() -> Column:
    """One value per group of records that silver nets together (the attributes netting groups by)."""
    keys = [canonical(F.col(c)).alias(c) for c in SYSTEM_JSON_COLUMNS]
    return F.sha2(F.to_json(F.struct(*SCALAR_ATTRIBUTES, *keys)), 256)


def split_late_corrections(bronze: DataFrame, close_day: int) -> DataFrame:
    """Silver usage rows plus EXTRA_COLUMNS for every netting group that holds a late correction."""
    records = bronze.dropDuplicates(["usage_date", "record_id"]).withColumns(
        {"_group": _group_key(), "_late": is_late_correction(close_day)}
    )
    late_groups = records.where("_late").select("_group").distinct()
    members = records.join(late_groups, "_group", "left_semi")
    group_ids = members.groupBy("_group").agg(netted_record_id(F.col("record_id")).alias("netted_record_id"))
    late = F.col("_late")
    parts = members.withColumns(
        {
            # Each late correction is a part of its own; the records invoiced with the month are one part.
            "_part": F.when(late, F.col("record_id")),
            "record_type": F.when(late, F.col("record_type")),
            "ingestion_date": F.when(late, F.col("ingestion_date")),
            "charge_class": F.when(late, F.lit(CORRECTION)),
            "billing_period": F.trunc(F.when(late, F.col("ingestion_date")).otherwise(F.col("usage_date")), "month"),
        }
    )
    carried = ("_group", "_part", "record_type", "ingestion_date", "charge_class", "billing_period")
    netted = net_corrections(parts.drop("_late"), carry=carried)
    rows = usage_rows(netted, *carried)
    return rows.join(F.broadcast(group_ids), "_group").drop("_group", "_part")
