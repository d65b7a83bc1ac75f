"""One benchmark scenario in its own process (own JVM): time it, stop Spark, print one JSON line.

Usage: python -m benchmarks.scenario naive --csv DIR
       python -m benchmarks.scenario pipeline --config PATH

`naive` is the one-shot job from the Databricks docs (read the CSV folder with header, inferSchema
and `escape '"'`, sum dbus per SKU, collect). `pipeline` is one `run_pipeline` call. Both build the
session the same way. Memory: `python_peak_rss_mb` is this (driver) process's peak RSS;
`jvm_peak_rss_mb` is the peak RSS of its waited-for children after the gateway JVM has exited,
which in local mode is the Spark JVM (cross-checked against the JVM's own VmHWM).
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pyspark import SparkContext
from pyspark.sql import SparkSession
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


def pipeline(config_path: str) -> tuple[SparkSession, dict[str, Any]]:
    """One `run_pipeline` call over the config's sources and warehouse."""
    from pipelines.config import load_config
    from pipelines.runner import run_pipeline

    started = time.perf_counter()
    config = load_config(config_path)
    spark = build_spark(APP_NAME, {**config.spark_conf, **SPARK_CONF})
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
    parser.add_argument("scenario", choices=("naive", "pipeline"))
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", help="pipeline.yml (pipeline scenario)")
    where.add_argument("--csv", help="folder of delivery CSV files (naive scenario)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    if args.scenario == "naive":
        if args.csv is None:
            parser.error("naive needs --csv")
        spark, result = naive(args.csv)
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
