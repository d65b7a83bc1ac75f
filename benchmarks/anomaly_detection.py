"""Anomaly detection benchmark: injected anomalies and corrections in generated system usage, through the pipeline.

Ninety days of `system.billing.usage` records (three workspaces, each with four tagged jobs, a SQL warehouse and
an untagged notebook; weekday/weekend pattern; 12% log-normal noise) at 1 USD per unit, with three anomalies of
each kind injected on their own days: a job's spike (x4), a new expensive job, a runaway warehouse (x5), a job
that lost its tag. Four records are delivered wrong and corrected later (RETRACTION + RESTATEMENT): two dated
a day early, two with the wrong tag. The first run sees the wrong deliveries, the second the corrections.

An alarm (a row of gold.cost_anomalies) is a true positive when an injection happened that day in its scope
(the account, the resource's workspace, SKU group or one of its tags; a lost tag only in that tag's scope).
Prints one JSON object: precision, recall per kind, how often the first contributor named is the injected
resource, and the alarms on corrected days before and after the corrections arrived.

Usage: python -m benchmarks.anomaly_detection [--work ./bench-data/anomalies] [--seed 19]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pyspark.sql import SparkSession

from benchmarks.system_usage import SYSTEM_USAGE_DDL
from pipelines.config import load_config
from pipelines.runner import run_pipeline
from pipelines.spark import build_spark
from pipelines.storage import open_store
from pipelines.tables import COST_ANOMALIES

REPO = Path(__file__).resolve().parent.parent
START, DAYS = date(2024, 1, 1), 90  # a Monday
WORKSPACES = ("3000000000000001", "3000000000000002", "3000000000000003")
REGION = "US_EAST_N_VIRGINIA"
SKUS = {
    "JOBS": f"PREMIUM_JOBS_SERVERLESS_COMPUTE_{REGION}",
    "SQL": f"PREMIUM_SERVERLESS_SQL_COMPUTE_{REGION}",
    "INTERACTIVE": f"PREMIUM_INTERACTIVE_SERVERLESS_COMPUTE_{REGION}",
}
NOISE = 0.12
INJECTED_FROM, INJECTED_EVERY = 42, 4  # day offsets of the injections: 42, 46, ..., 86
KINDS = ("spike", "new_job", "runaway_warehouse", "tag_lost")
CORRECTED = (("moved_day", 44), ("moved_tag", 52), ("moved_day", 60), ("moved_tag", 68))  # (what, day offset)
CORRECTIONS_INGESTED = START + timedelta(days=DAYS + 2)
CORRECTED_JOB = "102"  # workspace 1's team=bi job, 400 a weekday
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Resource:
    """A job, warehouse or notebook: its daily cost on weekdays and weekends, and what its records carry."""

    workspace: str
    kind: str  # job, warehouse, notebook
    id: str
    name: str
    product: str
    weekday: float
    weekend: float
    tags: dict[str, str] = field(default_factory=dict)
    identity: str = "svc-etl@example.com"


@dataclass(frozen=True)
class Injection:
    kind: str
    day: date
    resource: Resource
    tags: dict[str, str]  # the tag scopes it shows in


def resources() -> list[Resource]:
    out = []
    for w, ws in enumerate(WORKSPACES, 1):
        for k, (cost, team) in enumerate(((120, "ml"), (250, "data"), (400, "bi"), (180, "data"))):
            name = f"job {w}.{k}"
            tags = {"team": team, "project": f"p{w}{k}"}
            out.append(Resource(ws, "job", f"{w}0{k}", name, "JOBS", cost, cost / 2, tags))
        tags = {"team": "bi"} if w == 1 else {}
        out.append(Resource(ws, "warehouse", f"wh-{w}", "", "SQL", 300, 60, tags, f"analyst{w}@example.com"))
        out.append(Resource(ws, "notebook", f"nb-{w}", f"/Users/dev{w}/scratch", "INTERACTIVE", 60, 6, {}, "dev"))
    return out


def injections(pool: list[Resource]) -> list[Injection]:
    jobs = [r for r in pool if r.kind == "job"]
    warehouses = [r for r in pool if r.kind == "warehouse"]
    out = []
    for n in range(3 * len(KINDS)):
        kind, ws = KINDS[n % len(KINDS)], n // len(KINDS)
        day = START + timedelta(days=INJECTED_FROM + INJECTED_EVERY * n)
        if kind == "spike":
            job = jobs[4 * ws + (n % 3)]
            out.append(Injection(kind, day, job, job.tags))
        elif kind == "new_job":
            new = Resource(WORKSPACES[ws], "job", f"new-{n}", f"backfill {n}", "JOBS", 1500, 1500, {"team": "ml"})
            out.append(Injection(kind, day, new, new.tags))
        elif kind == "runaway_warehouse":
            out.append(Injection(kind, day, warehouses[ws], warehouses[ws].tags))
        else:
            job = jobs[4 * ws + 1]  # team=data, 250 a weekday: its project tag is its own
            out.append(Injection(kind, day, job, {"project": job.tags["project"]}))
    return out


def _record(record_id: str, r: Resource, day: date, cost: float, tags: dict[str, str], hour: int = 10) -> dict:
    start = datetime(day.year, day.month, day.day, hour)
    metadata = {
        "job": {"job_id": r.id, "job_name": r.name},
        "warehouse": {"warehouse_id": r.id},
        "notebook": {"notebook_id": r.id, "notebook_path": r.name},
    }[r.kind]
    identity = {"owned_by": r.identity} if r.kind == "warehouse" else {"run_as": r.identity}
    return {
        "record_id": record_id,
        "account_id": "bench-account",
        "workspace_id": r.workspace,
        "sku_name": SKUS[r.product],
        "cloud": "AWS",
        "usage_start_time": start,
        "usage_end_time": start + timedelta(hours=1),
        "usage_date": day,
        "custom_tags": tags,
        "usage_unit": "DBU",
        "usage_quantity": Decimal(str(round(cost, 2))),
        "usage_metadata": metadata,
        "identity_metadata": identity,
        "record_type": "ORIGINAL",
        "ingestion_date": day + timedelta(days=1),
        "billing_origin_product": r.product,
        "product_features": {"is_serverless": True, "is_photon": False},
        "usage_type": "COMPUTE_TIME",
    }


def _corrected(original: dict, record_type: str, suffix: str, **changes: Any) -> dict:
    row = {**original, "record_id": original["record_id"] + suffix, "record_type": record_type}
    row["ingestion_date"] = CORRECTIONS_INGESTED
    if record_type == "RETRACTION":
        row["usage_quantity"] = -row["usage_quantity"]
    return {**row, **changes}


def daily_cost(seed: int, r: Resource, day: date) -> float:
    """The resource's cost on a day: its weekday or weekend level times log-normal noise (mean 1)."""
    noise = random.Random(f"{seed}:{r.id}:{day}").gauss(0, NOISE)
    return (r.weekday if day.weekday() < 5 else r.weekend) * math.exp(noise - NOISE**2 / 2)


def usage(seed: int) -> tuple[list[dict], list[dict], list[Injection], list[tuple[str, date, Resource]]]:
    """(originals as first delivered, the corrections delivered later, the injections, the corrected days)."""
    pool = resources()
    injected = injections(pool)
    by_day = {(i.day, i.resource.id): i for i in injected}
    corrected = {START + timedelta(days=offset): what for what, offset in CORRECTED}
    originals, corrections, fixed = [], [], []
    for offset in range(DAYS):
        day = START + timedelta(days=offset)
        for r in pool:
            cost = daily_cost(seed, r, day)
            tags, inj = r.tags, by_day.get((day, r.id))
            cost *= {"spike": 4, "runaway_warehouse": 5}.get(inj.kind if inj else "", 1)
            tags = {} if inj and inj.kind == "tag_lost" else tags
            record = _record(f"{r.id}-{day}", r, day, cost, tags)
            if r.id == CORRECTED_JOB and corrected.get(day - timedelta(days=1)) == "moved_day":
                continue  # delivered the day before
            what = corrected.get(day) if r.id == CORRECTED_JOB else None
            if what == "moved_tag":  # delivered with the wrong tag, restated with the right one
                record["custom_tags"] = {"team": "unassigned"}
                corrections.append(_corrected(record, "RETRACTION", "-r"))
                corrections.append(_corrected(record, "RESTATEMENT", "-s", custom_tags=r.tags))
                fixed.append((what, day, r))
            if what == "moved_day":  # tomorrow's usage delivered dated today, restated to tomorrow
                tomorrow = day + timedelta(days=1)
                early = _record(f"{r.id}-{tomorrow}", r, day, daily_cost(seed, r, tomorrow), tags, hour=11)
                originals.append(early)
                begins = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 11)
                moved = {"usage_date": tomorrow, "usage_start_time": begins, "usage_end_time": begins + HOUR}
                corrections.append(_corrected(early, "RETRACTION", "-r"))
                corrections.append(_corrected(early, "RESTATEMENT", "-s", **moved))
                fixed.append((what, day, r))
            originals.append(record)
        for inj in injected:
            if inj.day == day and inj.kind == "new_job":
                originals.append(_record(f"{inj.resource.id}-{day}", inj.resource, day, 1500, inj.resource.tags))
    return originals, corrections, injected, fixed


def write_export(spark: SparkSession, folder: Path, records: list[dict]) -> None:
    schema = spark.createDataFrame([], SYSTEM_USAGE_DDL).schema
    rows = [tuple(r.get(name) for name in schema.fieldNames()) for r in records]
    spark.createDataFrame(rows, schema).coalesce(1).write.mode("overwrite").parquet(str(folder))


def write_prices(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["price_start_time,price_end_time,account_id,sku_name,cloud,currency_code,usage_unit,pricing"]
    pricing = '"{""default"":""1.0"",""effective_list"":{""default"":""1.0""}}"'
    lines += [f"2023-01-01T00:00:00Z,,bench-account,{sku},AWS,USD,DBU,{pricing}" for sku in SKUS.values()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_config(work: Path) -> Path:
    config = {
        "version": 1,
        "warehouse": str(work / "warehouse"),
        "storage": "delta-rs",
        "currency": "USD",
        "skus": str(REPO / "conf" / "skus.yml"),
        "sources": {
            "system_usage": {"path": str(work / "system_usage"), "format": "parquet"},
            "list_prices": {"path": str(work / "list_prices"), "format": "csv"},
        },
        "workspace_names": {ws: f"workspace {n}" for n, ws in enumerate(WORKSPACES, 1)},
    }
    path = work / "pipeline.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def scopes_of(r: Resource, tags: dict[str, str]) -> set[tuple[str, str]]:
    return {("account", "account"), ("workspace", r.workspace), ("sku_group", r.product)} | {
        ("tag", f"{key}={value}") for key, value in tags.items()
    }


def matches(alarm: Any, inj: Injection) -> bool:
    """Whether an alarm is on the injection's day in a scope the injection shows in."""
    if alarm.usage_date != inj.day:
        return False
    scopes = {("tag", f"{k}={v}") for k, v in inj.tags.items()} if inj.kind == "tag_lost" else set()
    return (alarm.scope_type, alarm.scope_id) in (scopes or scopes_of(inj.resource, inj.tags))


def score(alarms: list[Any], injected: list[Injection]) -> dict[str, Any]:
    """Precision over all alarms, recall and first-contributor accuracy per kind."""
    true = [a for a in alarms if any(matches(a, inj) for inj in injected)]
    for alarm in alarms:
        if not any(matches(alarm, inj) for inj in injected):
            first = alarm.top_contributors[0].id if alarm.top_contributors else None
            where = f"{alarm.usage_date} {alarm.scope_type} {alarm.scope_id}"
            print(f"false alarm: {where} {alarm.deviation_percent}% first contributor {first}", file=sys.stderr)
    recall, named = {}, {}
    for kind in KINDS:
        of_kind = [inj for inj in injected if inj.kind == kind]
        found = [[a for a in alarms if matches(a, inj)] for inj in of_kind]
        recall[kind] = sum(1 for hits in found if hits) / len(of_kind)
        preferred = ("tag",) if kind == "tag_lost" else ("workspace", "account")
        firsts = []
        for inj, hits in zip(of_kind, found, strict=True):
            main = next((a for scope in preferred for a in hits if a.scope_type == scope), None)
            if main is not None:
                firsts.append(bool(main.top_contributors) and main.top_contributors[0].id == inj.resource.id)
        named[kind] = sum(firsts) / len(firsts) if firsts else None
    return {
        "alarms": len(alarms),
        "true_alarms": len(true),
        "precision": round(len(true) / len(alarms), 3) if alarms else None,
        "recall": recall,
        "recall_overall": sum(1 for inj in injected if any(matches(a, inj) for a in alarms)) / len(injected),
        "top_contributor_is_injected": named,
    }


def on_corrected_days(alarms: list[Any], fixed: list[tuple[str, date, Resource]]) -> int:
    """Alarms on a corrected day (or the day after, for a moved day) in a scope of the corrected resource."""
    hit = set()
    for what, day, r in fixed:
        days = {day, day + timedelta(days=1)} if what == "moved_day" else {day}
        scopes = scopes_of(r, {**r.tags, "team": "unassigned"} if what == "moved_tag" else r.tags)
        hit |= {a.anomaly_id for a in alarms if a.usage_date in days and (a.scope_type, a.scope_id) in scopes}
    return len(hit)


def run(work: Path, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    originals, corrections, injected, fixed = usage(seed)
    spark = build_spark("anomaly-benchmark", {"spark.sql.shuffle.partitions": "4"})
    write_export(spark, work / "system_usage" / "originals", originals)
    write_prices(work / "list_prices" / "prices.csv")
    config = load_config(write_config(work))
    run_pipeline(spark, config)
    store = open_store(spark, config)
    before = store.read(COST_ANOMALIES).collect()
    first_run = time.perf_counter() - started
    write_export(spark, work / "system_usage" / "corrections", corrections)
    run_pipeline(spark, config)
    after = store.read(COST_ANOMALIES).collect()
    commit = store.last_commit(COST_ANOMALIES)
    changed = commit.metadata.get("changed") if commit else None
    return {
        "days": DAYS,
        "records": len(originals) + len(corrections),
        "injected": {kind: sum(1 for i in injected if i.kind == kind) for kind in KINDS},
        "corrections": len(fixed),
        **score(after, injected),
        "alarms_on_corrected_days_before_corrections_arrived": on_corrected_days(before, fixed),
        "false_alarms_caused_by_corrections": on_corrected_days(after, fixed),
        "days_recomputed_for_corrections": len(changed.get("usage_dates", [])) if changed else None,
        "settings": {"threshold_percent": "50", "min_change": "50", "history_days": 28},
        "seconds": {"first_run": round(first_run, 1), "total": round(time.perf_counter() - started, 1)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=REPO / "bench-data" / "anomalies")
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.work.resolve(), args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
