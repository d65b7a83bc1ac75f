"""Deterministic synthetic system.billing.usage exports (Parquet, one folder per ingestion date), built with Spark.

Usage: python -m benchmarks.system_usage --out DIR --rows N [--start-day 2024-03-01] [--days 92]
       [--workspaces 4] [--corrections 0.01] [--seed 7]

Every record is a pure function of (seed, usage date, index within the day, record kind), computed with
hash-based column expressions over `spark.range`, so any record can be rebuilt exactly later (late corrections).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import csv
import functools
import hashlib
import itertools
import json
import random
import re
import sys
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from benchmarks import generate as gen
from pipelines.config import Workspace
from pipelines.tables import PRODUCT_FEATURES

SYSTEM_START = date(2024, 3, 1)
SYSTEM_DAYS = 92
EPOCH = date(1970, 1, 1)
PRICE_START = "2023-01-01"
LATE_OFFSETS = (1, 2, 3, 7, 40)  # days before the new ingestion day whose originals get late corrections
LATE_HOUR = 18  # originals from this hour on are ingested the next day
RECORD_TYPES = ("ORIGINAL", "RETRACTION", "RESTATEMENT")
SERVICE_PRINCIPAL = "5b0e7c2a-9d41-4f6e-8a3b-c1d2e3f4a5b6"
USAGE_METADATA = (
    "struct<cluster_id:string, warehouse_id:string, instance_pool_id:string, node_type:string, job_id:string,"
    " job_run_id:string, job_name:string, notebook_id:string, notebook_path:string, dlt_pipeline_id:string,"
    " dlt_update_id:string, dlt_maintenance_id:string, endpoint_name:string, endpoint_id:string, run_name:string,"
    " app_id:string, app_name:string, budget_policy_id:string, source_region:string, destination_region:string>"
)
MD_FIELDS = tuple(re.findall(r"(\w+):string", USAGE_METADATA))
IDENTITY_METADATA = "struct<run_as:string, owned_by:string, created_by:string>"
SYSTEM_USAGE_DDL = (
    "record_id string, account_id string, workspace_id string, sku_name string, cloud string,"
    " usage_start_time timestamp, usage_end_time timestamp, usage_date date, custom_tags map<string,string>,"
    f" usage_unit string, usage_quantity decimal(38,18), usage_metadata {USAGE_METADATA},"
    f" identity_metadata {IDENTITY_METADATA}, record_type string, ingestion_date date,"
    f" billing_origin_product string, product_features {PRODUCT_FEATURES}, usage_type string"
)
# One workload resource (job, cluster, notebook, ...) with everything its records share.
_RESOURCE = (
    "struct<workspace_id:string, sku_name:string, alt_sku:string, usage_unit:string, usage_type:string,"
    " billing_origin_product:string, custom_tags:map<string,string>, alt_tags:map<string,string>, q_min:bigint,"
    f" q_spans:array<bigint>, usage_metadata:{USAGE_METADATA}, identity_metadata:{IDENTITY_METADATA},"
    f" product_features:{PRODUCT_FEATURES}>"
)
# weight: records per 100 in a non-STANDARD workspace; size: resources per workspace; serverless: not on STANDARD
_Cat = collections.namedtuple("_Cat", "key sku unit product weight size serverless")
_CATS = (
    _Cat("jobs", "{t}_JOBS_COMPUTE", "DBU", "JOBS", 24, 18, False),
    _Cat("all_purpose", "{t}_ALL_PURPOSE_COMPUTE", "DBU", "ALL_PURPOSE", 18, 20, False),
    _Cat("jobs_serverless", "{t}_JOBS_SERVERLESS_COMPUTE_{r}", "DBU", "JOBS", 14, 12, True),
    _Cat("notebooks", "{t}_INTERACTIVE_SERVERLESS_COMPUTE_{r}", "DBU", "INTERACTIVE", 12, 30, True),
    _Cat("sql", "{t}_SERVERLESS_SQL_COMPUTE_{r}", "DBU", "SQL", 12, 8, True),
    _Cat("dlt", "{t}_DLT_CORE_COMPUTE", "DBU", "DLT", 8, 5, False),
    _Cat("serving", "{t}_SERVERLESS_REAL_TIME_INFERENCE_{r}", "DBU", "MODEL_SERVING", 4, 5, True),
    _Cat("storage", "{t}_DEFAULT_STORAGE_{r}", "DSU", "DEFAULT_STORAGE", 4, 1, True),
    _Cat("egress", "{t}_PUBLIC_NETWORKING_EGRESS_{r}", "GB", "NETWORKING", 4, 3, True),
)
# unit -> usage_type, minimum micro-units, widest span (narrower spans /10, /100, /1000 skew towards small values)
_UNITS = {"DBU": ("COMPUTE_TIME", 1, 50_000_000), "DSU": ("STORAGE_SPACE", 10_000, 500_000_000)}
_UNITS["GB"] = ("NETWORK_BYTES", 1_000, 200_000_000)
_PRICES = {"DBU": (70_000, 881), "DSU": (20_000, 51), "GB": (50_000, 91)}  # lowest micro-price, 0.001 steps
_TAGS: tuple[dict[str, str], ...] = (
    {},
    {"team": "ml"},
    {"team": "data-eng", "cost_center": "CC-2"},
    {"project": "湖仓"},
    {"team": "bi", "owner": 'José "JJ" Núñez'},
    {"cost_center": "CC-1, shared", "env": "prod"},
)
_JOB_STEMS = ("orders-nightly", "ETL: 客户 sync", "billing rollup", "feature refresh", "Café BI extract", "ml-train")
_NOTEBOOKS = ("Exploración diaria", "churn model", "数据探索", "revenue check", "Müller scratch", "features v2")
_ENDPOINTS = ("churn-scorer", "recsys", "fraud-detect", "llm-router", "embeddings")


def _enabled(ws: Workspace) -> list[Any]:
    return [c for c in _CATS if ws.tier != "STANDARD" or not c.serverless]


def _workspace_resources(ws: Workspace) -> list[dict[str, Any]]:
    """Stable (seed-independent) resources of one workspace, in `_enabled` order, as `_RESOURCE` JSON objects."""
    rng = random.Random(f"system-pool:{ws.workspace_id}")
    t, r = ws.tier, gen.REGION_SUFFIX[ws.region]

    def uid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    people = [f"{u}@example.com" for u in gen._USERS]
    runners, policies = [*people, SERVICE_PRINCIPAL], [None] + [uid() for _ in _TAGS[1:]]
    clusters = [
        (f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}-{rng.randrange(10**6):06d}-{rng.choice(gen._WORDS)}", node)
        for node, _ in (rng.choice(gen._NODE_TYPES) for _ in range(20))
    ]
    cats, out = _enabled(ws), []
    dbu = [c.sku.format(t=t, r=r) for c in cats if c.unit == "DBU"]
    for c in cats:
        sku, (usage_type, q_min, span) = c.sku.format(t=t, r=r), _UNITS[c.unit]
        alt = dbu[(dbu.index(sku) + 1) % len(dbu)] if c.unit == "DBU" else None  # for SKU-changing restatements
        base = {"workspace_id": ws.workspace_id, "sku_name": sku, "alt_sku": alt, "usage_unit": c.unit}
        base |= {"usage_type": usage_type, "billing_origin_product": c.product, "q_min": q_min}
        for k in range(c.size):
            tag = rng.randrange(len(_TAGS)) if c.unit == "DBU" else 0  # storage and egress carry no tags
            md: dict[str, str | None] = {}
            ident: dict[str, str] = {}
            feat: dict[str, Any] = {"is_serverless": c.serverless, "is_photon": False} if c.unit == "DBU" else {}
            if c.key in ("jobs", "jobs_serverless"):
                md["job_id"] = str(rng.randrange(10**14, 10**15))
                md["job_name"] = f"{_JOB_STEMS[k % 6]} #{k + 20 * c.serverless}"
                ident["run_as"] = rng.choice(runners)
            if c.key == "jobs":
                md["cluster_id"], md["node_type"], feat["jobs_tier"] = (*rng.choice(clusters), "CLASSIC")
            elif c.key == "all_purpose":
                md["cluster_id"], md["node_type"] = clusters[k]
            elif c.key == "jobs_serverless":
                md["budget_policy_id"] = policies[tag]
                feat["performance_target"] = rng.choice(("PERFORMANCE_OPTIMIZED", "STANDARD"))
            elif c.key == "notebooks":
                ident["run_as"] = owner = rng.choice(people)
                md |= {"notebook_id": str(rng.randrange(10**15, 10**16)), "budget_policy_id": policies[tag]}
                md["notebook_path"] = f"/Users/{owner}/{_NOTEBOOKS[k % 6]} {k}"
            elif c.key == "sql":
                md["warehouse_id"], ident["owned_by"] = f"{rng.getrandbits(64):016x}", rng.choice(people)
                feat |= {"is_photon": True, "sql_tier": "PRO"}
            elif c.key == "dlt":
                md["dlt_pipeline_id"], ident["run_as"], feat["dlt_tier"] = uid(), rng.choice(runners), "CORE"
            elif c.key == "serving":
                md |= {"endpoint_id": f"{rng.getrandbits(128):032x}", "endpoint_name": _ENDPOINTS[k]}
                feat["serving_type"] = "MODEL"
            elif c.key == "egress":
                md["source_region"] = ws.region
                md["destination_region"] = [x for x in gen.REGION_SUFFIX if x != ws.region][k]
            tags = _TAGS[tag]
            first = next(iter(tags), None)
            fixed = {**tags, first: f"{tags[first]}-corrected"} if first else {"team": "unassigned"}
            out.append({**base, "custom_tags": tags, "alt_tags": fixed, "q_spans": [span // 10**b for b in range(4)]})
            out[-1] |= {"usage_metadata": md, "identity_metadata": ident, "product_features": feat}
    return out


@functools.cache
def _tables(workspaces: int) -> tuple[str, str, str, list[dict[str, Any]]]:
    """JSON text of the resource array and of the per-(workspace, 1% slot) base index and size arrays."""
    if not 1 <= workspaces <= len(gen.WORKSPACES):
        raise ValueError(f"need 1 <= workspaces <= {len(gen.WORKSPACES)}")
    resources: list[dict[str, Any]] = []
    bases: list[int] = []
    sizes: list[int] = []
    for ws in gen.WORKSPACES[:workspaces]:
        cats, start = _enabled(ws), len(resources)
        cum = list(itertools.accumulate(c.weight for c in cats))
        for s in range(100):  # slot s of 100 -> category, by weight
            i = next(i for i, w in enumerate(cum) if s < w * 100 // cum[-1])
            bases.append(start + sum(c.size for c in cats[:i]))
            sizes.append(cats[i].size)
        resources += _workspace_resources(ws)
    return json.dumps(resources, ensure_ascii=False), json.dumps(bases), json.dumps(sizes), resources


def _day_num(d: date) -> int:
    return (d - EPOCH).days


def _control(df: DataFrame, seed: int, share: float) -> DataFrame:
    """Per-original control columns: ingestion lag, corrected or not, correction variant and lag."""
    hc = F.xxhash64(F.lit("ctl"), F.lit(seed), "date_num", "j")
    return df.withColumn("hc", hc).select(
        "date_num",
        "j",
        F.when(F.col("j") % 24 >= LATE_HOUR, 1).otherwise(0).alias("lag0"),
        (F.pmod("hc", F.lit(1_000_000)) < round(share * 1_000_000)).alias("picked"),
        F.pmod(F.shiftright("hc", 20), F.lit(10)).cast("int").alias("variant"),  # 0-5 qty, 6-7 tag, 8 sku, 9 lone
        (1 + F.pmod(F.shiftright("hc", 40), F.lit(45))).cast("int").alias("corr_lag"),
    )


def _keys(spark: SparkSession, rows: int, start_day: date, days: int, share: float, seed: int) -> DataFrame:
    """Narrow frame (date_num, j, kind, ing_num, variant) of all originals and their corrections."""
    if rows < 0 or days < 1 or not 0 <= share <= 1:
        raise ValueError("need rows >= 0, days >= 1 and 0 <= correction share <= 1")
    day = (F.lit(_day_num(start_day)) + F.col("id") % days).cast("int")
    base = _control(spark.range(rows).select(day.alias("date_num"), F.expr(f"id div {days}").alias("j")), seed, share)
    ing = F.col("date_num") + F.col("lag0")
    orig = base.select("date_num", "j", F.lit(0).alias("kind"), ing.alias("ing_num"), "variant")
    corr = base.filter("picked").select("date_num", "j", (ing + F.col("corr_lag")).alias("ing_num"), "variant")
    retract = corr.select("date_num", "j", F.lit(1).alias("kind"), "ing_num", "variant")
    restate = corr.filter("variant != 9").select("date_num", "j", F.lit(2).alias("kind"), "ing_num", "variant")
    return orig.unionByName(retract).unionByName(restate)


def _uuid(a: Column, b: Column) -> Column:
    """Version-4-looking UUID text from two 64-bit hashes (122 of their bits)."""

    def part(h: Column, shift: int, bits: int) -> Column:
        return F.lpad(F.hex(F.shiftright(h, shift).bitwiseAND((1 << bits) - 1)), bits // 4, "0")

    pieces = [part(a, 32, 32), F.lit("-"), part(a, 16, 16), F.lit("-4"), part(a, 0, 12), F.lit("-")]
    return F.lower(F.concat(*pieces, part(b, 48, 16), F.lit("-"), part(b, 0, 48)))


def _expand(keys: DataFrame, workspaces: int, seed: int, *extra: str) -> DataFrame:
    """The export columns (plus `extra` pass-through columns) for a narrow key frame."""
    texts = zip(_tables(workspaces)[:3], (_RESOURCE, "int", "int"), strict=True)
    res, bases, sizes = (F.from_json(F.lit(text), f"array<{ddl}>") for text, ddl in texts)  # folded to literals
    key = [F.lit(seed), F.col("date_num"), F.col("j")]
    rid = [F.xxhash64(F.lit(s), *key, F.col("kind"), F.col("ing_num")).alias(s) for s in ("rid1", "rid2")]
    hw, hq = F.xxhash64(F.lit("pick"), *key), F.xxhash64(F.lit("qty"), *key).alias("hq")
    slot = (F.pmod(hw, F.lit(workspaces)) * 100 + F.pmod(F.shiftright(hw, 16), F.lit(100)) + 1).cast("int")
    s1 = keys.select(*keys.columns, hw.alias("hw"), hq, *rid, slot.alias("slot"))
    member = F.pmod(F.shiftright("hw", 32), F.element_at(sizes, F.col("slot")))
    g = (F.element_at(bases, F.col("slot")) + member).cast("int")
    s2 = s1.select("*", F.element_at(res, g + 1).alias("r"), g.alias("g"))
    r, kind, variant = F.col("r"), F.col("kind"), F.col("variant")
    run = [F.xxhash64(F.lit(s), F.lit(seed), F.col("g"), F.col("date_num")) for s in ("run1", "run2")]  # 1 per day
    run_id = (F.pmod(run[0], F.lit(9 * 10**14)) + 10**14).cast("string")
    md = r.usage_metadata.withField("job_run_id", F.when(r.usage_metadata.job_id.isNotNull(), run_id))
    md = md.withField("dlt_update_id", F.when(r.usage_metadata.dlt_pipeline_id.isNotNull(), _uuid(*run)))
    q = r.q_min + F.pmod(F.shiftright("hq", 2), F.element_at(r.q_spans, (F.pmod("hq", F.lit(4)) + 1).cast("int")))
    pct = 40 + F.pmod(F.shiftright(F.xxhash64(F.lit("restate"), *key), 8), F.lit(121))  # 40..160 %
    s3 = s2.select("*", q.alias("q"), pct.alias("pct"), md.alias("md"))
    changed, q = F.expr("(q * pct) div 100"), F.col("q")
    sku_fix = (kind == 2) & (variant == 8) & r.alt_sku.isNotNull()
    qty_fix = (kind == 2) & ((variant < 6) | ((variant == 8) & r.alt_sku.isNull()))
    restated = F.when((changed == q) | (changed <= 0), q + 1).otherwise(changed)
    micro = F.when(kind == 1, -q).when(qty_fix, restated).otherwise(q)  # exact: integer micro-units
    start = F.timestamp_seconds(F.col("date_num").cast("long") * 86400 + (F.col("j") % 24) * 3600)
    return s3.select(
        _uuid(F.col("rid1"), F.col("rid2")).alias("record_id"),
        F.lit(gen.ACCOUNT_ID).alias("account_id"),
        r.workspace_id.alias("workspace_id"),
        F.when(sku_fix, r.alt_sku).otherwise(r.sku_name).alias("sku_name"),
        F.lit("AWS").alias("cloud"),
        start.alias("usage_start_time"),
        (start + F.expr("INTERVAL 1 HOUR")).alias("usage_end_time"),
        F.date_from_unix_date("date_num").alias("usage_date"),
        F.when((kind == 2) & variant.isin(6, 7), r.alt_tags).otherwise(r.custom_tags).alias("custom_tags"),
        r.usage_unit.alias("usage_unit"),
        (micro.cast("decimal(20,0)") / F.lit(10**6).cast("decimal(7,0)"))
        .cast("decimal(38,18)")
        .alias("usage_quantity"),
        F.col("md").alias("usage_metadata"),
        r.identity_metadata.alias("identity_metadata"),
        F.element_at(F.array(*map(F.lit, RECORD_TYPES)), kind + 1).alias("record_type"),
        F.date_from_unix_date("ing_num").alias("ingestion_date"),
        r.billing_origin_product.alias("billing_origin_product"),
        r.product_features.alias("product_features"),
        r.usage_type.alias("usage_type"),
        *extra,
    )


def usage_records(
    spark: SparkSession,
    rows: int,
    start_day: date,
    days: int,
    workspaces: int = 4,
    correction_share: float = 0.01,
    seed: int = 7,
) -> DataFrame:
    """All records (`rows` originals spread evenly over `days` days and hours 0..23, plus corrections)."""
    return _expand(_keys(spark, rows, start_day, days, correction_share, seed), workspaces, seed)


def _summary(keys: DataFrame, path: Path) -> dict[str, Any]:
    names = ("originals", "retractions", "restatements")
    kind = F.col("kind")
    row = keys.agg(
        *(F.count(F.when(kind == i, 1)).alias(n) for i, n in enumerate(names)), F.min("date_num"), F.max("date_num")
    ).first()
    assert row is not None
    first, last = (None if x is None else str(EPOCH + timedelta(days=x)) for x in row[3:])
    counts = {n: row[n] for n in names}
    out = {"rows": sum(counts.values()), **counts, "first_usage_date": first, "last_usage_date": last}
    return out | {"files": sum(1 for _ in path.rglob("part-*.parquet")), "path": str(path)}


@contextlib.contextmanager
def _jit_friendly(spark: SparkSession) -> Iterator[None]:
    """Split generated methods the JVM would not JIT-compile (over 8000 bytes: 5x slower after a shuffle)."""
    key = "spark.sql.codegen.hugeMethodLimit"
    before = spark.conf.get(key)
    spark.conf.set(key, "8000")
    try:
        yield
    finally:
        spark.conf.set(key, before or "65535")


def write_exports(
    spark: SparkSession,
    out_dir: Path,
    rows: int,
    start_day: date,
    days: int,
    workspaces: int = 4,
    correction_share: float = 0.01,
    seed: int = 7,
) -> dict[str, Any]:
    """Write the records ingested by start_day + days - 1 to `out_dir/export_date=<ingestion date>/` (overwrites)."""
    end = _day_num(start_day) + days - 1
    keys = _keys(spark, rows, start_day, days, correction_share, seed).filter(F.col("ing_num") <= end)
    keys = keys.withColumn("export_date", F.date_from_unix_date("ing_num"))
    parts = int(spark.conf.get("spark.sql.shuffle.partitions") or 8)  # explicit: AQE must not coalesce to 1 task
    ordered = keys.repartition(parts, "export_date").sortWithinPartitions("export_date")  # narrow rows only
    writer = _expand(ordered, workspaces, seed, "export_date").write.mode("overwrite").partitionBy("export_date")
    with _jit_friendly(spark):
        writer.parquet(str(out_dir))
    return _summary(keys, Path(out_dir))


def write_new_day(
    spark: SparkSession,
    out_dir: Path,
    day: date,
    rows: int,
    start_day: date,
    days: int,
    workspaces: int = 4,
    late_share: float = 0.001,
    seed: int = 7,
    *,
    correction_share: float = 0.01,
    export_rows: int | None = None,
) -> dict[str, Any]:
    """Write ingestion day `day`: `rows` originals of that day plus late RETRACTION + RESTATEMENT pairs.

    The late pairs correct originals of the earlier export (made with `export_rows` originals, by default
    `rows * days`, and `correction_share`) from LATE_OFFSETS days before `day` that it did not correct itself.
    """
    start, end, now = _day_num(start_day), _day_num(start_day) + days - 1, _day_num(day)
    dates = [now - k for k in LATE_OFFSETS if start <= now - k <= end]
    if now <= end or not dates:
        raise ValueError("day must follow the exported period, with an exported day among LATE_OFFSETS before it")
    total = rows * days if export_rows is None else export_rows
    n_late, parts = max(1, round(rows * late_share)), []
    for i, x in enumerate(dates):
        per_day = max(0, -(-(total - (x - start)) // days))  # originals of day x in the export
        frame = spark.range(per_day).select(F.lit(x).cast("int").alias("date_num"), F.col("id").alias("j"))
        hl = F.xxhash64(F.lit("late"), F.lit(seed), "date_num", "j")
        slot = F.pmod(hl, F.lit(len(LATE_OFFSETS))) == LATE_OFFSETS.index(now - x)  # one late offset per original
        ok = ~F.col("picked") & (F.col("date_num") + F.col("lag0") <= end) & slot
        n = n_late // len(dates) + (1 if i < n_late % len(dates) else 0)
        parts.append(_control(frame, seed, correction_share).filter(ok).orderBy(hl).limit(n))
    late = functools.reduce(DataFrame.unionByName, parts)
    variant = F.when(F.col("variant") == 9, 0).otherwise(F.col("variant")).alias("variant")  # no lone retraction
    day_num, ing = F.lit(now).cast("int").alias("date_num"), F.lit(now).alias("ing_num")
    keys = spark.range(rows).select(
        day_num, F.col("id").alias("j"), F.lit(0).alias("kind"), ing, F.lit(0).alias("variant")
    )
    for kind in (1, 2):
        keys = keys.unionByName(late.select("date_num", "j", F.lit(kind).alias("kind"), ing, variant))
    target = Path(out_dir) / f"export_date={day.isoformat()}"
    with _jit_friendly(spark):
        _expand(keys, workspaces, seed).repartition(1).write.mode("overwrite").parquet(str(target))
    return {**_summary(keys, target), "late_usage_dates": [str(EPOCH + timedelta(days=x)) for x in dates]}


def system_skus(workspaces: int = 4) -> list[tuple[str, str]]:
    """Sorted (sku_name, usage_unit) pairs the generator produces for the first `workspaces` workspaces."""
    return sorted({(r["sku_name"], r["usage_unit"]) for r in _tables(workspaces)[3]})


def write_system_list_prices(path: Path, workspaces: int = 4, start_month: str = "2024-01") -> Path:
    """Write one open list-price window per generated SKU that `generate.priced_skus` does not price."""
    legacy = set(gen.priced_skus(gen.WORKSPACES[:workspaces]))
    begin = gen._ts(min(PRICE_START, f"{start_month}-01"))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_MINIMAL, doublequote=True, lineterminator="\n")
        writer.writerow(gen.LIST_PRICES_HEADER)
        for sku, unit in (s for s in system_skus(workspaces) if s[0] not in legacy):
            h = int.from_bytes(hashlib.sha256(sku.encode()).digest()[:8], "big")
            price = _PRICES[unit][0] + (h % _PRICES[unit][1]) * 1000
            effective = price * 9 // 10 if (h >> 20) % 3 == 0 else price  # ~1/3 get a 10% promotional price
            writer.writerow([begin, "", gen.ACCOUNT_ID, sku, "AWS", "USD", unit, gen._pricing(price, effective)])
    return path


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: write the exports and the price file, print a one-line JSON summary."""
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--rows", type=int, default=20000)
    p.add_argument("--start-day", type=date.fromisoformat, default=SYSTEM_START)
    p.add_argument("--days", type=int, default=SYSTEM_DAYS)
    p.add_argument("--workspaces", type=int, default=4)
    p.add_argument("--corrections", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--new-day", type=date.fromisoformat, help="write only this ingestion day (after the period)")
    p.add_argument("--export-rows", type=int, help="with --new-day: originals in the earlier export")
    a = p.parse_args(argv)
    from pipelines.spark import build_spark

    conf = {"spark.master": "local[2]", "spark.sql.session.timeZone": "UTC", "spark.ui.enabled": "false"}
    spark = build_spark("system-usage-generator", {**conf, "spark.sql.shuffle.partitions": "8"})
    if a.new_day is not None:
        day = write_new_day(
            spark,
            a.out / "system_usage",
            a.new_day,
            a.rows,
            a.start_day,
            a.days,
            a.workspaces,
            seed=a.seed,
            correction_share=a.corrections,
            export_rows=a.export_rows,
        )
        print(json.dumps(day, ensure_ascii=False))
        return 0
    args = (a.rows, a.start_day, a.days, a.workspaces, a.corrections, a.seed)
    usage = write_exports(spark, a.out / "system_usage", *args)
    prices = write_system_list_prices(a.out / "list_prices" / "system_skus.csv", a.workspaces)
    print(json.dumps({**usage, "list_prices": str(prices)}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
