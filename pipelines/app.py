"""Entry-point glue shared by the CLI and the spark-submit jobs: config -> session -> one action."""

from __future__ import annotations

import sys

from pipelines.config import load_config
from pipelines.runner import RunSummary, run_pipeline
from pipelines.spark import build_spark
from pipelines.status import format_status
from pipelines.storage import open_store
from pipelines.summary import cost_summary


def describe_run(summary: RunSummary) -> str:
    lines = [
        f"run {summary.run_id}: {len(summary.landed)} deliveries landed, {len(summary.rejected)} rejected, "
        f"{summary.unchanged} unchanged"
    ]
    for entry in summary.landed:
        lines.append(
            f"  landed   {entry.delivery}: {entry.rows_read:,} read = {entry.rows_landed:,} landed"
            f" + {entry.rows_quarantined:,} quarantined"
        )
    for entry in summary.rejected:
        lines.append(f"  REJECTED {entry.path}: {entry.error}")
    written = ", ".join(f"{table} v{version}" for table, version in summary.written.items())
    lines.append(f"  tables written: {written or 'none (everything was up to date)'}")
    return "\n".join(lines)


def run_command(command: str, config_path: str) -> int:
    """Load and check the config before any write, then run one command. Returns the exit code."""
    config = load_config(config_path)
    spark = build_spark(conf=config.spark_conf)
    store = open_store(spark, config)
    if command == "run":
        summary = run_pipeline(spark, config, store)
        print(describe_run(summary))
        if summary.rejected:
            print(f"{len(summary.rejected)} deliveries were rejected: see above and bronze.ingest_log", file=sys.stderr)
            return 1
        return 0
    if command == "status":
        print(format_status(store))
        return 0
    if command == "summary":
        print(cost_summary(store))
        return 0
    raise ValueError(f"unknown command {command}")
