"""One benchmark scenario in its own process (own JVM): time it, stop Spark, print one JSON line.

Usage: python -m benchmarks.scenario naive --csv DIR
       python -m benchmarks.scenario floor --csv DIR --out DIR
       python -m benchmarks.scenario pipeline --config PATH

`naive` is the one-shot job from the Databricks docs (read the CSV folder with header, inferSchema
and `escape '"'`, sum dbus per SKU, collect). `pipeline` is one `run_pipeline` call. `floor` is the
least work the table contracts imply, with none of the checks: the CSVs parsed once and written as
bronze Parquet, typed into silver's columns (record id, hour, exact decimals, tag maps, metadata
structs) and written again, priced and written a third time (plain Parquet, no Delta commits, no
validation, duplicate removal, SKU mapping, price join, aggregates or reconciliation). Both build the
session the same way. Memory: `python_peak_rss_mb` is this (driver) process's peak RSS;
`jvm_peak_rss_mb` is the peak RSS of its waited-for children after the gateway JVM has exited,
which in local mode is the Spark JVM (cross-checked against the JVM's own VmHWM).
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pyspark import SparkContext
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.spark import build_spark

SPARK_CONF = {"spark.master": "local[2]"}
APP_NAME = "billing-lakehouse-bench"


def _mb(kilobytes: float) -> float:
    return round(kilobytes / 1024, 1)


def _proc_status(pid: int) -> dict[str, str]:
    """Fields of /proc/<pid>/status (empty when the process or /proc is not there)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def _gateway_process() -> subprocess.Popen[bytes] | None:
    gateway = SparkContext._gateway
    return getattr(gateway, "proc", None) if gateway is not None else None


def stop_spark(spark: SparkSession) -> dict[str, Any]:
    """Stop Spark and make the gateway JVM exit, so its peak RSS shows up in RUSAGE_CHILDREN."""
    proc = _gateway_process()
    status = _proc_status(proc.pid) if proc is not None else {}
    started = time.perf_counter()
    spark.stop()
    gateway = SparkContext._gateway
    if gateway is not None:
        gateway.shutdown()
    exit_code = None
    if proc is not None:
        if proc.stdin is not None:
            proc.stdin.close()  # the gateway JVM exits when its stdin closes
        try:
            exit_code = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            exit_code = proc.wait()
    SparkContext._gateway = None
    SparkContext._jvm = None
    hwm = status.get("VmHWM", "").removesuffix(" kB").strip()
    return {
        "stop_s": round(time.perf_counter() - started, 3),
        "jvm_process": status.get("Name"),
        "jvm_exit_code": exit_code,
        "jvm_vmhwm_mb": _mb(int(hwm)) if hwm.isdigit() else None,
    }


def naive(csv_dir: str) -> tuple[SparkSession, dict[str, Any]]:
    """The Databricks-docs one-shot job over the delivery folder."""
    started = time.perf_counter()
    spark = build_spark(APP_NAME, SPARK_CONF)
    # Spark 4 defaults to ANSI mode, where sum() over the inferred string `dbus` column fails on the
    # malformed values ('12,5', 'abc'); the docs job was written for non-ANSI runtimes (bad values -> NULL).
    spark.conf.set("spark.sql.ansi.enabled", "false")
    ready = time.perf_counter()
    rows = (
        spark.read.option("header", "true")
        .option("inferSchema", "true")
        .option("escape", '"')
        .csv(csv_dir)
        .groupBy("sku")
        .agg(F.sum("dbus"))
        .collect()
    )
    done = time.perf_counter()
    return spark, {
        "session_start_s": round(ready - started, 3),
        "work_s": round(done - ready, 3),
        "total_s": round(done - started, 3),
        "skus": len(rows),
        "ansi": False,
    }


def floor(csv_dir: str, out: str) -> tuple[SparkSession, dict[str, Any]]:
    """The floor under a full backfill: three Parquet writes of every row, typed as the contracts say."""
    from pipelines.bronze.legacy_usage import partition_columns
    from pipelines.columns import (
        date_of_hour_ending,
        end_of_hour,
        json_map,
        multiply_money,
        parse_decimal,
        parse_timestamp,
        struct_of,
    )
    from pipelines.silver.legacy_usage import record_id
    from pipelines.sources.legacy_csv import read_legacy_csv
    from pipelines.tables import IDENTITY_METADATA, LEGACY_CSV_COLUMNS, USAGE_METADATA

    started = time.perf_counter()
    spark = build_spark(APP_NAME, SPARK_CONF)
    ready = time.perf_counter()
    shutil.rmtree(out, ignore_errors=True)
    phases: dict[str, float] = {}

    def write(name: str, data: DataFrame, *partition: str) -> DataFrame:
        begun = time.perf_counter()
        data.write.partitionBy(*partition).parquet(f"{out}/{name}")
        phases[name] = round(time.perf_counter() - begun, 3)
        return spark.read.parquet(f"{out}/{name}")

    paths = sorted(str(p) for p in Path(csv_dir).glob("*.csv"))
    bronze = read_legacy_csv(spark, paths).withColumns(partition_columns(F.col("_file_name")))
    bronze = write("bronze", bronze.drop("_file_name"), "workspace_id", "usage_month")
    end = end_of_hour(parse_timestamp(F.col("timestamp")))
    start = end - F.expr("INTERVAL 1 HOUR")
    silver = bronze.select(
        record_id([F.col(c) for c in LEGACY_CSV_COLUMNS]).alias("record_id"),
        F.col("workspaceId").alias("workspace_id"),
        F.col("sku").alias("sku_name"),
        start.alias("usage_start_time"),
        end.alias("usage_end_time"),
        date_of_hour_ending(end).alias("usage_date"),
        parse_decimal(F.col("dbus")).alias("usage_quantity"),
        json_map(F.col("clusterCustomTags")).alias("custom_tags"),
        json_map(F.col("tags")).alias("tags"),
        struct_of(USAGE_METADATA, {"cluster_id": F.col("clusterId")}).alias("usage_metadata"),
        struct_of(IDENTITY_METADATA, {"cluster_owner_user_id": F.col("clusterOwnerUserId")}).alias("identity_metadata"),
        parse_decimal(F.col("machineHours")).alias("machine_hours"),
        F.col("clusterName").alias("cluster_name"),
    )
    silver = write("silver", silver.repartition("usage_date"), "usage_date")
    price = F.lit("0.55").cast("decimal(38,18)")
    write("cost", silver.withColumn("list_cost", multiply_money(F.col("usage_quantity"), price)), "usage_date")
    done = time.perf_counter()
    return spark, {
        "session_start_s": round(ready - started, 3),
        "work_s": round(done - ready, 3),
        "total_s": round(done - started, 3),
        "phases_s": phases,
    }


def pipeline(config_path: str) -> tuple[SparkSession, dict[str, Any]]:
    """One `run_pipeline` call over the config's sources and warehouse."""
    from pipelines.config import load_config
    from pipelines.runner import run_pipeline

    started = time.perf_counter()
    config = load_config(config_path)
    spark = build_spark(APP_NAME, {**config.spark_conf, **SPARK_CONF}, s3=config.uses_s3)
    ready = time.perf_counter()
    summary = run_pipeline(spark, config)
    done = time.perf_counter()
    return spark, {
        "session_start_s": round(ready - started, 3),
        "work_s": round(done - ready, 3),
        "total_s": round(done - started, 3),
        "written": summary.written,
        "landed": [entry.delivery for entry in summary.landed],
        "rows_landed": sum(entry.rows_landed for entry in summary.landed),
        "rows_quarantined": sum(entry.rows_quarantined for entry in summary.landed),
        "rejected": [entry.delivery for entry in summary.rejected],
        "unchanged": summary.unchanged,
    }


def main(argv: list[str] | None = None) -> int:
    """Run one scenario and print its JSON line on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=("naive", "floor", "pipeline"))
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", help="pipeline.yml (pipeline scenario)")
    where.add_argument("--csv", help="folder of delivery CSV files (naive and floor scenarios)")
    parser.add_argument("--out", help="folder the floor scenario writes its Parquet tables to (emptied first)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    if args.scenario == "naive":
        if args.csv is None:
            parser.error("naive needs --csv")
        spark, result = naive(args.csv)
    elif args.scenario == "floor":
        if args.csv is None or args.out is None:
            parser.error("floor needs --csv and --out")
        spark, result = floor(args.csv, args.out)
    else:
        if args.config is None:
            parser.error("pipeline needs --config")
        spark, result = pipeline(args.config)
    result |= stop_spark(spark)
    result["python_peak_rss_mb"] = _mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    result["jvm_peak_rss_mb"] = _mb(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    result["scenario"] = args.scenario
    print(json.dumps(result, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
