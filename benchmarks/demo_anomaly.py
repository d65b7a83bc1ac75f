"""One clear anomaly in the demo's system usage: a SQL warehouse that runs all day at full size on one day.

Usage: python -m benchmarks.demo_anomaly --out data [--day 2024-05-22] [--dbus 100]

Appends, to the export of the next ingestion day, 24 hourly records of one existing serverless SQL warehouse
(the first of workspace 1111111111111111 by record id in the exports `benchmarks.system_usage` wrote), each of
`--dbus` DBUs: about 1,700 USD more than that day's usual 700, so gold.cost_anomalies flags a spike on the
account, the workspace and SQL with the warehouse as first contributor. Run it after the generator; running it
twice appends twice.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, timedelta
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

DEMO_DAY = date(2024, 5, 22)  # a Wednesday with four earlier Wednesdays of system usage
WORKSPACE = "1111111111111111"


def inject_runaway_warehouse(spark: SparkSession, exports: Path, day: date, dbus: int) -> dict[str, object]:
    """Append 24 hourly records of `dbus` DBUs for one SQL warehouse on `day`; returns what was added."""
    usage = spark.read.parquet(str(exports))
    template = (
        usage.where(F.col("usage_metadata.warehouse_id").isNotNull())
        .where((F.col("workspace_id") == WORKSPACE) & (F.col("record_type") == "ORIGINAL"))
        .where(F.col("billing_origin_product") == "SQL")
        .orderBy("record_id")
        .limit(1)
    )
    start = F.to_timestamp(F.lit(f"{day.isoformat()} 00:00:00")) + F.make_interval(hours=F.col("hour"))
    hours = template.select("*", F.explode(F.sequence(F.lit(0), F.lit(23))).alias("hour"))
    records = hours.select(
        *[
            {
                "record_id": F.concat(F.lit(f"runaway-warehouse-{day.isoformat()}-"), F.col("hour").cast("string")),
                "usage_start_time": start,
                "usage_end_time": start + F.expr("INTERVAL 1 HOUR"),
                "usage_date": F.lit(day),
                "usage_quantity": F.lit(dbus).cast("decimal(38,18)"),
                "ingestion_date": F.lit(day + timedelta(days=1)),
                "export_date": F.lit(day + timedelta(days=1)),
            }.get(name, F.col(name)).alias(name)
            for name in usage.columns
        ]
    )
    records.write.mode("append").partitionBy("export_date").parquet(str(exports))
    warehouse = template.select("usage_metadata.warehouse_id").first()
    return {"day": day.isoformat(), "warehouse_id": warehouse[0] if warehouse else None, "dbus": 24 * dbus}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--day", type=date.fromisoformat, default=DEMO_DAY)
    parser.add_argument("--dbus", type=int, default=100)
    args = parser.parse_args(argv)
    from pipelines.spark import build_spark

    conf = {"spark.master": "local[2]", "spark.sql.session.timeZone": "UTC", "spark.ui.enabled": "false"}
    spark = build_spark("demo-anomaly", conf)
    print(json.dumps(inject_runaway_warehouse(spark, args.out / "system_usage", args.day, args.dbus)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
