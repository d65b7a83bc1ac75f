"""Pipeline benchmark: naive one-shot job vs full backfill, no-op rerun and one re-delivered month.

`floor` (see benchmarks.scenario) is the least work the table contracts imply, timed the same way:
how far the backfill is from it, and how far it is from the naive job, are both reported.
The re-delivered month is the worst case (every row new, so every date of the month changes); the
month-to-date re-delivery that follows it is the daily case (the same file with more rows on its last
day, so one usage date changes).

The pipeline scenarios run once per storage backend (delta-rs, and delta-spark where its jars are
fetched), each in its own warehouse, on the same deliveries: the report has one section per backend.

Usage: python -m benchmarks.bench [--rows 1000000] [--small-rows 250000] [--work ./bench-data]
       [--backends delta-rs,delta-spark]

Every figure runs in its own process (`benchmarks.scenario`, fresh JVM). Prints one JSON object on
stdout; progress goes to stderr. Generated data is reused when its `.generated-<rows>` marker exists.
"""

from __future__ import annotations

import argparse
import calendar
import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks.generate import WORKSPACES, append_day, file_rng, generate, write_month_file

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = REPO / "conf" / "pipeline.yml"
SKUS = REPO / "conf" / "skus.yml"
REDELIVERY_SEED = 8
REDELIVERY_GROWTH = 1.1
TARGETS = {
    "full_backfill_vs_naive": 3.0,
    "noop_vs_naive": 0.6,
    "redelivered_vs_full_backfill": 0.5,
    "python_driver_memory_growth": 1.25,
}
MEMORY_KEYS = ("python_peak_rss_mb", "jvm_peak_rss_mb", "jvm_vmhwm_mb")


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def prepare_data(data: Path, rows: int) -> Path:
    """Generate `rows` rows into `data` unless its marker says they are there; restore a re-delivered file."""
    marker = data / f".generated-{rows}"
    if marker.exists():
        progress(f"reusing {rows:,} generated rows in {data}")
    else:
        shutil.rmtree(data, ignore_errors=True)
        progress(f"generating {rows:,} rows into {data}")
        summary = generate(data, rows)
        marker.write_text(json.dumps(summary) + "\n")
    for original in sorted((data / "original").glob("*.csv")):  # undo a previous run's re-delivery
        shutil.copy2(original, data / "billable-usage" / "csv" / original.name)
    return data / "billable-usage" / "csv"


def write_config(
    path: Path, data: Path, warehouse: Path, usage: dict[str, Any] | None = None, storage: str = "auto"
) -> Path:
    """A pipeline.yml for one data set: the example's workspaces and currency, paths inside the work dir.

    `usage` names the usage sources (default: the legacy CSV folder); the list prices are always read.
    """
    example = yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    usage = usage or {"legacy_csv": {"path": str(data / "billable-usage" / "csv")}}
    config = {
        "version": 1,
        "warehouse": str(warehouse),
        "storage": storage,
        "currency": example.get("currency", "USD"),
        "account_id": example.get("account_id"),
        "skus": str(SKUS),
        "sources": {**usage, "list_prices": {"path": str(data / "list_prices"), "format": "csv"}},
        "workspaces": {str(key): value for key, value in example["workspaces"].items()},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def scenario(name: str, *args: str) -> dict[str, Any]:
    """Run one scenario process and return its JSON line (the last stdout line that is a JSON object)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.scenario", name, *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"scenario {name} {' '.join(args)} failed with exit code {done.returncode}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["process_wall_s"] = round(wall, 3)
    if not (result.get("jvm_peak_rss_mb") or 0) > 200:
        raise RuntimeError(f"children peak RSS {result.get('jvm_peak_rss_mb')} MB does not look like the Spark JVM")
    progress(f"{name} {' '.join(args)}: {result['work_s']} s work, {result['total_s']} s with session start")
    return result


def data_rows(path: Path) -> int:
    """Data rows (records after the header) in one delivery file."""
    with path.open(encoding="utf-8", newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def redeliver(data: Path, csv_dir: Path) -> dict[str, Any]:
    """Re-deliver the first workspace's last month with 10% more rows (new seed); keep the original."""
    workspace = WORKSPACES[0]
    path = max(csv_dir.glob(f"workspaceId={workspace.workspace_id}-usageMonth=*.csv"))
    month = path.stem.rsplit("usageMonth=", 1)[1]
    backup = data / "original" / path.name
    backup.parent.mkdir(parents=True, exist_ok=True)
    if not backup.exists():
        shutil.copy2(path, backup)
    before = data_rows(path)
    after = round(before * REDELIVERY_GROWTH)
    write_month_file(path, workspace, month, after, file_rng(REDELIVERY_SEED, workspace, month))
    return {"file": path.name, "rows_before": before, "rows_after": after}


def deliver_next_day(csv_dir: Path, file: str) -> dict[str, Any]:
    """Deliver a month file again with more usage on its last day (as many rows as an average day)."""
    path = csv_dir / file
    month = path.stem.rsplit("usageMonth=", 1)[1]
    days = calendar.monthrange(*(int(part) for part in month.split("-")))[1]
    before = data_rows(path)
    added = append_day(
        path, WORKSPACES[0], f"{month}-{days:02d}", before // days, file_rng(REDELIVERY_SEED + 1, WORKSPACES[0], month)
    )
    return {"file": path.name, "rows_before": before, "rows_added": added}


def setup(work: Path, rows: int, backend: str) -> tuple[Path, Path, Path, Path]:
    """Data folder, delivery folder, config and warehouse for one data set of `rows` rows and one backend."""
    data, warehouse = work / f"data-{rows}", work / f"warehouse-{rows}-{backend}"
    csv_dir = prepare_data(data, rows)
    config = write_config(work / f"pipeline-{rows}-{backend}.yml", data, warehouse, storage=backend)
    return data, csv_dir, config, warehouse


def full_backfill(config: Path, warehouse: Path) -> dict[str, Any]:
    """Time a full backfill into a fresh warehouse."""
    shutil.rmtree(warehouse, ignore_errors=True)
    return scenario("pipeline", "--config", str(config))


def memory(result: dict[str, Any], rows: int) -> dict[str, Any]:
    return {"rows": rows, **{key: result.get(key) for key in MEMORY_KEYS}}


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 3) if denominator else None


def run(rows: int, small_rows: int, work: Path, backends: list[str]) -> dict[str, Any]:
    """The naive job and the floor once, then every pipeline scenario per backend; the assembled report."""
    work = work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    csv_dir = prepare_data(work / f"data-{rows}", rows)
    naive = scenario("naive", "--csv", str(csv_dir))
    floor = scenario("floor", "--csv", str(csv_dir), "--out", str(work / f"floor-{rows}"))
    shutil.rmtree(work / f"floor-{rows}", ignore_errors=True)
    sections = {backend: run_backend(backend, rows, small_rows, work, naive) for backend in backends}
    return {
        "rows": rows,
        "small_rows": small_rows,
        "delivery_files": len(list(csv_dir.glob("*.csv"))),
        "spark_master": "local[2]",
        "work_dir": str(work),
        "naive_job_s": naive["work_s"],
        "naive_job_total_s": naive["total_s"],
        "floor_s": floor["work_s"],
        "floor_phases_s": floor["phases_s"],
        "floor_vs_naive": ratio(floor["work_s"], naive["work_s"]),
        "naive_memory_mb": memory(naive, rows),
        "floor_memory_mb": memory(floor, rows),
        "side_by_side": {
            key: {backend: section[key] for backend, section in sections.items()}
            for key in ("full_backfill_s", "noop_rerun_s", "redelivered_month_s", "month_to_date_redelivery_s")
        }
        | {
            f"{key}_ratio": {backend: section["ratios"][key] for backend, section in sections.items()}
            for key in TARGETS
        }
        | {
            "full_backfill_vs_floor": {
                backend: ratio(section["full_backfill_s"], floor["work_s"]) for backend, section in sections.items()
            }
        },
        "backends": sections,
        "targets": TARGETS,
        "all_pass": all(section["all_pass"] for section in sections.values()),
        "processes": {"naive_job": naive, "floor": floor},
    }


def run_backend(backend: str, rows: int, small_rows: int, work: Path, naive: dict[str, Any]) -> dict[str, Any]:
    """Full backfill, no-op re-run, re-delivered month, month-to-date case and the small backfill on one backend."""
    progress(f"backend {backend}")
    data, csv_dir, config, warehouse = setup(work, rows, backend)  # restores deliveries an earlier backend changed
    full = full_backfill(config, warehouse)
    noop = scenario("pipeline", "--config", str(config))
    redelivery = redeliver(data, csv_dir)
    redelivered = scenario("pipeline", "--config", str(config))
    next_day = deliver_next_day(csv_dir, redelivery["file"])
    month_to_date = scenario("pipeline", "--config", str(config))
    _, _, small_config, small_warehouse = setup(work, small_rows, backend)
    small = full_backfill(small_config, small_warehouse)
    shutil.rmtree(small_warehouse, ignore_errors=True)

    ratios = {
        "full_backfill_vs_naive": ratio(full["work_s"], naive["work_s"]),
        "noop_vs_naive": ratio(noop["work_s"], naive["work_s"]),
        "redelivered_vs_full_backfill": ratio(redelivered["work_s"], full["work_s"]),
        "python_driver_memory_growth": ratio(full["python_peak_rss_mb"], small["python_peak_rss_mb"]),
    }
    ratios_with_start = {
        "full_backfill_vs_naive": ratio(full["total_s"], naive["total_s"]),
        "noop_vs_naive": ratio(noop["total_s"], naive["total_s"]),
        "redelivered_vs_full_backfill": ratio(redelivered["total_s"], full["total_s"]),
        "jvm_memory_growth": ratio(full["jvm_peak_rss_mb"], small["jvm_peak_rss_mb"]),
    }
    passed = {key: value is not None and value <= TARGETS[key] for key, value in ratios.items()}
    passed["noop_wrote_nothing"] = noop["written"] == {}
    return {
        "storage": backend,
        "full_backfill_s": full["work_s"],
        "full_backfill_total_s": full["total_s"],
        "noop_rerun_s": noop["work_s"],
        "noop_rerun_total_s": noop["total_s"],
        "noop_written": noop["written"],
        "redelivered_month_s": redelivered["work_s"],
        "redelivered_month_total_s": redelivered["total_s"],
        "redelivered": {**redelivery, "written": redelivered["written"], "landed": redelivered["landed"]},
        "month_to_date_redelivery_s": month_to_date["work_s"],
        "month_to_date_redelivery_total_s": month_to_date["total_s"],
        "month_to_date_vs_full_backfill": ratio(month_to_date["work_s"], full["work_s"]),
        "month_to_date_redelivery": {**next_day, "written": month_to_date["written"]},
        "small_full_backfill_s": small["work_s"],
        "small_full_backfill_total_s": small["total_s"],
        "memory_mb": {
            "full_backfill": memory(full, rows),
            "noop_rerun": memory(noop, rows),
            "redelivered_month": memory(redelivered, rows),
            "month_to_date_redelivery": memory(month_to_date, rows),
            "small_full_backfill": memory(small, small_rows),
        },
        "ratios": ratios,
        "ratios_including_session_start": ratios_with_start,
        "pass": passed,
        "all_pass": all(passed.values()),
        "processes": {
            "full_backfill": full,
            "noop_rerun": noop,
            "redelivered_month": redelivered,
            "month_to_date_redelivery": month_to_date,
            "small_full_backfill": small,
        },
    }


def available_backends() -> list[str]:
    """delta-rs always; delta-spark where `make jars` fetched its jars."""
    from pipelines.spark import maven_jars

    return ["delta-rs"] + (["delta-spark"] if any(j.name.startswith("delta-spark") for j in maven_jars()) else [])


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: run the benchmark and print the JSON report (exit 1 if the no-op run wrote)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small-rows", type=int, default=250_000)
    parser.add_argument("--work", type=Path, default=Path("bench-data"))
    parser.add_argument("--backends", help="comma-separated storage backends (default: every available one)")
    args = parser.parse_args(argv)
    backends = args.backends.split(",") if args.backends else available_backends()
    report = run(args.rows, args.small_rows, args.work, backends)
    print(json.dumps(report, indent=2))
    wrote = {b: s["noop_written"] for b, s in report["backends"].items() if not s["pass"]["noop_wrote_nothing"]}
    if wrote:
        progress(f"the no-op rerun wrote tables: {wrote}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
