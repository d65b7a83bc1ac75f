"""System-usage benchmark: full backfill, no-op re-run and one new day of records with late corrections.

Usage: python -m benchmarks.bench_system [--rows 10000000] [--small-rows 2500000] [--days 365] [--work ./bench-data]

Records are `system.billing.usage` exports written by `benchmarks.system_usage` (Parquet, one folder per
ingestion date, 1% corrections). Every figure runs in its own process (fresh JVM), like `benchmarks.bench`.
Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks.bench import REPO, progress, ratio, scenario, write_config
from benchmarks.generate import WORKSPACES, write_list_prices

START_DAY = date(2024, 3, 1)
TARGETS = {"new_day_vs_full_backfill": 0.10, "python_driver_memory_growth": 1.25}


def generate(data: Path, rows: int, days: int) -> dict[str, Any]:
    """Exports of `rows` records over `days` days plus the list prices, unless a marker says they are there."""
    marker = data / f".generated-{rows}-{days}"
    if marker.exists():
        progress(f"reusing {rows:,} generated system usage records in {data}")
        return dict(json.loads(marker.read_text()))
    shutil.rmtree(data, ignore_errors=True)
    progress(f"generating {rows:,} system usage records over {days} days into {data}")
    command = [sys.executable, "-m", "benchmarks.system_usage", "--out", str(data), "--rows", str(rows)]
    command += ["--start-day", START_DAY.isoformat(), "--days", str(days)]
    done = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE, text=True, check=True)
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    # The generator prices only the SKUs the legacy price file does not have; write that file too.
    write_list_prices(data / "list_prices" / "list_prices.csv", WORKSPACES[:4], "2024-01", 12)
    marker.write_text(json.dumps(summary) + "\n")
    return summary


def add_new_day(data: Path, rows: int, days: int, new_day_rows: int) -> dict[str, Any]:
    """Write one more ingestion day: new records plus 0.1% late corrections of older days."""
    day = START_DAY + timedelta(days=days)
    command = [sys.executable, "-m", "benchmarks.system_usage", "--out", str(data), "--rows", str(new_day_rows)]
    command += ["--start-day", START_DAY.isoformat(), "--days", str(days), "--new-day", day.isoformat()]
    command += ["--export-rows", str(rows)]
    done = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def remove_new_day(data: Path, days: int) -> None:
    """Undo a previous run's new day, so every run starts from the same exports."""
    day = START_DAY + timedelta(days=days)
    shutil.rmtree(data / "system_usage" / f"export_date={day.isoformat()}", ignore_errors=True)


def backfill(work: Path, rows: int, days: int) -> tuple[Path, Path, dict[str, Any], dict[str, Any]]:
    """Generate (or reuse) a data set and time a full backfill into a fresh warehouse."""
    data, warehouse = work / f"system-data-{rows}", work / f"system-warehouse-{rows}"
    generated = generate(data, rows, days)
    remove_new_day(data, days)
    usage = {"system_usage": {"path": str(data / "system_usage"), "format": "parquet"}}
    config = write_config(work / f"system-pipeline-{rows}.yml", data, warehouse, usage)
    shutil.rmtree(warehouse, ignore_errors=True)
    return data, config, generated, scenario("pipeline", "--config", str(config))


def run(rows: int, small_rows: int, days: int, work: Path) -> dict[str, Any]:
    """Full backfill, no-op and new day on `rows`; a full backfill on `small_rows` for memory."""
    work = work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    data, config, generated, full = backfill(work, rows, days)
    noop = scenario("pipeline", "--config", str(config))
    new_day = add_new_day(data, rows, days, max(1, rows // days))
    incremental = scenario("pipeline", "--config", str(config))
    _, _, _, small = backfill(work, small_rows, days)
    ratios = {
        "new_day_vs_full_backfill": ratio(incremental["work_s"], full["work_s"]),
        "python_driver_memory_growth": ratio(full["python_peak_rss_mb"], small["python_peak_rss_mb"]),
    }
    passed = {key: value is not None and value <= TARGETS[key] for key, value in ratios.items()}
    passed["noop_wrote_nothing"] = noop["written"] == {}
    return {
        "rows": rows,
        "days": days,
        "small_rows": small_rows,
        "generated": generated,
        "new_day": new_day,
        "spark_master": "local[2]",
        "full_backfill_s": full["work_s"],
        "full_backfill_total_s": full["total_s"],
        "noop_rerun_s": noop["work_s"],
        "noop_written": noop["written"],
        "new_day_s": incremental["work_s"],
        "new_day_total_s": incremental["total_s"],
        "new_day_written": incremental["written"],
        "small_full_backfill_s": small["work_s"],
        "memory_mb": {
            "full_backfill": {k: full.get(k) for k in ("python_peak_rss_mb", "jvm_peak_rss_mb")},
            "small_full_backfill": {k: small.get(k) for k in ("python_peak_rss_mb", "jvm_peak_rss_mb")},
        },
        "ratios": ratios,
        "targets": TARGETS,
        "pass": passed,
        "all_pass": all(passed.values()),
    }


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: run the benchmark and print the JSON report (exit 1 if the no-op run wrote)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--small-rows", type=int, default=2_500_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--work", type=Path, default=Path("bench-data"))
    args = parser.parse_args(argv)
    report = run(args.rows, args.small_rows, args.days, args.work)
    print(json.dumps(report, indent=2))
    return 0 if report["pass"]["noop_wrote_nothing"] else 1


if __name__ == "__main__":
    sys.exit(main())
